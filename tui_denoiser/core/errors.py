"""Errors a user can cause: each carries one line that says what went wrong and what to do."""


class UserError(Exception):
    """Bad input from the person (arguments, files, data). The CLI prints ``str(err)`` and exits 2."""


class ConfigError(UserError, ValueError):
    """A configuration value is out of range or of the wrong type."""


class CheckpointError(UserError):
    """A checkpoint file is missing, truncated, foreign, unsafe or of a newer format."""


class DataError(UserError):
    """The dataset is missing (offline), corrupt, or its folder is unreadable."""


class TrainingError(Exception):
    """Training cannot continue (non-finite loss, out of memory, disk full)."""
