"""How digits reach the screen: half blocks everywhere, true pixels where the terminal can show them.

``choose_graphics`` decides the mode from the environment alone (a pure function, tested with made-up
environments); ``prepare`` applies it *before* the app starts, because textual-image asks the terminal
for its cell size (and, when imported, whether it speaks Sixel or the Kitty protocol) by reading the
terminal's answers from stdin, which Textual's input thread owns once the app runs.

- ``halfblock``: two pixels per cell through rich-pixels (the default, unchanged; the browser, tmux
  without passthrough, a plain xterm, anything unknown).
- ``kitty``: the Kitty graphics protocol with Unicode placeholders (kitty, Ghostty; through tmux only
  with ``set -g allow-passthrough on``, when each escape is wrapped for tmux to pass on).
- ``sixel``: Sixel (WezTerm, Konsole, foot, mlterm, iTerm2, contour).

In a true-pixel mode each image keeps the cell box the layout gives it and is drawn inside it at an
integer scale: the large digits (28 px boxes and up) at 8x or 4x (``z`` toggles), thumbnails as large as
fits; ``b`` toggles smooth (bilinear) scaling and nearest neighbour.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import weakref
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Mapping

import numpy as np

MODES = ("auto", "kitty", "sixel", "halfblock")
TRUE_PIXEL_MODES = ("kitty", "sixel")
ZOOMS = (8, 4)
LARGE_PX = 28  # a DigitImage at least this wide is a "large" digit: it takes the 4x/8x zoom

# Terminals named by TERM_PROGRAM / TERM that draw the Kitty protocol's Unicode placeholders, or Sixel.
_KITTY_PROGRAMS = {"ghostty"}
_KITTY_TERMS = {"xterm-kitty", "xterm-ghostty"}
_SIXEL_PROGRAMS = {"wezterm", "iterm.app", "mlterm", "contour"}
_SIXEL_TERMS = {"foot", "foot-extra", "mlterm", "contour", "yaft-256color"}


def choose_graphics(env: Mapping[str, str], requested: str = "auto", *,
                    tmux_passthrough: bool | None = None) -> str:
    """The drawing mode (``kitty``, ``sixel`` or ``halfblock``) for ``requested`` under ``env``.

    ``requested`` other than ``auto`` is honoured as is. ``auto`` picks true pixels only for a terminal
    it knows draws them; tmux hides the outer terminal's escapes, so inside tmux it takes the Kitty
    protocol only when ``tmux_passthrough`` is true and the outer terminal (whose variables tmux keeps)
    is kitty or Ghostty. The browser (textual-serve's driver) always gets half blocks.
    """
    if requested not in MODES:
        raise ValueError(f"graphics must be one of {', '.join(MODES)}, got {requested!r}")
    if requested != "auto":
        return requested
    term = env.get("TERM", "").lower()
    program = env.get("TERM_PROGRAM", "").lower()
    if "web_driver" in env.get("TEXTUAL_DRIVER", "") or program == "textual":
        return "halfblock"  # a browser tab through textual-serve: xterm.js draws cells only
    if term in ("", "dumb", "linux") or env.get("NO_GRAPHICS"):
        return "halfblock"
    outer_kitty = bool(env.get("KITTY_WINDOW_ID") or env.get("GHOSTTY_RESOURCES_DIR"))
    if in_tmux(env):
        return "kitty" if tmux_passthrough and outer_kitty else "halfblock"
    if term.startswith("screen"):
        return "halfblock"  # GNU screen passes neither protocol on
    if term in _KITTY_TERMS or program in _KITTY_PROGRAMS or env.get("KITTY_WINDOW_ID"):
        return "kitty"
    if term in _SIXEL_TERMS or program in _SIXEL_PROGRAMS or env.get("KONSOLE_VERSION") \
            or env.get("WEZTERM_EXECUTABLE"):
        return "sixel"
    return "halfblock"  # xterm, VS Code, Alacritty, GNOME Terminal, anything unknown


def in_tmux(env: Mapping[str, str]) -> bool:
    return bool(env.get("TMUX")) or env.get("TERM", "").lower().startswith("tmux") \
        or env.get("TERM_PROGRAM", "").lower() == "tmux"


def tmux_allows_passthrough(env: Mapping[str, str]) -> bool:
    """Whether the tmux we run in passes escapes on (``set -g allow-passthrough on``, tmux 3.3+)."""
    if not env.get("TMUX") or shutil.which("tmux") is None:
        return False
    try:
        out = subprocess.run(["tmux", "show-options", "-gv", "allow-passthrough"], capture_output=True,
                             text=True, timeout=2).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return False
    return out in ("on", "all")


# -- the process-wide settings -----------------------------------------------------------------------
@dataclass
class Settings:
    mode: str = "halfblock"
    smooth: bool = False
    zoom: int = 8
    tmux: bool = False  # wrap Kitty escapes for tmux passthrough
    kitty_8bit: bool = False  # no truecolour: placeholder cells carry the image id as a 256-colour index
    cell_px: tuple[int, int] = (10, 20)  # one cell's width and height in pixels
    write: Callable[[str], None] | None = None  # where Kitty escapes go (default: the real stdout)
    widgets: "weakref.WeakSet[Any]" = field(default_factory=weakref.WeakSet)

    @property
    def true_pixels(self) -> bool:
        return self.mode in TRUE_PIXEL_MODES


settings = Settings()


def prepare(requested: str = "auto", env: Mapping[str, str] | None = None) -> str:
    """Choose the mode and get textual-image ready for it; call before the app starts. Returns the mode."""
    env = os.environ if env is None else env
    passthrough = tmux_allows_passthrough(env) if requested == "auto" and in_tmux(env) else None
    mode = choose_graphics(env, requested, tmux_passthrough=passthrough)
    settings.mode = mode
    settings.tmux = in_tmux(env)
    settings.kitty_8bit = env.get("COLORTERM", "").lower() not in ("truecolor", "24bit")
    if mode in TRUE_PIXEL_MODES:
        settings.cell_px = _load_textual_image()
    return mode


def _load_textual_image() -> tuple[int, int]:
    """Import textual-image before Textual owns stdin, asking the terminal only for its cell size.

    On import, textual-image also asks the terminal whether it speaks Sixel or the Kitty protocol. We
    have chosen already, and a late answer (tmux answers some, after textual-image stopped waiting)
    would reach Textual as key presses (it opened the help screen). So the import sees no terminal,
    and whatever the terminal still answers is discarded before the app starts.
    """
    from textual_image._terminal import get_cell_size

    size = get_cell_size()  # cached: later calls (the widgets) ask nothing
    real = sys.__stdout__

    class _NotATerminal:
        def isatty(self) -> bool:
            return False

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    sys.__stdout__ = _NotATerminal()  # type: ignore[misc, assignment]
    try:
        import textual_image.renderable  # noqa: F401
        import textual_image.widget  # noqa: F401
    finally:
        sys.__stdout__ = real  # type: ignore[misc]
    _discard_pending_input()
    return max(1, size.width), max(1, size.height)


def _discard_pending_input() -> None:
    stdin = sys.__stdin__
    try:
        if stdin is not None and stdin.isatty():
            import termios
            import time

            time.sleep(0.05)
            termios.tcflush(stdin.fileno(), termios.TCIFLUSH)
    except (ImportError, OSError, ValueError):
        pass


def reset() -> None:
    """Back to half blocks with default toggles (tests)."""
    settings.mode, settings.smooth, settings.zoom, settings.tmux = "halfblock", False, 8, False
    settings.cell_px, settings.write, settings.kitty_8bit = (10, 20), None, False


def _refresh_all() -> None:
    for widget in list(settings.widgets):
        widget.graphics_changed()


def toggle_smooth() -> bool:
    settings.smooth = not settings.smooth
    _refresh_all()
    return settings.smooth


def toggle_zoom() -> int:
    settings.zoom = ZOOMS[(ZOOMS.index(settings.zoom) + 1) % len(ZOOMS)] if settings.zoom in ZOOMS else ZOOMS[0]
    _refresh_all()
    return settings.zoom


# -- pictures ------------------------------------------------------------------------------------------
def pixel_scale(image_shape: tuple[int, int], box_px: tuple[int, int], *, large: bool, zoom: int) -> int:
    """The integer scale a digit is drawn at inside a box of ``box_px`` (width, height) pixels."""
    h, w = image_shape
    fits = max(1, min(box_px[0] // w, box_px[1] // h))
    return min(zoom, fits) if large else fits


def compose_canvas(image: np.ndarray, cells: tuple[int, int], cell_px: tuple[int, int], *, scale: int,
                   smooth: bool) -> tuple[np.ndarray, tuple[int, int]]:
    """The picture for a box of ``cells`` (columns, rows): black, with the digit at ``scale`` centred.

    Returns the uint8 (H, W) canvas and the digit's top-left corner in it (tests read the digit back).
    """
    from PIL import Image

    cols, rows = cells
    width, height = cols * cell_px[0], rows * cell_px[1]
    canvas = np.zeros((height, width), dtype=np.uint8)
    h, w = image.shape
    sw, sh = min(w * scale, width), min(h * scale, height)
    resample = Image.Resampling.BILINEAR if smooth else Image.Resampling.NEAREST
    digit = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), mode="L").resize((sw, sh), resample)
    top, left = (height - sh) // 2, (width - sw) // 2
    canvas[top:top + sh, left:left + sw] = np.asarray(digit)
    return canvas, (top, left)


# -- the Kitty protocol ----------------------------------------------------------------------------------
def tmux_wrap(sequence: str) -> str:
    """An escape wrapped for tmux's passthrough (every ESC inside doubled)."""
    return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"


def _emit(sequence: str) -> None:
    if settings.tmux:
        sequence = tmux_wrap(sequence)
    if settings.write is not None:
        settings.write(sequence)
        return
    out: IO[str] | None = sys.__stderr__  # where Textual's driver writes, so the two stay in order
    if out is not None:
        out.write(sequence)
        out.flush()


def kitty_renderable(picture: Any, cols: int, rows: int) -> Any:
    """textual-image's Kitty (TGP) renderable for a PIL picture of exactly ``cols x rows`` cells, whose
    escapes go through ``_emit`` (so tmux passthrough and tests can take them)."""
    from textual_image.renderable import tgp

    class KittyImage(tgp.Image):
        def _send_image_to_terminal(self, width: int, height: int) -> None:
            # The placeholder cells carry the id in their colour: 24 bits, or in a 256-colour terminal
            # an index 16..255 (0..15 are theme colours that Textual may repaint).
            n = next(tgp.Image._image_id_counter)
            self.terminal_image_id = 16 + n % 240 if settings.kitty_8bit else n % 0xFFFFFF + 1
            data = self._image_data.scaled(width, height).to_base64()
            first = True
            while data:  # PNG (f=100) in base64, 4096 bytes a chunk; later chunks carry only m= (the spec)
                chunk, data = data[:4096], data[4096:]
                keys = f"a=t,i={self.terminal_image_id},f=100,q=2," if first else "q=2,"
                _emit(f"{tgp._TGP_MESSAGE_START}{keys}m={1 if data else 0};{chunk}{tgp._TGP_MESSAGE_END}")
                first = False

        def _create_virtual_placement(self, width: int, height: int) -> None:
            _emit(f"{tgp._TGP_MESSAGE_START}a=p,i={self.terminal_image_id},c={width},r={height},U=1,q=2"
                  f"{tgp._TGP_MESSAGE_END}")

        def cleanup(self) -> None:
            if self.terminal_image_id:
                _emit(f"{tgp._TGP_MESSAGE_START}a=d,d=I,i={self.terminal_image_id},q=2{tgp._TGP_MESSAGE_END}")
                self.terminal_image_id = None

        def _render_diacritics(self, width: int, height: int):
            if not settings.kitty_8bit:
                yield from super()._render_diacritics(width, height)
                return
            from rich.segment import Segment
            from rich.style import Style

            style = Style(color=f"color({self.terminal_image_id})")
            marks = tgp._NUMBER_TO_DIACRITIC
            for r in range(height):
                line = "".join(f"{chr(tgp._PLACEHOLDER)}{chr(marks[r])}{chr(marks[c])}" for c in range(width))
                yield Segment(line + "\n", style=style)

    return KittyImage(picture, cols, rows)


# -- keys (the app binds them in true-pixel modes only, so the half-block app is unchanged) ----------------
def key_bindings() -> list:
    from textual.binding import Binding

    if not settings.true_pixels:
        return []
    return [Binding("z", "graphics('zoom')", "Zoom 4x/8x", show=False,
                    tooltip="True pixels: show the large digit at 4x or 8x its size"),
            Binding("b", "graphics('smooth')", "Smooth/sharp", show=False,
                    tooltip="True pixels: smooth (bilinear) scaling or nearest neighbour")]


def bind_keys(app: Any) -> None:
    for binding in key_bindings():
        app.bind(binding.key, binding.action, description=binding.description, show=False)


def run_key(app: Any, what: str) -> None:
    if not settings.true_pixels:
        return
    if what == "zoom":
        app.notify(f"large digits at {toggle_zoom()}x", timeout=2)
    elif what == "smooth":
        app.notify("smooth scaling" if toggle_smooth() else "nearest-neighbour scaling (sharp pixels)", timeout=2)
