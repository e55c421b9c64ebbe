"""True pixels: the mode chosen from the environment, and what the Kitty path sends to the terminal.

The half-block path is covered by the existing snapshots (tests/tui/test_snapshots.py), which run in the
default half-block mode and must not change.
"""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from textual.app import App
from helpers.tui import asynctest

from tui_denoiser.tui import graphics
from tui_denoiser.tui.graphics import choose_graphics
from tui_denoiser.tui.widgets.digit_image import DigitImage, Thumb

KITTY_ENV = {"TERM": "xterm-kitty", "KITTY_WINDOW_ID": "1", "COLORTERM": "truecolor"}


@pytest.mark.parametrize("env, passthrough, expected", [
    ({"TERM": "xterm-256color"}, None, "halfblock"),  # a plain xterm
    ({"TERM": "xterm"}, None, "halfblock"),
    ({}, None, "halfblock"),
    ({"TERM": "dumb"}, None, "halfblock"),
    ({"TERM": "linux"}, None, "halfblock"),
    (KITTY_ENV, None, "kitty"),
    ({"TERM": "xterm-ghostty", "TERM_PROGRAM": "ghostty"}, None, "kitty"),
    ({"TERM": "xterm-256color", "TERM_PROGRAM": "WezTerm"}, None, "sixel"),
    ({"TERM": "xterm-256color", "KONSOLE_VERSION": "230805"}, None, "sixel"),
    ({"TERM": "foot"}, None, "sixel"),
    ({"TERM": "xterm-256color", "TERM_PROGRAM": "iTerm.app"}, None, "sixel"),
    ({"TERM": "xterm-256color", "TERM_PROGRAM": "vscode"}, None, "halfblock"),
    ({"TERM": "screen-256color"}, None, "halfblock"),
    # tmux hides the outer terminal: half blocks unless passthrough is on and the outer one is kitty
    ({"TERM": "tmux-256color", "TERM_PROGRAM": "tmux", "TMUX": "/tmp/tmux-0/default,1,0"}, None, "halfblock"),
    ({**KITTY_ENV, "TERM": "tmux-256color", "TERM_PROGRAM": "tmux", "TMUX": "/tmp/t,1,0"}, False, "halfblock"),
    ({**KITTY_ENV, "TERM": "tmux-256color", "TERM_PROGRAM": "tmux", "TMUX": "/tmp/t,1,0"}, True, "kitty"),
    ({"TERM": "screen", "TMUX": "/tmp/t,1,0", "TERM_PROGRAM": "WezTerm"}, True, "halfblock"),
    # the browser: textual-serve's driver
    ({**KITTY_ENV, "TERM_PROGRAM": "textual", "TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver"},
     None, "halfblock"),
])
def test_auto_mode_from_the_environment(env, passthrough, expected):
    assert choose_graphics(env, "auto", tmux_passthrough=passthrough) == expected


@pytest.mark.parametrize("requested", ["kitty", "sixel", "halfblock"])
def test_an_explicit_mode_is_honoured(requested):
    assert choose_graphics({"TERM": "xterm"}, requested) == requested
    assert choose_graphics({"TMUX": "x", "TERM": "tmux-256color"}, requested) == requested


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="kitty"):
        choose_graphics({}, "ascii")


