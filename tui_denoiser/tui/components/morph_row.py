"""The playground's morph row: the last morph's samples, one small captioned image each, under the canvas."""

from __future__ import annotations

from typing import Any, Sequence

from textual.containers import HorizontalScroll

from tui_denoiser.tui.widgets.digit_image import Thumb

MORPH_PX = 14  # a sample's thumbnail width in pixels (half an MNIST digit; 7 rows with half blocks)


class MorphRow(HorizontalScroll):
    """Owns the thumbnails of the morph on show; empty after any other run."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.thumbs: list[Thumb] = []

    def show(self, images: Sequence[Any]) -> None:
        """``images`` is uint8 (N, 28, 28), the morph's samples in order; empty clears the row."""
        self.remove_children()
        self.thumbs = []
        for i, image in enumerate(images):
            thumb = Thumb(MORPH_PX, str(i), classes="pg-morph-thumb")
            thumb.digit.set_image(image)
            self.thumbs.append(thumb)
        if self.thumbs:
            self.mount_all(self.thumbs)

    def clear(self) -> None:
        self.show([])
