"""The playground's left column: the drawing canvas, a title naming its mode, and the morph row under it.

The canvas (``widgets/draw_canvas.py``) owns the picture, the mask and the mode; this column owns what
is said about them (the title line), how large the canvas is drawn, and the edits that the screen's keys
ask for: mode toggles, clear, undo, a real test digit, the lower half masked. Every change of the picture
reaches the screen as the canvas's own :class:`DrawCanvas.Changed` message (it bubbles through here).
"""

from __future__ import annotations

import random

import numpy as np
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from tui_denoiser.tui.components.morph_row import MorphRow
from tui_denoiser.tui.widgets.draw_canvas import DrawCanvas

IMAGE_PX = 28  # the canvas's side in pixels; it is drawn at a whole multiple of it
MAX_SCALE = 3
MID_COLUMNS = 14 + 30  # room kept for the settings column and the step viewer beside the canvas
TITLES = {"draw": "draw · right: erase · l: real", "erase": "ERASE (x: draw again)",
          "mask": "MASK the unknown (m: draw)"}


class PlayCanvas(Vertical):
    """The canvas and what goes with it; the screen maps keys to these methods."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._real = random.Random()

    def compose(self) -> ComposeResult:
        yield Static("", id="pg-canvas-title")
        yield DrawCanvas(id="canvas")
        yield Static("", id="pg-notes")
        yield MorphRow(id="pg-morph")

    def on_mount(self) -> None:
        self._show_title()

    @property
    def canvas(self) -> DrawCanvas:
        return self.query_one(DrawCanvas)

    def _show_title(self) -> None:
        mode = self.canvas.mode
        title = self.query_one("#pg-canvas-title", Static)
        title.update(TITLES[mode])
        title.set_class(mode != "draw", "-mode")

    def fit(self, width: int, height: int) -> None:
        """The canvas grows by whole multiples of 28 columns where a screen of ``width`` x ``height`` has room."""
        scale = 1
        while (scale < MAX_SCALE and IMAGE_PX * (scale + 1) + MID_COLUMNS <= width
               and 1 + IMAGE_PX // 2 * (scale + 1) + 1 + 1 <= height):
            scale += 1
        self.canvas.set_scale(scale)
        self.styles.width = IMAGE_PX * scale

    # ----------------------------------------------------------------- edits the keys ask for
    def toggle_mode(self, mode: str) -> None:
        """Into ``mode``; asked again, back to drawing."""
        self.canvas.set_mode("draw" if self.canvas.mode == mode else mode)
        self._show_title()

    def clear(self) -> None:
        self.canvas.clear()

    def undo(self) -> bool:
        """Undo the last stroke, clear or load; False when there is nothing to undo."""
        return self.canvas.undo()

    def load_real(self) -> int:
        """A random one of the shipped real MNIST test digits onto the canvas; its label.

        Raises the core's ``UserError`` when the shipped digits cannot be read."""
        from tui_denoiser.core.playground import real_digits

        images, labels = real_digits()
        i = self._real.randrange(len(images))
        self.canvas.load(images[i])
        return int(labels[i])

    def mask_lower_half(self) -> None:
        mask = np.zeros((IMAGE_PX, IMAGE_PX), dtype=bool)
        mask[IMAGE_PX // 2:] = True
        self.canvas.set_mask(mask)
