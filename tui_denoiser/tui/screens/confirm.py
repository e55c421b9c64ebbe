"""Asks before quitting while a run is training (quitting stops it; it saves a checkpoint first)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmQuit(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "Yes, stop and quit"), Binding("n,escape", "answer(False)", "No")]

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static("A run is training. Stop it (it saves a checkpoint) and quit?", id="confirm-text")
            with Horizontal(id="confirm-buttons"):
                yield Button("Stop and quit (y)", id="confirm-yes", variant="error", compact=True)
                yield Button("Keep training (n)", id="confirm-no", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
