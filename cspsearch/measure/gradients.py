"""Gradient duplication inside each stage: the paper's own hypothesis (CSPNet §3.1), measured.

CSPNet argues that in a dense block every layer reads the same base feature map x0, so the
weight updates of the layers carry duplicated gradient information, and that the cross-stage
partial split cuts it. The figure, for one stage of a trained network on a few training
batches:

- the stage's *layers* are the blocks of its body (a dense layer; a residual block); a layer's
  *readers* are its convolutions (not grouped) whose input is the layer's own input tensor
  (DenseLayer: the 1×1 bottleneck; a PeleeNet two-way layer: both branches' 1×1; a residual
  block: its first 1×1), found by forward hooks, so no family needs code here;
- the *shared input* is the channels every layer reads: the first layer's input width, which
  is a prefix of every later dense layer's input (x0; part 2 only in a CSP stage). For the
  residual families every block reads the whole stage width, but each block reads a different
  tensor (x0 plus the residuals before it): there the shared base is the residual stream;
- per layer, G = ∂L/∂W over the shared input channels, as a matrix with one row per shared
  input channel and one column per (reader, output channel, kernel position), and its Gram
  matrix K = GGᵀ (shared × shared);
- the stage's figure is the debiased CKA of every pair of layers, HSIC₁(Kᵢ, Kⱼ) /
  √(HSIC₁(Kᵢ, Kᵢ) HSIC₁(Kⱼ, Kⱼ)) with Song et al.'s unbiased HSIC estimator, averaged over the
  pairs, then over the batches: 1 when the layers' gradients over the shared channels are the
  same up to a rotation of their output units, about 0 for unrelated gradients (it can dip
  slightly below 0).
NOTE: two simpler figures fail. The cosine of the raw gradients depends on the arbitrary order
of each layer's output units (independently initialised layers have no unit-to-unit
correspondence) and measured within ±0.1 of 0 for every architecture. The plain cosine of the
Gram matrices has a chance floor: two independent random 24 × 48 gradients score about 0.7,
and more for narrower shared inputs, so a CSP stage (a narrower part 2) would score higher
for its width alone; the unbiased estimator puts chance at 0 for any width.
The paper's own equations (CSPNet eq. 3-4) keep the dense layers' shared x0″ inside a CSP
stage; what the split removes is the bypass x0′'s share of it. So this figure measures how
much alike the updates of one stage's layers are, and whether CSP lowers it is an empirical
question, not a given.
A stage with fewer than two layers, or fewer than 4 shared channels (the estimator needs
4), has no figure (None). Gradients are of the task's own loss
(classification and detection alike), in the caller's precision; BatchNorm statistics are
restored afterwards, so the measurement leaves the model as it found it.
"""

from __future__ import annotations

import contextlib
import itertools
import statistics
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from cspsearch.models.csp_stage import CSPStage
from cspsearch.models.layers import ConvBnAct
from cspsearch.space.configs import TrainConfig

BATCHES = 4  # training batches a trial's figure averages over: cheap, and enough to be stable


def stage_layers(model: nn.Module) -> dict[str, list[nn.Module]]:
    """Every stage of ``model`` (the children of a module called ``stages``, by module name, as
    the MAC count names them) → its layers (the blocks of its body)."""
    out = {}
    for name, module in model.named_modules():
        if name.split(".")[-1] != "stages" or not isinstance(module, nn.Sequential):
            continue
        for i, stage in enumerate(module):
            out[f"{name}.{i}"] = list(_body(stage).children())
    return out


def _body(stage: nn.Module) -> nn.Module:
    if isinstance(stage, CSPStage):
        return stage.body
    # A plain residual stage (backbones.py): the down-convolution, then its blocks.
    last = stage[-1] if isinstance(stage, nn.Sequential) and len(stage) else None
    if isinstance(last, nn.Sequential) and not isinstance(last, ConvBnAct):
        return last
    return nn.Sequential()


def duplication_attrs(
    model: nn.Module,
    hooks: Any,
    cfg: TrainConfig,
    context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    batches: int = BATCHES,
) -> dict[str, Any]:
    """A trained trial's user attributes: ``gradient_duplication_stages`` (stage → figure, None
    where a stage has fewer than two layers) and ``gradient_duplication`` (their mean; absent
    when no stage has one). ``hooks``: the task's TaskHooks (cspsearch/training/loop.py); the
    batches are ``batches`` random training batches of ``cfg.batch_size``, seeded by ``cfg.seed``.
    """
    generator = torch.Generator().manual_seed(cfg.seed)
    device, n = hooks.train_x.device, len(hooks.train_x)

    def draw() -> Iterable[tuple[torch.Tensor, Any]]:
        for _ in range(batches):
            idx = torch.randperm(n, generator=generator)[: cfg.batch_size].to(device)
            yield hooks.batch(idx, generator)

    stages = gradient_duplication(model, draw(), hooks.loss, context)
    out: dict[str, Any] = {"gradient_duplication_stages": stages}
    values = [v for v in stages.values() if v is not None]
    if values:
        out["gradient_duplication"] = statistics.fmean(values)
    return out


