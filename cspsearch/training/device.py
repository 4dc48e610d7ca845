"""Where a trial runs and with what software: the device a name means, and the versions that
produced a trial's numbers."""

from __future__ import annotations

import math
import platform

import torch


def pick_device(name: str = "auto") -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``."""
    return ("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name


def versions() -> dict[str, str]:
    """Versions of the software that produced a trial's numbers."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version

    import optuna

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "optuna": optuna.__version__,
        "fvcore": installed("fvcore"),
        "cspsearch": installed("cspsearch"),
    }


def auto_trials_per_device(
    cpu_cores: int,
    gpus: int,
    free_bytes: int,
    trial_bytes: int,
    busy_fraction: float,
    memory_share: float = 0.8,
) -> int:
    """K concurrent trials per GPU for ``--trials-per-device auto``, from a probe of one trial.

    The rule: enough trials that their kernels could keep the GPU busy (``1 / busy_fraction``
    of one trial alone, rounded up), but never more workers than CPU cores (each launches its
    own kernels from the host) nor more than fit in ``memory_share`` of the free GPU memory at
    the probed peak ``trial_bytes`` each. At least 1.
    """
    if gpus < 1:
        raise ValueError("auto_trials_per_device: no GPU to share")
    busy = min(1.0, max(busy_fraction, 1e-3))
    wanted = math.ceil(1.0 / busy)
    by_cores = max(1, cpu_cores // gpus)
    by_memory = max(1, int(memory_share * free_bytes // max(1, trial_bytes)))
    return max(1, min(wanted, by_cores, by_memory))
