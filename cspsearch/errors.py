"""The project's exceptions: user errors (exit code 2 in the CLI) and trial-level failures;
the one check of an optional extra (``require_deploy``)."""


class CspSearchError(Exception):
    """Base of every error cspsearch raises on purpose; the CLI prints it as one line."""


class SpaceError(CspSearchError):
    """A space file, or a value given for one, is invalid (names the file, key and value)."""


class StudyError(CspSearchError):
    """A study or storage cannot be opened or used as asked."""


class BuildError(CspSearchError):
    """A model configuration cannot be built (for example a split leaves a part empty)."""


class TrainDiverged(CspSearchError):
    """Training produced a non-finite loss."""


class TrialTimeout(CspSearchError):
    """A trial ran past its time limit (--trial-timeout)."""


class DataError(CspSearchError):
    """A dataset is missing, or its files are not in the expected format."""


DEPLOY_EXTRA = 'pip install "cspsearch[deploy]"'  # what a missing deploy extra asks for


def require_deploy(what: str) -> None:
    """SpaceError naming the pip command unless onnx and onnxruntime can be imported (checked
    without importing them: a run checks this before anything is written)."""
    import importlib.util

    for module in ("onnx", "onnxruntime"):
        if importlib.util.find_spec(module) is None:
            raise SpaceError(
                f"{what} needs the deploy extra ({module} is not installed): {DEPLOY_EXTRA}"
            )
