"""Every step of the trajectory on show as a row of small captioned images; the current one is marked."""

from __future__ import annotations

from typing import Any, Sequence

from textual.containers import HorizontalScroll

from tui_denoiser.tui.widgets.digit_image import Thumb

STRIP_PX = 14  # a step's thumbnail width in pixels (half an MNIST digit; 7 rows with half blocks)


class StepStrip(HorizontalScroll):
    """Owns one thumbnail per step; rebuilt only when the number of steps changes."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.thumbs: list[Thumb] = []

    def show(self, frames: Sequence[Any], current: int) -> None:
        """``frames[k]`` is uint8 (B, 28, 28) at step k; the strip shows each step's first sample."""
        if len(self.thumbs) != len(frames):
            self.remove_children()
            self.thumbs = [Thumb(STRIP_PX, str(k), classes="strip-thumb") for k in range(len(frames))]
            self.mount_all(self.thumbs)
        for thumb, frame in zip(self.thumbs, frames):
            thumb.digit.set_image(frame[0])
        self.mark(current)

    def mark(self, current: int) -> None:
        """Mark step ``current`` and scroll it into view."""
        for k, thumb in enumerate(self.thumbs):
            thumb.set_class(k == current, "-current")
        if 0 <= current < len(self.thumbs) and self.thumbs[current].is_mounted:
            self.scroll_to_widget(self.thumbs[current], animate=False)
