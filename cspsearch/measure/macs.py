"""MACs and parameters of a model, counted with fvcore before any training.

Convention (docs/conventions.md#macs-and-flops): one fused multiply-add = 1 MAC, as fvcore
counts; FLOPs = 2 × MACs.
Policy: fvcore's default op table as it is — convolutions, linear/matmul, batch norm (2 per
element in eval mode) and adaptive pooling. Ops fvcore does not know (ReLU's in-place form,
add, average pooling, …) count as zero; their names and call counts are kept in
``unsupported_ops`` so a trial records what was left out. Channel split and concat cost 0.
Counted at batch size 1 in eval mode; the input size is recorded with the count. One fvcore
trace counts MACs and activations together (each op's handle returns both), not one per count.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import torch
from fvcore.nn import FlopCountAnalysis
from torch import nn

from cspsearch.compat import fvcore_default_ops

MAC_OPS, ACTIVATION_OPS = fvcore_default_ops()
ACT = "activations:"  # operator-name prefix of the activation counts in the shared trace


@dataclass(frozen=True)
class MacReport:
    macs: int
    flops: int  # 2 × macs
    params: int  # PyTorch's count: every parameter, BatchNorm included
    params_no_bn: int  # the paper's convention: without BatchNorm's affine parameters
    input_size: int
    by_stage: dict[str, int]  # top-level part (stem, stages.0, …, head) → MACs
    by_operator: dict[str, int]  # conv, batch_norm, linear, … → MACs
    unsupported_ops: dict[str, int]  # op name → times seen (counted as zero)
    activations: int  # elements of every conv/linear output (fvcore), a memory-traffic proxy

    def attrs(self) -> dict[str, Any]:
        """The count as a trial's user attributes (plain JSON values)."""
        return {
            "macs": self.macs,
            "flops": self.flops,
            "params": self.params,
            "params_no_bn": self.params_no_bn,
            "input_size": self.input_size,
            "macs_by_stage": self.by_stage,
            "macs_by_operator": self.by_operator,
            "unsupported_ops": self.unsupported_ops,
            "activations": self.activations,
        }


def count_macs(model: nn.Module, input_size: int, in_chans: int) -> MacReport:
    """Count ``model``'s MACs on one ``in_chans × input_size × input_size`` image."""
    was_training = model.training
    device = next(model.parameters()).device
    model.eval()
    try:
        x = torch.zeros(1, in_chans, input_size, input_size, device=device)
        analysis = FlopCountAnalysis(model, x).set_op_handle(**_both())
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        totals = analysis.by_operator()
        by_operator = {k: int(v) for k, v in totals.items() if not k.startswith(ACT)}
        macs = sum(by_operator.values())
        activation_count = int(sum(v for k, v in totals.items() if k.startswith(ACT)))
        by_stage = {
            name: int(sum(v for op, v in ops.items() if not op.startswith(ACT)))
            for name, ops in analysis.by_module_and_operator().items()
            if name
            and (name.count(".") == 0 or name.startswith("stages.") and name.count(".") == 1)
            and name != "stages"
        }
        unsupported = dict(analysis.unsupported_ops())
    finally:
        model.train(was_training)
    bn = sum(
        p.numel()
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        for p in m.parameters(recurse=False)
    )
    params = sum(p.numel() for p in model.parameters())
    return MacReport(
        macs=macs,
        flops=2 * macs,
        params=params,
        params_no_bn=params - bn,
        input_size=input_size,
        by_stage=by_stage,
        by_operator=by_operator,
        unsupported_ops=unsupported,
        activations=activation_count,
    )


def _both() -> dict[str, Any]:
    """fvcore's MAC handles and activation handles as one table: each op returns its MACs
    under its name and its output elements under ``ACT`` + its name."""

    def handle(kind: str) -> Any:
        def count(inputs: list[Any], outputs: list[Any]) -> Counter:
            out: Counter = Counter()
            name = kind.split("::")[-1]
            if kind in MAC_OPS:
                macs = MAC_OPS[kind](inputs, outputs)
                out.update(macs if isinstance(macs, Counter) else {name: macs})
            if kind in ACTIVATION_OPS:
                acts = ACTIVATION_OPS[kind](inputs, outputs)
                for k, v in (acts if isinstance(acts, Counter) else {name: acts}).items():
                    out[ACT + k] += v
            return out

        return count

    return {kind: handle(kind) for kind in {*MAC_OPS, *ACTIVATION_OPS}}
