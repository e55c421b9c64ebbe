"""Errors a user can cause: each carries one line that says what went wrong and what to do.

Core errors never name a front end's controls (no CLI flags, no form labels). They carry the setting
at fault as ``field`` (a config field name such as ``"batch_size"``), its ``value`` and a ``hint``; the
message and the hint may say ``{field}`` where the setting is named, and each front end words it its
own way with :meth:`ExplainedError.worded` (the CLI as ``--batch-size``, the app as its form field).
``str(err)`` words it plainly ("batch size").
"""

from __future__ import annotations

from typing import Any, Callable

FIELD = "{field}"


def plain_name(field: str) -> str:
    """How a field is named when no front end words it: ``batch_size`` -> ``batch size``."""
    return field.replace("_", " ")


def word(message: str, *, field: str | None = None, hint: str | None = None,
         name_of: Callable[[str], str] = plain_name) -> str:
    """One line: ``message`` and, when given, ``: hint``, with ``{field}`` named by ``name_of``."""
    line = f"{message}: {hint}" if hint else message
    return line.replace(FIELD, name_of(field)) if field else line


class ExplainedError(Exception):
    """An error with the setting at fault (``field``), its ``value`` and what to do (``hint``)."""

    def __init__(self, message: str, *, field: str | None = None, value: Any = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value
        self.hint = hint

    def __str__(self) -> str:
        return self.worded()

    def worded(self, name_of: Callable[[str], str] = plain_name) -> str:
        """The one-line message with the field named as a front end names it."""
        return word(self.message, field=self.field, hint=self.hint, name_of=name_of)

    def to_json(self) -> dict[str, Any]:
        """What a front end needs to word it again (``Failed`` events carry it in metrics.jsonl)."""
        value = self.value if isinstance(self.value, (str, int, float, bool, type(None))) else repr(self.value)
        return {"message": self.message, "field": self.field, "value": value, "hint": self.hint}


class UserError(ExplainedError):
    """Bad input from the person (arguments, files, data). The CLI prints it as one line and exits 2."""


class ConfigError(UserError, ValueError):
    """A configuration value is out of range or of the wrong type."""


class CheckpointError(UserError):
    """A checkpoint file is missing, truncated, foreign, unsafe or of a newer format."""


class DataError(UserError):
    """The dataset is missing (offline), corrupt, or its folder is unreadable."""


class TrainingError(ExplainedError):
    """Training cannot continue (non-finite loss, out of memory, disk full)."""
