"""One generated image of each digit 0-9, as the trainer's preview at each epoch end.

The trainer samples every preview from the same seeds, so what changes from one epoch to the next is the
model: the grid keeps the last ``HISTORY`` epochs' previews and ``[``/``]`` flip through them.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import ItemGrid, VerticalScroll
from textual.widgets import Static

from tui_denoiser.tui.widgets.digit_image import Thumb

THUMB = 14  # pixels; 14 columns x 7 rows per digit
HISTORY = 12  # epochs of previews kept for flipping


class PreviewGrid(VerticalScroll):
    DEFAULT_CSS = """
    PreviewGrid { height: 1fr; }
    PreviewGrid > #preview-caption { height: 1; color: $text-muted; }
    PreviewGrid ItemGrid { height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.images: list[Any] | None = None
        self.epoch: int | None = None  # the epoch shown
        self.history: dict[int, list[Any]] = {}  # epoch -> its ten previews, the last HISTORY epochs

    def compose(self) -> ComposeResult:
        yield Static("samples appear at the end of each epoch", id="preview-caption")
        with ItemGrid(min_column_width=THUMB + 1):
            for digit in range(10):
                yield Thumb(THUMB, str(digit), id=f"preview-{digit}")

    def show(self, images: list[Any], epoch: int) -> None:
        """``images``: ten uint8 28x28 arrays or nested lists, digits 0..9. A new epoch is shown unless
        the person is looking at an earlier one."""
        following = self.epoch is None or not self.history or self.epoch == max(self.history)
        self.history[epoch] = images
        for old in sorted(self.history)[:-HISTORY]:
            del self.history[old]
        if following or self.epoch not in self.history:
            self._draw(epoch)
        else:
            self._draw(self.epoch)

    def flip(self, delta: int) -> bool:
        """Show the epoch ``delta`` places earlier (-1) or later (+1) in the history; False at an end."""
        epochs = sorted(self.history)
        if self.epoch not in self.history:
            return False
        i = epochs.index(self.epoch) + delta
        if not 0 <= i < len(epochs):
            return False
        self._draw(epochs[i])
        return True

    def reset(self) -> None:
        self.history.clear()
        self.images = self.epoch = None
        self.query_one("#preview-caption", Static).update("samples appear at the end of each epoch")

    def _draw(self, epoch: int) -> None:
        images = self.history[epoch]
        self.images, self.epoch = images, epoch
        epochs = sorted(self.history)
        where = f" · {epochs.index(epoch) + 1} of last {len(epochs)}: [ ] flip" if len(epochs) > 1 else ""
        self.query_one("#preview-caption", Static).update(
            f"each digit after epoch {epoch + 1}, same seeds every epoch{where}")
        for digit, image in enumerate(images[:10]):
            self.query_one(f"#preview-{digit}", Thumb).digit.set_image(image)
