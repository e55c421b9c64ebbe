"""Picks earlier runs to overlay on the training screen's loss and quality charts (``o``)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import SelectionList, Static

MAX_COMPARED = 5  # as many as the charts have colours for


class ComparePrompt(ModalScreen[list[str] | None]):
    """Answers the chosen run folders (at most ``MAX_COMPARED``), or None when cancelled."""

    DEFAULT_CSS = """
    ComparePrompt { align: center middle; }
    #compare-box { width: 72; height: auto; max-height: 20; border: thick $primary; background: $surface;
                   padding: 0 1; }
    #compare-runs { height: auto; max-height: 14; }
    #compare-hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("enter", "apply", "Compare", priority=True)]

    def __init__(self, runs: list[tuple[str, str]], chosen: set[str]) -> None:
        """``runs``: (folder, label) pairs; ``chosen``: the folders compared now (pre-selected)."""
        super().__init__()
        self.runs = runs
        self.chosen = chosen

    def compose(self) -> ComposeResult:
        with Vertical(id="compare-box"):
            yield Static(f"Overlay earlier runs (up to {MAX_COMPARED}) on the loss and quality charts:")
            yield SelectionList[str](*((label, path, path in self.chosen) for path, label in self.runs),
                                     id="compare-runs")
            yield Static("space: pick · enter: compare · escape: cancel (none picked: clear)", id="compare-hint")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def action_apply(self) -> None:
        self.dismiss(list(self.query_one(SelectionList).selected)[:MAX_COMPARED])

    def action_cancel(self) -> None:
        self.dismiss(None)
