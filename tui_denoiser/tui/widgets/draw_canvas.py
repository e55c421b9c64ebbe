"""A 28x28 drawing surface for the playground: draw with the mouse, erase, mark a region unknown.

The picture is drawn with half blocks: at scale 1 one terminal cell holds two pixels (one above the
other), so the canvas is 28 columns by 14 rows; at scale ``s`` each pixel is ``s`` columns by ``s / 2``
rows. The mouse only knows which cell it is in, so the brush is centred on the cell's middle: at scale 1
that is between the cell's two pixels, and a stroke paints both halves alike.

- Left drag draws with a soft round brush (a pixel takes the brightest value the brush gives it).
- Right drag, or left drag in erase mode, erases with a larger soft brush.
- In mask mode, left drag marks pixels unknown (for inpainting) and right drag unmarks them; unknown
  pixels are tinted red.

State lives here and nowhere else; the widget posts :class:`DrawCanvas.Changed` after every change, so
the screen can read it (the classifier, SDEdit). No worker ever touches it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

MODES = ("draw", "erase", "mask")
UNDO_DEPTH = 50
DRAW_RADIUS = 1.9  # pixels: full strength inside RADIUS - SOFT, fading to 0 at RADIUS
DRAW_SOFT = 1.0
ERASE_RADIUS = 2.6
MASK_RADIUS = 2.2

# xterm-256 greys (16 = black, 232..255, 231 = white): snapping to them keeps a 256-colour terminal's
# picture the same as a true-colour one.
_RAMP = np.array([0] + [8 + 10 * i for i in range(24)] + [255], dtype=np.int16)


def _snap(values: np.ndarray) -> np.ndarray:
    return _RAMP[np.abs(values.astype(np.int16)[..., None] - _RAMP).argmin(axis=-1)]


def brush(cx: float, cy: float, radius: float, soft: float = DRAW_SOFT) -> np.ndarray:
    """Brush strength (28, 28) in [0, 1] for a brush centred at pixel coordinates (cx, cy)."""
    ys, xs = np.mgrid[0:28, 0:28].astype(np.float32) + 0.5
    distance = np.hypot(xs - cx, ys - cy)
    return np.clip((radius - distance) / soft, 0.0, 1.0).astype(np.float32)


class DrawCanvas(Widget, can_focus=False):
    """The playground's canvas; ``image`` float (28, 28) in [0, 1], ``mask`` bool (28, 28) True = unknown."""

    DEFAULT_CSS = """
    DrawCanvas { width: 28; height: 14; }
    """

    @dataclass
    class Changed(Message):
        """The picture or the mask changed; ``stroke_done`` once the mouse button is let go."""

        canvas: "DrawCanvas"
        stroke_done: bool = False

        @property
        def control(self) -> "DrawCanvas":
            return self.canvas

    def __init__(self, *, scale: int = 1, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.image = np.zeros((28, 28), dtype=np.float32)
        self.mask = np.zeros((28, 28), dtype=bool)
        self.mode = "draw"
        self.scale = 1
        self.show_mask = True
        self._history: list[tuple[np.ndarray, np.ndarray]] = []
        self._button = 0  # the button of the stroke in progress (0: none)
        self._last: tuple[float, float] | None = None
        self.set_scale(scale)

    # -- state ---------------------------------------------------------------------------------------
    def as_uint8(self) -> np.ndarray:
        """The drawing as MNIST stores digits: uint8 (28, 28), 0 = background."""
        return np.round(self.image * 255).clip(0, 255).astype(np.uint8)

    @property
    def is_blank(self) -> bool:
        return not bool((self.image > 0).any())

    def set_scale(self, scale: int) -> None:
        """Each pixel ``scale`` columns wide; the canvas is 28 * scale columns by 14 * scale rows."""
        self.scale = max(1, int(scale))
        self.styles.width = 28 * self.scale
        self.styles.height = 14 * self.scale
        self.refresh(layout=True)

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.mode = mode
        self.refresh()

    def remember(self) -> None:
        """Save the state for undo (before every stroke, clear and load)."""
        self._history.append((self.image.copy(), self.mask.copy()))
        del self._history[:-UNDO_DEPTH]

    def undo(self) -> bool:
        if not self._history:
            return False
        self.image, self.mask = self._history.pop()
        self._changed(True)
        return True

    def clear(self) -> None:
        self.remember()
        self.image = np.zeros((28, 28), dtype=np.float32)
        self.mask = np.zeros((28, 28), dtype=bool)
        self._changed(True)

    def load(self, image: np.ndarray) -> None:
        """Show a uint8 (28, 28) digit (the mask is kept)."""
        image = np.asarray(image)
        if image.shape != (28, 28):
            raise ValueError(f"the canvas holds 28x28 images, got {image.shape}")
        self.remember()
        self.image = (image.astype(np.float32) / 255.0).clip(0, 1)
        self._changed(True)

    def set_mask(self, mask: np.ndarray) -> None:
        self.remember()
        self.mask = np.asarray(mask, dtype=bool).reshape(28, 28).copy()
        self._changed(True)

    def _changed(self, done: bool) -> None:
        self.refresh()
        self.post_message(self.Changed(self, done))

    # -- painting ------------------------------------------------------------------------------------
    def cell_to_pixel(self, x: int, y: int) -> tuple[float, float]:
        """The pixel coordinates of the middle of cell (x, y) (at scale 1, between its two pixels)."""
        s = self.scale
        return (x + 0.5) / s, (y + 0.5) * 2 / s

    def paint_at(self, cx: float, cy: float, button: int = 1) -> None:
        """One dab of the brush at pixel coordinates; ``button`` 3 is the right button."""
        erase = button == 3
        if self.mode == "mask":
            if erase:
                self.mask &= brush(cx, cy, MASK_RADIUS, 0.5) <= 0.5
            else:
                self.mask |= brush(cx, cy, MASK_RADIUS, 0.5) > 0.5
        elif erase or self.mode == "erase":
            self.image *= 1.0 - brush(cx, cy, ERASE_RADIUS)
            self.image[self.image < 1 / 255] = 0.0
        else:
            np.maximum(self.image, brush(cx, cy, DRAW_RADIUS), out=self.image)

    def stroke_to(self, cx: float, cy: float, button: int = 1) -> None:
        """Paint from the last point to (cx, cy) in half-pixel steps, so a fast drag leaves no gaps."""
        if self._last is None:
            self.paint_at(cx, cy, button)
        else:
            lx, ly = self._last
            n = max(1, int(np.ceil(np.hypot(cx - lx, cy - ly) / 0.5)))
            for i in range(1, n + 1):
                t = i / n
                self.paint_at(lx + (cx - lx) * t, ly + (cy - ly) * t, button)
        self._last = (cx, cy)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if event.button not in (1, 3):
            return
        self.remember()
        self._button = event.button
        self._last = None
        self.capture_mouse()
        self.stroke_to(*self.cell_to_pixel(event.x, event.y), self._button)
        self._changed(False)
        event.stop()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if not self._button:
            return
        x = min(max(event.x, 0), self.size.width - 1)
        y = min(max(event.y, 0), self.size.height - 1)
        self.stroke_to(*self.cell_to_pixel(x, y), self._button)
        self._changed(False)
        event.stop()

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if not self._button:
            return
        self._button = 0
        self._last = None
        self.release_mouse()
        self._changed(True)
        event.stop()

    # -- drawing -------------------------------------------------------------------------------------
    def _pixel_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Greys (H, W) at the shown size, and the mask at that size (H = 28 * s, W = 28 * s)."""
        s = self.scale
        grey = _snap(self.as_uint8())
        mask = self.mask if self.show_mask or self.mode == "mask" else np.zeros_like(self.mask)
        return np.repeat(np.repeat(grey, s, 0), s, 1), np.repeat(np.repeat(mask, s, 0), s, 1)

    @staticmethod
    def _colour(grey: int, unknown: bool) -> Color:
        if unknown:  # tinted red, still showing what is under it
            return Color.from_rgb(min(255, 90 + grey * 0.65), grey * 0.35, grey * 0.35)
        return Color.from_rgb(grey, grey, grey)

    def render_line(self, y: int) -> Strip:
        rows = getattr(self, "_rows_cache", None)
        key = (self.image.tobytes(), self.mask.tobytes(), self.scale, self.mode, self.show_mask)
        if rows is None or rows[0] != key:
            rows = (key, self._pixel_rows())
            self._rows_cache = rows
        grey, mask = rows[1]
        top, bottom = 2 * y, 2 * y + 1
        if top >= grey.shape[0]:
            return Strip.blank(self.size.width)
        segments = []
        for x in range(grey.shape[1]):
            fg = self._colour(int(grey[top, x]), bool(mask[top, x]))
            bg = self._colour(int(grey[bottom, x]), bool(mask[bottom, x])) if bottom < grey.shape[0] else fg
            segments.append(Segment("▀", Style(color=fg, bgcolor=bg)))
        return Strip(Segment.simplify(segments), grey.shape[1])
