"""Digits drawn with half blocks (two pixels per cell) through rich-pixels, or in true pixels.

rich-pixels reports no width to Textual, so each widget gets its size from CSS (set here from the pixel
size). Grey levels are snapped to the xterm-256 grey ramp so a 256-colour terminal shows the same
picture as a true-colour one instead of banding or tinting.

Where ``graphics.settings`` says the terminal draws true pixels (Kitty protocol or Sixel, chosen before
the app starts), the same widget keeps its cell box and draws the digit inside it with textual-image at
an integer scale (``graphics.py``): every screen that uses ``DigitImage`` or ``Thumb`` gets it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image
from rich.console import RenderableType
from rich_pixels import Pixels
from textual.widget import Widget
from textual.widgets import Static
from textual.containers import Vertical

from tui_denoiser.tui import graphics

# xterm-256: 16 is black, 232..255 are greys 8, 18, ..., 238, 231 is white.
_RAMP = np.array([0] + [8 + 10 * i for i in range(24)] + [255], dtype=np.int16)


def snap_to_ramp(image: np.ndarray) -> np.ndarray:
    """Map every grey value to the nearest level a 256-colour terminal can show exactly."""
    idx = np.abs(image.astype(np.int16)[..., None] - _RAMP).argmin(axis=-1)
    return _RAMP[idx].astype(np.uint8)


def digit_pixels(image: np.ndarray, size: int) -> Pixels:
    """A ``size``-pixel-wide half-block rendering of a uint8 (H, W) image (0 = background = black).

    Upscaling uses nearest neighbour (crisp pixels); downscaling averages (thumbnails stay legible).
    """
    pil = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), mode="L")
    if pil.width != size:
        height = round(pil.height * size / pil.width)
        resample = Image.Resampling.NEAREST if size >= pil.width else Image.Resampling.BOX
        pil = pil.resize((size, height), resample=resample)
    pil = Image.fromarray(snap_to_ramp(np.asarray(pil)), mode="L")
    return Pixels.from_image(pil.convert("RGB"))


class DigitImage(Widget):
    """One image at a fixed pixel width; blank until it gets one."""

    DEFAULT_CSS = """
    DigitImage { width: 28; height: 14; background: black; }
    """

    def __init__(self, size: int = 28, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._image: np.ndarray | None = None
        self._pixels: Pixels | None = None
        self._picture: Any = None  # true pixels: the textual-image renderable now shown (Kitty)
        self._picture_key: tuple | None = None
        self._sixel: Any = None  # true pixels: textual-image's Sixel widget, our only child
        self.size_px = size
        self._apply_size()
        graphics.settings.widgets.add(self)

    @property
    def image(self) -> np.ndarray | None:
        """The uint8 image shown now (tests compare it across key presses)."""
        return self._image

    def _apply_size(self) -> None:
        self.styles.width = self.size_px
        self.styles.height = (self.size_px + 1) // 2

    def set_size(self, size: int) -> None:
        if size != self.size_px:
            self.size_px = size
            self._pixels = None
            self._apply_size()
            self.refresh(layout=True)

    def set_image(self, image: Any) -> None:
        self._image = None if image is None else np.asarray(image, dtype=np.uint8)
        self._pixels = None
        self._drop_picture()
        self.refresh()
        if self._sixel is not None:
            self._update_sixel()

    def render(self) -> RenderableType:
        if self._image is None:
            return ""
        if graphics.settings.mode == "kitty":
            return self._kitty_picture()
        if graphics.settings.mode == "sixel":
            return ""  # the Sixel child draws
        if self._pixels is None:
            self._pixels = digit_pixels(self._image, self.size_px)
        return self._pixels

    # -- true pixels ---------------------------------------------------------------------------------
    def compose(self):
        if graphics.settings.mode == "sixel":
            from textual_image.widget import SixelImage

            self._sixel = SixelImage()
            self._sixel.styles.width = "100%"
            self._sixel.styles.height = "100%"
            yield self._sixel

    def on_mount(self) -> None:
        if self._sixel is not None:
            self._update_sixel()

    def on_resize(self) -> None:
        if self._sixel is not None:
            self._update_sixel()

    def on_unmount(self) -> None:
        self._drop_picture()
        graphics.settings.widgets.discard(self)

    def graphics_changed(self) -> None:
        """The zoom or the smoothing changed: draw again."""
        self._drop_picture()
        if self._sixel is not None:
            self._update_sixel()
        self.refresh()

    def canvas(self) -> tuple[np.ndarray, tuple[int, int], int] | None:
        """The true-pixel picture for the cell box shown now: (canvas, digit's corner, scale)."""
        if self._image is None:
            return None
        s = graphics.settings
        cols, rows = self.size.width or self.size_px, self.size.height or (self.size_px + 1) // 2
        box = (cols * s.cell_px[0], rows * s.cell_px[1])
        scale = graphics.pixel_scale(self._image.shape, box, large=self.size_px >= graphics.LARGE_PX, zoom=s.zoom)
        canvas, corner = graphics.compose_canvas(self._image, (cols, rows), s.cell_px, scale=scale, smooth=s.smooth)
        return canvas, corner, scale

    def _kitty_picture(self) -> RenderableType:
        s = graphics.settings
        key = (self.size.width, self.size.height, s.zoom, s.smooth, s.cell_px)
        if self._picture is None or key != self._picture_key:
            self._drop_picture()
            canvas, _, _ = self.canvas()
            picture = Image.fromarray(canvas, mode="L").convert("RGB")
            self._picture = graphics.kitty_renderable(picture, self.size.width or self.size_px,
                                                      self.size.height or (self.size_px + 1) // 2)
            self._picture_key = key
        return self._picture

    def _drop_picture(self) -> None:
        if self._picture is not None:
            self._picture.cleanup()
        self._picture = None
        self._picture_key = None

    def _update_sixel(self) -> None:
        drawn = self.canvas() if self.size.width else None
        self._sixel.image = None if drawn is None else Image.fromarray(drawn[0], mode="L").convert("RGB")


class Thumb(Vertical):
    """A small image with a one-line caption under it (the step number, or the digit)."""

    DEFAULT_CSS = """
    Thumb { width: auto; height: auto; margin: 0 1 0 0; }
    Thumb > .thumb-caption { width: 100%; height: 1; content-align: center middle; color: $text-muted; }
    Thumb.-current > .thumb-caption { background: $accent; color: $text; text-style: bold; }
    """

    def __init__(self, size: int, caption: str = "", *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        # Built here, not in compose, so a thumb can take its image before it is mounted.
        self._digit = DigitImage(size)
        self._caption = Static(caption, classes="thumb-caption")

    def compose(self):
        yield self._digit
        yield self._caption

    @property
    def digit(self) -> DigitImage:
        return self._digit
