"""The run's event log: checkpoints with their paths, epoch summaries, warnings and errors."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

_STYLES = {"info": "", "good": "green", "warn": "yellow", "error": "bold red"}


class EventLog(RichLog):
    DEFAULT_CSS = """
    EventLog { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, wrap=True, markup=False, highlight=False, max_lines=2000)
        self.plain_lines: list[str] = []  # what was logged, for tests and the clipboard

    def add(self, line: str, level: str = "info") -> None:
        self.plain_lines.append(line)
        self.write(Text(line, style=_STYLES.get(level, "")))
