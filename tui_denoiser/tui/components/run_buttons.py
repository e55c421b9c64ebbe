"""Start, Pause/Resume, Stop and Continue: which of them can be pressed follows the run's state."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button

BUSY_STATES = ("running", "paused", "stopping")  # a trainer thread is alive


def key_allowed(action: str, state: str, *, can_continue: bool) -> bool:
    """Whether the training screen's key for ``action`` does anything in ``state`` (the footer hides
    the others so that it fits 80 columns); the buttons follow the same rules."""
    if action == "start":
        return state not in (*BUSY_STATES, "watching")
    if action == "pause":
        return state in ("running", "paused")
    if action == "stop":
        return state in ("running", "paused", "watching")
    if action == "continue_run":
        return state == "done" and can_continue
    return True


class RunButtons(Horizontal):
    """The run's buttons; the screen handles their presses (``Button.Pressed`` with their ids)."""

    def compose(self) -> ComposeResult:
        yield Button("Start", id="btn-start", variant="success", compact=True)
        yield Button("Pause", id="btn-pause", compact=True)
        yield Button("Stop", id="btn-stop", variant="error", compact=True)
        yield Button("Continue", id="btn-continue", compact=True)

    def show_state(self, state: str, *, form_valid: bool, can_continue: bool) -> None:
        """Enable what the training screen's ``state`` allows (see ``TrainingScreen.state``)."""
        busy = state in BUSY_STATES
        self.query_one("#btn-start", Button).disabled = busy or state == "watching" or not form_valid
        self.query_one("#btn-continue", Button).disabled = state != "done" or not can_continue or not form_valid
        pause = self.query_one("#btn-pause", Button)
        pause.disabled = state not in ("running", "paused")
        pause.label = "Resume" if state == "paused" else "Pause"
        self.query_one("#btn-stop", Button).disabled = state not in ("running", "paused")
