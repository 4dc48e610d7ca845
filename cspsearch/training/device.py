"""Where a trial runs and with what software: the device a name means, and the versions that
produced a trial's numbers."""

from __future__ import annotations

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
