"""A network's structure as lines of text, to compare two implementations of one model (the
csp_yolo presets against ultralytics: test_yolo_structure.py, make_yolo_reference.py). Torch
only, so that the reference script can use it in the reference venv.

One forward pass runs under a TorchFunctionMode that sees every torch function and tensor
method called. The operations that decide the structure become one line each, in the order
they run; fvcore's MAC count and the parameter count see only the convolutions and linears,
these lines see the rest too:

    conv 16>32 k3 s1 p1 g1 bn silu <- #4      a convolution (its BatchNorm and activation,
                                              when they follow it directly; ``-``: linear;
                                              ``bn(eps 0.001 momentum 0.03)``: not PyTorch's
                                              default eps 1e-5 and momentum 0.1)
    add #7 #9                                 an addition of two tensors: a shortcut (the two
                                              sources sorted: the order of a sum says nothing)
    cat #3[1:0-16] #3[1:16-32] #9             a concatenation, its inputs in order
    act silu <- #12 / bn <- #12               an activation or BatchNorm on anything else
    maxpool k5 s1 p2 <- #2, avgpool k2 s1 p0 <- x, gap <- #40, linear 1280>1000 bias <- #41,
    matmul #1[2:0-8] #1[2:8-16]

``x`` is the input, ``#i`` line i's output, ``[d:a-b]`` a slice a..b of dimension d of it (a
split, a chunk). Every other operation (view, transpose, flatten, softmax, dropout, a product
with a number, adding a number) passes its input's source through unchanged.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

ACTIVATIONS = {"relu", "leaky_relu", "silu", "mish", "gelu", "sigmoid", "hardswish", "tanh"}
ADDS = {"__add__", "__radd__", "__iadd__", "add", "add_"}
SLICES = {"split", "chunk", "split_with_sizes"}


class _Recorder(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[dict[str, Any]] = []
        self.refs: dict[int, str] = {}
        self.alive: list[torch.Tensor] = []  # keeps ids unique while the pass runs

    def ref(self, t: Any) -> str | None:
        return self.refs.get(id(t)) if isinstance(t, torch.Tensor) else None

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = getattr(func, "__name__", str(func))
        flat = [a for a in args if not isinstance(a, (list, tuple))]
        flat += [t for a in args if isinstance(a, (list, tuple)) for t in a]
        srcs = [r for r in (self.ref(a) for a in flat) if r is not None]
        if srcs:
            self._record(name, args, kwargs, srcs, out)
        return out

    def _record(self, name: str, args: tuple, kwargs: dict, srcs: list[str], out: Any) -> None:
        if name in SLICES:
            self._slices(args, kwargs, srcs[0], out)
            return
        node = self._node(name, args, kwargs, srcs)
        if node is None:  # passes its (first) input's source through
            self._mark(out, srcs[0])
            return
        if isinstance(node, str):  # merged into the conv that it follows
            self._mark(out, node)
            return
        self.nodes.append(node)
        self._mark(out, f"#{len(self.nodes) - 1}")

    def _node(self, name: str, args: tuple, kwargs: dict, srcs: list[str]) -> dict | str | None:
        conv = self._conv(srcs[0])
        if name == "conv2d":
            w, bias, stride, pad, dil, groups = _conv_args(args)
            k = _pair(tuple(w.shape[2:]))
            text = f"conv {w.shape[1] * groups}>{w.shape[0]} k{k} s{stride} p{pad} g{groups}"
            text += "" if dil == 1 else f" d{dil}"
            return {"text": text + (" bias" if bias is not None else ""), "src": srcs}
        if name == "batch_norm":
            bn = _bn(_arg(args, kwargs, 7, "eps", 1e-5), _arg(args, kwargs, 6, "momentum", 0.1))
            if conv is not None and "bn" not in conv and "act" not in conv:
                conv["bn"] = bn
                return srcs[0]
            return {"text": bn, "src": srcs}
        if name in ACTIVATIONS:
            if conv is not None and "act" not in conv:
                conv["act"] = name
                return srcs[0]
            return {"text": f"act {name}", "src": srcs}
        if name in ADDS:
            return {"text": "add", "in": sorted(srcs)} if len(srcs) > 1 else None
        if name == "cat":
            return {"text": "cat", "in": srcs}
        if name in ("max_pool2d", "avg_pool2d"):
            k = _arg(args, kwargs, 1, "kernel_size", None)
            s = _arg(args, kwargs, 2, "stride", None) or k  # PyTorch: no stride, the kernel
            p = _arg(args, kwargs, 3, "padding", 0)
            k, s, p = (_pair(a) for a in (k, s, p))
            return {"text": f"{name[:3]}pool k{k} s{s} p{p}", "src": srcs}
        if name == "adaptive_avg_pool2d":
            return {"text": "gap", "src": srcs}
        if name == "linear":
            w, bias = args[1], args[2] if len(args) > 2 else None
            text = f"linear {w.shape[1]}>{w.shape[0]}" + (" bias" if bias is not None else "")
            return {"text": text, "src": srcs}
        return {"text": name.strip("_"), "in": srcs} if len(srcs) > 1 else None

    def _conv(self, src: str) -> dict | None:
        """The conv node ``src`` is the whole output of, if it is one."""
        if not src.startswith("#") or "[" in src:
            return None
        node = self.nodes[int(src[1:])]
        return node if node["text"].startswith("conv") else None

    def _slices(self, args: tuple, kwargs: dict, src: str, out: Any) -> None:
        x = args[0]
        dim = kwargs.get("dim", args[2] if len(args) > 2 else 0) % x.dim()
        start = 0
        for part in out:
            end = start + part.shape[dim]
            self._mark(part, f"{src}[{dim}:{start}-{end}]")
            start = end

    def _mark(self, out: Any, ref: str) -> None:
        for t in out if isinstance(out, (list, tuple)) else (out,):
            if isinstance(t, torch.Tensor):
                self.refs[id(t)] = ref
                self.alive.append(t)


def _conv_args(args: tuple) -> tuple:
    w = args[1]
    bias = args[2] if len(args) > 2 else None
    rest = [_pair(a) for a in (*args[3:], 1, 0, 1, 1)[:4]]  # stride, padding, dilation, groups
    return w, bias, rest[0], rest[1], rest[2], int(rest[3])


def _bn(eps: float, momentum: float) -> str:
    return "bn" if (eps, momentum) == (1e-5, 0.1) else f"bn(eps {eps:g} momentum {momentum:g})"


def _arg(args: tuple, kwargs: dict, i: int, name: str, default: Any) -> Any:
    return args[i] if len(args) > i else kwargs.get(name, default)


def _pair(v: Any) -> Any:
    """2 for (2, 2); the tuple as ``2x3`` when the two differ."""
    if isinstance(v, (list, tuple)):
        return v[0] if len(set(v)) == 1 else "x".join(str(i) for i in v)
    return v


def signature(model: nn.Module, in_chans: int = 3, size: int = 64) -> list[str]:
    """The structure lines of ``model`` (eval mode, one 1 × in_chans × size × size input)."""
    model.eval()
    x = torch.zeros(1, in_chans, size, size)
    rec = _Recorder()
    rec.refs[id(x)] = "x"
    with torch.no_grad(), rec:
        model(x)
    lines = []
    for node in rec.nodes:
        text = node["text"]
        if text.startswith("conv"):
            text += (f" {node['bn']}" if "bn" in node else "") + f" {node.get('act', '-')}"
        if "src" in node:
            lines.append(f"{text} <- {node['src'][0]}")
        else:
            lines.append(" ".join([text, *node["in"]]))
    return lines


def reference() -> dict[str, Any]:
    """yolo_reference.json: ultralytics' structure lines (make_yolo_reference.py)."""
    return json.loads(Path(__file__).with_name("yolo_reference.json").read_text("utf-8"))


def assert_same_structure(ours: list[str], theirs: list[str]) -> None:
    """AssertionError showing where ``ours`` and ``theirs`` differ (a unified diff)."""
    if ours != theirs:
        diff = difflib.unified_diff(theirs, ours, "ultralytics", "cspsearch", n=1, lineterm="")
        raise AssertionError("structure differs:\n" + "\n".join(list(diff)[:60]))
