"""The help screen: every key of the app and of both screens, read from the bindings themselves."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from rich.table import Table


def _keys_table(title: str, bindings: list[Binding], key_display) -> Table:
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for binding in bindings:
        table.add_row(key_display(binding), binding.tooltip or binding.description or binding.action)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,f1,question_mark", "app.pop_screen", "Close help")]

    def __init__(self, sections: list[tuple[str, list[Binding]]]) -> None:
        super().__init__(id="help")
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static("[b]denoiser-tui keys[/b]   (Esc closes; ctrl+p opens the command palette)", id="help-title")
            for title, bindings in self.sections:
                yield Static(_keys_table(title, bindings, self.app.get_key_display), classes="help-section")
