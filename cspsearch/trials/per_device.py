"""``--trials-per-device N|auto``: the number K of concurrent trials per device, and why.

``auto`` (the default) changes nothing on the CPU, or when ``--n-workers`` is given: K is 1
and the worker count decides as before (workers.py). On CUDA it probes one trial of the space
(cspsearch/training/probe.py) and takes ``auto_trials_per_device``'s K (training/device.py):
⌈1 / GPU busy fraction⌉, capped by the CPU cores per GPU and by 80% of the free GPU memory at
the probed peak. A failed probe gives K = 1 and a warning, never a failed run.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rich.markup import escape

from cspsearch.errors import StudyError
from cspsearch.space.searchspace import SearchSpace
from cspsearch.trials.workers import cores
from cspsearch.trials.workers import gpu_count

AUTO = "auto"


def parse_trials_per_device(text: str) -> int | str:
    """``auto`` or a whole number ≥ 1; StudyError otherwise."""
    if text == AUTO:
        return AUTO
    if not text.isdigit() or int(text) < 1:
        raise StudyError(f"--trials-per-device: {text!r} must be a whole number ≥ 1, or auto")
    return int(text)


def decide(
    option: int | str, device: str, n_workers: int | None, probe: Any, cpu_cores: int
) -> tuple[int, str]:
    """K and its reason, from the option, the device it runs on (``cpu``, ``cuda:0``, …), the
    ``--n-workers`` given and ``probe`` (a training.probe.Probe, or the text of its failure;
    read only for ``auto`` on CUDA)."""
    from cspsearch.training.device import auto_trials_per_device as rule

    if option != AUTO:
        return int(option), "given"
    if n_workers is not None:
        return 1, "auto: --n-workers decides"
    if not device.startswith("cuda"):
        return 1, "auto on the CPU: the worker count decides"
    if isinstance(probe, str):
        return 1, f"auto: the probe failed: {probe}"
    gpus, free, peak, busy = probe.gpus, probe.free_bytes, probe.trial_bytes, probe.busy_fraction
    k = rule(cpu_cores, gpus, free, peak, busy)
    # What capped K: the same rule with one limit at a time, the others out of the way.
    unlimited_cores, unlimited_bytes = 1 << 30, 1 << 60
    wanted = rule(unlimited_cores, gpus, unlimited_bytes, 1, busy)
    caps = {
        f"{cpu_cores} CPU cores": rule(cpu_cores, gpus, unlimited_bytes, 1, 0.0),
        f"{free / 2**30:.0f} GiB free": rule(unlimited_cores, gpus, free, peak, 0.0),
    }
    why = [name for name, cap in caps.items() if k < wanted and cap == k]
    capped = f"; capped by {' and '.join(why)}" if why else ""
    return k, f"auto: GPU busy {busy:.0%} in a probe, {peak / 2**30:.2f} GiB a trial{capped}"


def resolve(options: Any, space: SearchSpace, n_workers: int | None) -> tuple[Any, str]:
    """``options`` (a RunOptions) with a number as ``trials_per_device``, and the line that
    says which and why (the caller prints it once the run starts: bad input stays one line)."""
    from cspsearch.training.device import pick_device

    device = pick_device(options.device)
    probe: Any = None
    wanted = options.trials_per_device
    if wanted == AUTO and n_workers is None and device.startswith("cuda"):
        probe = _probe(space, device, options)
    k, why = decide(wanted, device, n_workers, probe, cores())
    line = escape(f"trials per device: {k} ({why})")
    if isinstance(probe, str):  # a warning, never a failed run
        line = f"[yellow]warning: {line}[/yellow]"
    return replace(options, trials_per_device=k), line


def _probe(space: SearchSpace, device: str, options: Any) -> Any:
    """The probe's result, or the one-line text of its failure (never raised)."""
    try:
        from cspsearch.training.probe import probe_trial

        gpus = gpu_count(options.device)
        return probe_trial(space, device, gpus, options.cuda_graphs)
    except Exception as exc:  # noqa: BLE001 - any failure means K = 1, never a failed run
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200]