def test_half_block_mode_never_imports_textual_image():
    """textual-image queries the terminal when imported: half-block mode (the default) must not."""
    code = ("import sys; import tui_denoiser.tui.widgets.digit_image as d;"
            "from tui_denoiser.tui import graphics; graphics.prepare('halfblock');"
            "print('textual_image' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


# -- the Kitty path ------------------------------------------------------------------------------------------
APC = re.compile(r"\x1b_G([^;\x1b]*)(?:;([^\x1b]*))?\x1b\\")


def _digit() -> np.ndarray:
    rng = np.random.default_rng(3)
    image = np.zeros((28, 28), dtype=np.uint8)
    image[4:24, 12:16] = 255
    image[4:8, 8:16] = 200
    image[20:24, 8:20] = rng.integers(30, 255, size=(4, 12), dtype=np.uint8)
    return image


def _images_sent(escapes: list[str]) -> dict[int, tuple[dict[str, str], bytes]]:
    """Every image transmitted (a=t), by id: the first chunk's keys and the joined, decoded payload."""
    stream = "".join(escapes)
    assert APC.sub("", stream) == "", "something other than graphics escapes was written"
    images: dict[int, tuple[dict[str, str], bytes]] = {}
    current: tuple[dict[str, str], list[str]] | None = None
    for keys_text, payload in APC.findall(stream):
        keys = dict(kv.split("=", 1) for kv in keys_text.split(","))
        if keys.get("a") == "t":
            current = (keys, [payload])
        elif current is not None and set(keys) <= {"m", "q"}:
            current[1].append(payload)
        else:
            continue
        if keys["m"] == "0":
            images[int(current[0]["i"])] = (current[0], base64.b64decode("".join(current[1]), validate=True))
            current = None
    return images


class OneDigit(App[None]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size_px = size

    def compose(self):
        yield DigitImage(self.size_px, id="big")
        yield Thumb(14, "7", id="thumb")


@pytest.fixture
def kitty(monkeypatch):
    escapes: list[str] = []
    graphics.reset()
    graphics.settings.mode = "kitty"
    graphics.settings.cell_px = (10, 20)
    graphics.settings.write = escapes.append
    yield escapes
    graphics.reset()


@asynctest
async def test_kitty_sends_the_digits_pixels(kitty):
    image = _digit()
    app = OneDigit(28)
    async with app.run_test(size=(80, 24)) as pilot:
        big = app.query_one("#big", DigitImage)
        big.set_image(image)
        app.query_one("#thumb", Thumb).digit.set_image(image)
        await pilot.pause()
        sent = _images_sent(kitty)
        assert len(sent) == 2, kitty
        by_size = {}
        for keys, png in sent.values():
            assert keys["f"] == "100" and keys["q"] == "2"
            picture = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
            by_size[picture.shape] = picture
        # the big digit: 28 x 14 cells of 10 x 20 px, the digit at 8x (224 px), centred
        picture = by_size[(14 * 20, 28 * 10)]
        canvas, (top, left), scale = big.canvas()
        assert scale == 8
        np.testing.assert_array_equal(picture, canvas)
        np.testing.assert_array_equal(picture[top:top + 224:8, left:left + 224:8], image)
        assert picture.sum() == canvas[top:top + 224, left:left + 224].sum()  # black around it
        # the thumb: 14 x 7 cells = 140 x 140 px, as large as fits (5x)
        thumb = by_size[(7 * 20, 14 * 10)]
        np.testing.assert_array_equal(thumb[0:140:5, 0:140:5], image)
        # each placement is virtual (U=1) with the widget's cell box; the cells are placeholders
        placements = [dict(kv.split("=", 1) for kv in k.split(",")) for k, _ in APC.findall("".join(kitty))
                      if "a=p" in k]
        assert {(p["c"], p["r"], p["U"]) for p in placements} == {("28", "14", "1"), ("14", "7", "1")}
        for row in (0, 13):
            line = big.render_line(row).text
            assert re.fullmatch("(\U0010EEEE[\u0300-\U0001D244]{3}){28}", line), repr(line[:8])


@asynctest
async def test_zoom_and_smoothing_keys_change_the_picture(kitty):
    image = _digit()
    app = OneDigit(28)
    async with app.run_test(size=(80, 24)) as pilot:
        big = app.query_one("#big", DigitImage)
        big.set_image(image)
        await pilot.pause()
        assert big.canvas()[2] == 8
        graphics.toggle_zoom()
        await pilot.pause()
        canvas, (top, left), scale = big.canvas()
        assert scale == 4
        np.testing.assert_array_equal(canvas[top:top + 112:4, left:left + 112:4], image)
        assert "a=d" in "".join(kitty)  # the 8x picture was deleted from the terminal
        sharp = canvas[top:top + 112, left:left + 112]
        assert set(np.unique(sharp)) <= set(np.unique(image))  # nearest neighbour: only the digit's greys
        graphics.toggle_smooth()
        await pilot.pause()
        smooth = big.canvas()[0][top:top + 112, left:left + 112]
        assert not set(np.unique(smooth)) <= set(np.unique(image))  # bilinear: greys in between
        pngs = [np.asarray(Image.open(io.BytesIO(png))) for _, png in _images_sent(kitty).values()]
        assert any(np.array_equal(p.reshape(p.shape[0], p.shape[1], -1)[..., 0], big.canvas()[0]) for p in pngs)


def test_tmux_passthrough_wraps_each_escape(kitty):
    graphics.settings.tmux = True
    graphics._emit("\x1b_Ga=d,i=5\x1b\\")
    assert kitty == ["\x1bPtmux;\x1b\x1b_Ga=d,i=5\x1b\x1b\\\x1b\\"]


def test_half_block_path_is_the_rich_pixels_one():
    from rich_pixels import Pixels

    graphics.reset()
    widget = DigitImage(28)
    widget.set_image(_digit())
    assert isinstance(widget.render(), Pixels)


@asynctest
async def test_the_app_binds_zoom_and_smoothing_keys_only_in_true_pixel_mode(kitty, tmp_path):
    from tui_denoiser.tui.app import DenoiserApp

    app = DenoiserApp(runs_root=tmp_path, warm_imports=False, start_mode="training")
    async with app.run_test(size=(80, 24)) as pilot:
        assert {"z", "b"} <= set(app.active_bindings)
        await app.run_action("graphics('zoom')")
        await app.run_action("graphics('smooth')")
        await pilot.pause()
        assert graphics.settings.zoom == 4 and graphics.settings.smooth
    graphics.reset()
    app = DenoiserApp(runs_root=tmp_path, warm_imports=False, start_mode="training")
    async with app.run_test(size=(80, 24)):
        assert not {"z", "b"} & set(app.active_bindings)


@asynctest
async def test_kitty_without_truecolour_puts_the_image_id_in_a_256_colour_index(kitty):
    graphics.settings.kitty_8bit = True
    app = OneDigit(28)
    async with app.run_test(size=(80, 24)) as pilot:
        big = app.query_one("#big", DigitImage)
        big.set_image(_digit())
        await pilot.pause()
        (image_id,) = [i for i, (keys, _) in _images_sent(kitty).items() if keys["i"] == str(i)][:1]
        assert 16 <= image_id <= 255
        segments = list(big.render_line(0))
        colours = {seg.style.color.number for seg in segments if "\U0010EEEE" in seg.text}
        assert colours == {image_id}
