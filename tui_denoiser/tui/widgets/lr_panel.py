"""The learning rate: the current value in large digits and the StepLR schedule over the epochs."""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Digits, Static

_BARS = "▁▂▃▄▅▆▇█"


def format_lr(lr: float) -> str:
    """``1.00E-4`` style: fits the Digits widget (it has E but no lowercase e)."""
    mantissa, exponent = f"{lr:.2e}".split("e")
    return f"{mantissa}E{int(exponent)}"


def schedule_bars(schedule: list[float], current: int | None, width: int) -> Text:
    """One bar per epoch (or per group of epochs when they do not fit), height ~ log(lr)."""
    if not schedule or width < 1:
        return Text("")
    n = len(schedule)
    per = max(1, math.ceil(n / width))
    groups = [schedule[i:i + per] for i in range(0, n, per)]
    logs = [math.log10(g[0]) for g in groups if g[0] > 0]
    top, bottom = (max(logs), min(logs)) if logs else (0.0, 0.0)
    text = Text()
    for gi, group in enumerate(groups):
        value = group[0]
        if top == bottom or value <= 0:
            level = len(_BARS) - 1
        else:
            level = round((math.log10(value) - bottom) / (top - bottom) * (len(_BARS) - 2)) + 1
        is_current = current is not None and gi * per <= current < (gi + 1) * per
        text.append(_BARS[level], style="bold reverse" if is_current else "cyan")
    return text


class LRPanel(Vertical):
    """Shows what it is told: ``set_schedule`` once per run, ``set_current`` at each update."""

    DEFAULT_CSS = """
    LRPanel { height: auto; }
    LRPanel > Horizontal { height: auto; }
    LRPanel > #lr-title { height: 1; }
    LRPanel > Digits { width: auto; color: $accent; }
    LRPanel > #lr-schedule { height: 1; }
    LRPanel > #lr-caption { height: 1; color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.schedule: list[float] = []
        self.current_lr: float | None = None
        self.current_epoch: int | None = None

    def compose(self) -> ComposeResult:
        yield Static("learning rate", id="lr-title")
        yield Digits("-", id="lr-digits")
        yield Static("", id="lr-schedule")
        yield Static("schedule: starts with the run", id="lr-caption")

    @property
    def text(self) -> str:
        """The current value as shown (tests read it)."""
        return self.query_one("#lr-digits", Digits).value

    def set_schedule(self, schedule: list[float]) -> None:
        self.schedule = list(schedule)
        self._draw()

    def set_current(self, lr: float, epoch: int | None) -> None:
        if lr == self.current_lr and epoch == self.current_epoch:
            return
        self.current_lr, self.current_epoch = lr, epoch
        self.query_one("#lr-digits", Digits).update(format_lr(lr))
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if not self.is_mounted:
            return
        width = max(1, self.size.width - 2)
        bar = self.query_one("#lr-schedule", Static)
        caption = self.query_one("#lr-caption", Static)
        if not self.schedule:
            bar.update("")
            return
        bar.update(schedule_bars(self.schedule, self.current_epoch, width))
        epoch = "" if self.current_epoch is None else f"epoch {self.current_epoch + 1}/{len(self.schedule)} · "
        caption.update(f"{epoch}{self.schedule[0]:.1e} → {self.schedule[-1]:.1e}")
