"""One training step (forward, loss, backward, optimiser step) as one CUDA graph, or eager.

On CUDA a brief trial is bound by kernel launches and host work, not arithmetic (docs/speed.md):
replaying a captured step launches it as one unit. ``make_step`` returns the step the loop
calls; the schedule writes the learning rate into a device tensor (``set_lr``) that fused,
capturable AdamW reads inside the graph. Capture: three warm-up steps on a side stream (as
PyTorch's whole-network example), then the capture; the model and optimiser state are saved
before the warm-up and copied back in place after it, so training is the eager step's, step for
step. Anything that fails while capturing falls back to the eager step with a one-line warning;
it never fails the trial. The CPU keeps the eager step (graphs exist on CUDA only).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer

from cspsearch.training.precision import autocast

WARMUP_STEPS = 3  # eager steps on a side stream before the capture (lazy init, cuDNN choice)


def graph_reason(device: torch.device | str, enabled: bool) -> str | None:
    """Why the step is not captured on ``device`` (None: it is)."""
    if not enabled:
        return "off (--no-cuda-graphs)"
    if torch.device(device).type != "cuda":
        return "CUDA graphs exist on CUDA devices only"
    return None


def set_lr(optimizer: Optimizer, value: float) -> None:
    """The schedule's write: into the device tensor a captured step reads, else the float."""
    for group in optimizer.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(value)
        else:
            group["lr"] = value


class EagerStep:
    """forward → loss → backward → optimiser step, launched op by op."""

    graphed = False
    reason: str | None = None

    def __init__(
        self, model: nn.Module, loss: Callable[[Any, Any], torch.Tensor], optimizer: Optimizer,
        precision: str,
    ) -> None:  # fmt: skip
        self.model, self.loss, self.optimizer, self.precision = model, loss, optimizer, precision

    def __call__(self, x: torch.Tensor, target: Any) -> torch.Tensor:
        with autocast(x.device, self.precision):
            outputs = self.model(x)
        loss = self.loss(outputs, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()


class GraphedStep(EagerStep):
    """The step captured once (on the first full batch) and replayed for every batch of that
    shape. NOTE: the last, partial batch of an epoch runs eagerly rather than padded: padding
    would enter BatchNorm's batch statistics (a zero-weight mask keeps it out of the loss, not
    out of the mean and variance), so every image still trains exactly as in the eager step."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.shape: tuple | None = None

    def __call__(self, x: torch.Tensor, target: Any) -> torch.Tensor:
        if self.reason is not None:
            return super().__call__(x, target)
        if self.graph is None:
            saved = _state(self.model, self.optimizer)
            try:
                self._capture(x, target, saved)
            except Exception as exc:  # anything at all: the trial goes on, eagerly
                self._fall_back(exc, saved)
                return super().__call__(x, target)
        if _shape(x, target) != self.shape:  # the partial batch: eager, grads in place
            self.optimizer.zero_grad(set_to_none=False)
            with autocast(x.device, self.precision):
                outputs = self.model(x)
            loss = self.loss(outputs, target)
            loss.backward()
            self.optimizer.step()
            return loss.detach()
        self.static_x.copy_(x)
        self.static_target.copy_(target)
        self.graph.replay()
        return self.static_loss.detach().clone()

    def _capture(self, x: torch.Tensor, target: Any, saved: list) -> None:
        if not isinstance(target, torch.Tensor):
            raise TypeError(f"targets must be one tensor, not {type(target).__name__}")
        self.static_x, self.static_target = x.clone(), target.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):
                self._record()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)  # grads are allocated inside the graph
        with torch.cuda.graph(graph):
            self.static_loss = self._record()
        _restore(saved, self.model, self.optimizer)  # undo the warm-up: train as eager would
        self.graph, self.shape, self.graphed = graph, _shape(x, target), True

    def _record(self) -> torch.Tensor:
        # NOTE: autocast's weight cache must be off inside a capture (PyTorch's rule).
        with autocast(self.static_x.device, self.precision, cache=False):
            outputs = self.model(self.static_x)
        loss = self.loss(outputs, self.static_target)
        loss.backward()
        self.optimizer.step()
        return loss

    def _fall_back(self, exc: BaseException, saved: list) -> None:
        first = str(exc).splitlines()[0] if str(exc) else "no message"
        self.reason = f"capture failed: {type(exc).__name__}: {first}"
        _restore(saved, self.model, self.optimizer)  # the warm-up may have run: undo it
        self.optimizer.zero_grad(set_to_none=True)
        warnings.warn(f"CUDA graphs off for this trial, eager steps instead ({self.reason})",
                      RuntimeWarning, stacklevel=2)  # fmt: skip
        self.graph, self.graphed = None, False


def _shape(x: torch.Tensor, target: Any) -> tuple:
    return (tuple(x.shape), tuple(target.shape) if isinstance(target, torch.Tensor) else None)


def _state(model: nn.Module, optimizer: Optimizer) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(tensor, copy) of every parameter, buffer and optimiser-state tensor."""
    tensors = [*model.parameters(), *model.buffers()]
    for state in optimizer.state.values():
        tensors.extend(v for v in state.values() if isinstance(v, torch.Tensor))
    for group in optimizer.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            tensors.append(group["lr"])
    return [(t, t.detach().clone()) for t in tensors]


def _restore(saved: list, model: nn.Module, optimizer: Optimizer) -> None:
    """Copy the saved values back in place (the graph holds these very tensors); optimiser
    state that the warm-up created is reset to zero, as a fresh optimiser's."""
    known = {id(t) for t, _ in saved}
    with torch.no_grad():
        for tensor, copy in saved:
            tensor.copy_(copy)
        for state in optimizer.state.values():
            for v in state.values():
                if isinstance(v, torch.Tensor) and id(v) not in known:
                    v.zero_()


def make_step(
    model: nn.Module, loss: Callable[[Any, Any], torch.Tensor], optimizer: Optimizer,
    precision: str, device: torch.device, graphs: bool,
) -> EagerStep:  # fmt: skip
    """The step ``fit`` calls: captured on CUDA when ``graphs``, else eager."""
    if graph_reason(device, graphs) is None:
        return GraphedStep(model, loss, optimizer, precision)
    step = EagerStep(model, loss, optimizer, precision)
    step.reason = graph_reason(device, graphs)
    return step


def graph_attrs(results: list[Any], device: str) -> dict[str, Any]:
    """A trial's record: ``cuda_graphs`` (every seed's steps ran graphed) and, on CUDA when
    they did not, ``cuda_graphs_reason``."""
    graphed = bool(results) and all(r.graphed for r in results)
    out: dict[str, Any] = {"cuda_graphs": graphed}
    if not graphed and torch.device(device).type == "cuda":
        out["cuda_graphs_reason"] = next((r.graph_reason for r in results if r.graph_reason), "")
    return out
