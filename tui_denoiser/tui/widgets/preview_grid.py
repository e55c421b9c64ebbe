"""One generated image of each digit 0-9, as the trainer's preview at each epoch end."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import ItemGrid, VerticalScroll
from textual.widgets import Static

from tui_denoiser.tui.widgets.digit_image import Thumb

THUMB = 14  # pixels; 14 columns x 7 rows per digit


class PreviewGrid(VerticalScroll):
    DEFAULT_CSS = """
    PreviewGrid { height: 1fr; }
    PreviewGrid > #preview-caption { height: 1; color: $text-muted; }
    PreviewGrid ItemGrid { height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.images: list[Any] | None = None
        self.epoch: int | None = None

    def compose(self) -> ComposeResult:
        yield Static("samples appear at the end of each epoch", id="preview-caption")
        with ItemGrid(min_column_width=THUMB + 1):
            for digit in range(10):
                yield Thumb(THUMB, str(digit), id=f"preview-{digit}")

    def show(self, images: list[Any], epoch: int) -> None:
        """``images``: ten uint8 28x28 arrays or nested lists, digits 0..9."""
        self.images, self.epoch = images, epoch
        self.query_one("#preview-caption", Static).update(f"one sample of each digit after epoch {epoch + 1}")
        for digit, image in enumerate(images[:10]):
            self.query_one(f"#preview-{digit}", Thumb).digit.set_image(image)
