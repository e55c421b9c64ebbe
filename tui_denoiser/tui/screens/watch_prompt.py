"""Asks for a run folder to watch (a headless ``denoiser-tui train`` run, live or finished)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class WatchPrompt(ModalScreen[str | None]):
    DEFAULT_CSS = """
    WatchPrompt { align: center middle; }
    #watch-box { width: 70; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    #watch-text { margin-bottom: 1; }
    #watch-hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, suggestion: str = "") -> None:
        super().__init__()
        self.suggestion = suggestion

    def compose(self) -> ComposeResult:
        with Vertical(id="watch-box"):
            yield Static("Watch a run folder (its metrics.jsonl), live or finished:", id="watch-text")
            yield Input(value=self.suggestion, placeholder="path to a run folder", id="watch-path")
            yield Static("enter: watch · escape: cancel", id="watch-hint")

    def on_mount(self) -> None:
        self.query_one("#watch-path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
