"""Shown instead of a screen's body when the terminal is below 80x24 (the layout's minimum)."""

from __future__ import annotations

from textual.widgets import Static

MIN_WIDTH, MIN_HEIGHT = 80, 24


class TooSmall(Static):
    DEFAULT_CSS = """
    TooSmall { display: none; width: 1fr; height: 1fr; content-align: center middle; text-align: center; }
    """

    def __init__(self) -> None:
        super().__init__(
            f"The terminal is too small.\nPlease make it at least {MIN_WIDTH}x{MIN_HEIGHT}.\n(ctrl+q quits)",
            classes="too-small",
        )