def gradient_duplication(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, Any]],
    loss: Callable[[Any, Any], torch.Tensor],
    context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> dict[str, float | None]:
    """The figure of every stage of ``model`` (module docstring), averaged over ``batches``.

    ``loss``: (outputs, targets) → the mean loss; ``context``: a fresh context for each forward
    pass (the training precision's autocast). Stages with fewer than two layers give None.
    """
    every = stage_layers(model)
    stages = {name: layers for name, layers in every.items() if len(layers) > 1}
    figures: dict[str, list[float]] = {name: [] for name in stages}
    buffers = [b.detach().clone() for b in model.buffers()]
    was_training = model.training
    model.train()  # the gradients training sees: BatchNorm on batch statistics
    try:
        for x, target in batches:
            model.zero_grad(set_to_none=True)
            with _Readers(stages) as readers, context():
                outputs = model(x)
            loss(outputs, target).backward()
            for name in stages:
                convs, shared = readers.of(name)
                cosine = _mean_pair_cosine([_gram(c, shared) for c in convs])
                if cosine is not None:
                    figures[name].append(cosine)
    finally:
        model.zero_grad(set_to_none=True)
        with torch.no_grad():
            for saved, live in zip(buffers, model.buffers()):
                live.copy_(saved)
        model.train(was_training)
    return {name: statistics.fmean(figures[name]) if figures.get(name) else None for name in every}


class _Readers(contextlib.AbstractContextManager):
    """Forward hooks that record, during one forward pass, each layer's input tensor and the
    convolutions (not grouped) that read exactly that tensor."""

    def __init__(self, stages: dict[str, list[nn.Module]]) -> None:
        self.stages = stages
        self.inputs: dict[nn.Module, torch.Tensor] = {}
        self.seen: dict[nn.Module, torch.Tensor] = {}
        self.hooks: list[Any] = []

    def __enter__(self) -> _Readers:
        for layer in itertools.chain.from_iterable(self.stages.values()):
            self.hooks.append(layer.register_forward_pre_hook(self._record(self.inputs)))
            for conv in layer.modules():
                if isinstance(conv, nn.Conv2d) and conv.groups == 1:
                    self.hooks.append(conv.register_forward_pre_hook(self._record(self.seen)))
        return self

    def __exit__(self, *exc: object) -> None:
        for hook in self.hooks:
            hook.remove()

    @staticmethod
    def _record(into: dict[nn.Module, torch.Tensor]) -> Callable[..., None]:
        def record(module: nn.Module, args: tuple[Any, ...]) -> None:
            into.setdefault(module, args[0])

        return record

    def of(self, name: str) -> tuple[list[list[nn.Conv2d]], int]:
        """Per layer of stage ``name`` its reader convolutions; the shared input width."""
        layers = [layer for layer in self.stages[name] if layer in self.inputs]
        convs = [
            [c for c in layer.modules() if self.seen.get(c) is self.inputs[layer]]
            for layer in layers
        ]
        shared = min((self.inputs[layer].shape[1] for layer in layers), default=0)
        return convs, shared


def _gram(convs: list[nn.Conv2d], shared: int) -> torch.Tensor | None:
    """One layer's gradient Gram matrix over the shared input channels (None: no gradient)."""
    columns = [
        c.weight.grad[:, :shared].transpose(0, 1).reshape(shared, -1).float()
        for c in convs
        if c.weight.grad is not None
    ]
    if not columns:
        return None
    g = torch.cat(columns, dim=1)  # shared × (readers · outputs · kernel positions)
    return g @ g.T


def _hsic(k: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """The unbiased HSIC estimator (Song et al. 2012) of two n × n Gram matrices, n ≥ 4."""
    n = k.shape[0]
    k, m = k.clone().fill_diagonal_(0), m.clone().fill_diagonal_(0)
    total = (k * m).sum() + k.sum() * m.sum() / ((n - 1) * (n - 2))
    return (total - 2 / (n - 2) * (k.sum(0) @ m.sum(1))) / (n * (n - 3))


def _mean_pair_cosine(grams: list[torch.Tensor | None]) -> float | None:
    """Mean over pairs of layers of the debiased CKA of their Gram matrices (None: fewer than
    two layers with a gradient, or fewer than 4 shared channels)."""
    grams = [g.double() for g in grams if g is not None and g.shape[0] >= 4]
    cosines = []
    for a, b in itertools.combinations(grams, 2):
        scale = (_hsic(a, a) * _hsic(b, b)).sqrt()
        if scale > 0:
            cosines.append((_hsic(a, b) / scale).item())
    return statistics.fmean(cosines) if cosines else None
