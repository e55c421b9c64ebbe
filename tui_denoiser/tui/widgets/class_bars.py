"""Ten probability bars: how the shipped classifier reads the playground's canvas."""

from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.widget import Widget

_EIGHTHS = " ▏▎▍▌▋▊▉█"


def bar(fraction: float, width: int) -> str:
    """A bar of ``width`` cells filled to ``fraction`` in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[part] if part else "")).ljust(width)


class ClassBars(Widget):
    """``probabilities`` (10 floats) drawn one digit a row; the most likely digit is highlighted."""

    DEFAULT_CSS = """
    ClassBars { width: 1fr; height: 10; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.probabilities: list[float] | None = None

    def set_probabilities(self, probabilities: Sequence[float] | None) -> None:
        self.probabilities = None if probabilities is None else [float(p) for p in probabilities]
        self.refresh()

    @property
    def best(self) -> int | None:
        if not self.probabilities:
            return None
        return max(range(len(self.probabilities)), key=self.probabilities.__getitem__)

    def render(self) -> Text:
        width = max(1, self.size.width - 7)  # "7 " + bar + " 100%"
        text = Text(no_wrap=True, overflow="crop")
        best = self.best
        for digit in range(10):
            if digit:
                text.append("\n")
            p = self.probabilities[digit] if self.probabilities else None
            text.append(f"{digit} ", style="bold" if digit == best else "dim")
            if p is None:
                text.append("·".ljust(width) + "     ", style="dim")
                continue
            text.append(bar(p, width), style="green" if digit == best else "grey50")
            text.append(f"{p * 100:4.0f}%", style="bold" if digit == best else "")
        return text
