"""The playground screen: drawing with the mouse, the classifier's bars, runs, and one snapshot."""

from __future__ import annotations

import asyncio
import functools

import numpy as np

from tui_denoiser.core.playground import real_digits
from tui_denoiser.tui.app import DenoiserApp
from tui_denoiser.tui.widgets.class_bars import ClassBars
from tui_denoiser.tui.widgets.draw_canvas import DrawCanvas


def asynctest(fn):
    """Run an ``async def`` test with asyncio.run (no asyncio pytest plugin here)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return run


async def _until(pilot, condition, timeout=60.0):
    waited = 0.0
    while not condition():
        await pilot.pause(0.05)
        waited += 0.05
        if waited > timeout:
            raise AssertionError("timed out")


def _app(tmp_path):
    return DenoiserApp(start_mode="playground", warm_imports=False, runs_root=tmp_path / "runs",
                       export_dir=tmp_path / "exports")


async def _drag(pilot, points, button=1):
    await pilot.mouse_down("#canvas", offset=points[0], button=button)
    for point in points[1:]:
        await pilot.hover("#canvas", offset=point)
    await pilot.mouse_up("#canvas", offset=points[-1])


@asynctest
async def test_drawing_paints_both_halves_and_the_bars_read_it(tmp_path):
    app = _app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        canvas = screen.query_one(DrawCanvas)
        assert canvas.size == (28, 14) and canvas.is_blank
        await _drag(pilot, [(14, y) for y in range(2, 12)])  # a vertical stroke down column 14
        image = canvas.as_uint8()
        assert image[4:24, 14].min() == 255  # both pixels of every cell the stroke crossed
        assert image[:, :13].max() == 0 and image[:, 16:].max() == 0  # a round brush 3 px wide
        assert 0 < image[10, 13] < 255 and 0 < image[10, 15] < 255  # with soft edges
        bars = screen.query_one(ClassBars)
        await _until(pilot, lambda: bars.probabilities is not None)
        assert abs(sum(bars.probabilities) - 1) < 1e-4 and bars.best == 1
        assert "reads 1" in str(screen.query_one("#pg-reads").content)
        # right drag erases, undo brings it back, clear empties the canvas and the bars
        await _drag(pilot, [(14, y) for y in range(2, 12)], button=3)
        assert canvas.as_uint8()[4:24, 14].max() == 0
        await pilot.press("u")
        assert canvas.as_uint8()[4:24, 14].min() == 255
        await pilot.press("c")
        assert canvas.is_blank
        await _until(pilot, lambda: bars.probabilities is None)


@asynctest
async def test_erase_and_mask_modes(tmp_path):
    app = _app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        canvas = app.screen.query_one(DrawCanvas)
        await pilot.press("l")  # a real test digit
        assert not canvas.is_blank
        await pilot.press("x")
        assert canvas.mode == "erase"
        await _drag(pilot, [(x, 7) for x in range(0, 28)])
        assert canvas.as_uint8()[13:15].max() == 0
        await pilot.press("x", "m")
        assert canvas.mode == "mask"
        await _drag(pilot, [(x, 12) for x in range(5, 20)])
        assert canvas.mask[24, 8:17].all() and not canvas.mask[:18].any()
        await pilot.press("h")
        assert canvas.mask[14:].all() and not canvas.mask[:14].any()


@asynctest
async def test_edit_inpaint_and_morph_show_every_step(tmp_path):
    app = _app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await _until(pilot, lambda: screen.loaded is not None)
        images, labels = real_digits()
        canvas = screen.query_one(DrawCanvas)
        canvas.load(images[6])  # a 3
        await pilot.press("8", "d")
        await _until(pilot, lambda: screen.request is not None and not screen.running)
        assert screen.request.kind == "edit" and screen.request.digit == 8 and screen.request.sampler == "stochastic"
        assert screen.sigmas[0] == 3.0 and screen.sigmas[-1] == 0.0 and len(screen.frames) == len(screen.sigmas)
        viewer = screen.query_one("#pg-viewer")
        assert viewer.step_text.startswith(f"step {len(screen.frames) - 1} of {len(screen.frames) - 1}")
        await pilot.press("h", "3", "i")
        await _until(pilot, lambda: screen.request.kind == "inpaint" and not screen.running)
        assert np.array_equal(screen.frames[-1][0][:14], images[6][:14])
        await pilot.press("o")
        await _until(pilot, lambda: screen.request.kind == "morph" and not screen.running)
        assert screen.frames[-1].shape == (6, 28, 28)
        assert len(screen.query(".pg-morph-thumb")) == 6
        await pilot.press("e")
        await _until(pilot, lambda: len(screen.exported) == 2)
        assert all((tmp_path / "exports").joinpath(p.rsplit("/", 1)[-1]).is_file() for p in screen.exported)


@asynctest
async def test_bad_sigma_and_empty_canvas_say_so(tmp_path):
    app = _app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await _until(pilot, lambda: screen.loaded is not None)
        await pilot.press("d")  # blank canvas, digit "as read"
        assert "draw something first" in str(screen.query_one("#pg-status").content)
        await pilot.press("i")
        screen.query_one("#pg-sigma").value = "500"
        await pilot.press("escape", "2", "d")
        assert "sigma_max 80" in str(screen.query_one("#pg-status").content)
        screen.query_one("#pg-sigma").value = "50"
        await pilot.press("escape", "d")
        await _until(pilot, lambda: screen.request is not None and not screen.running)
        assert "all black" in str(screen.query_one("#pg-status").content)


@asynctest
async def test_a_run_started_while_one_runs_replaces_it_and_finishes(tmp_path):
    app = _app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await _until(pilot, lambda: screen.loaded is not None)
        images, _ = real_digits()
        screen.query_one(DrawCanvas).load(images[6])
        await pilot.press("8")
        screen.action_run("edit")
        screen.action_run("inpaint")  # refused (nothing masked): the first run goes on
        assert screen.running and "mark the region" in str(screen.query_one("#pg-status").content)
        screen.action_run("morph")  # while the edit still runs: it is stopped, the morph shows
        await _until(pilot, lambda: not screen.running, timeout=30)
        assert screen.request.kind == "morph" and screen.frames[-1].shape == (6, 28, 28)


@asynctest
async def test_f4_and_p_open_the_playground(tmp_path):
    app = DenoiserApp(start_mode="sampling", warm_imports=False, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f4")
        assert app.current_mode == "playground"
        await pilot.press("f3", "p")
        assert app.current_mode == "playground"


def test_playground_snapshot(snap_compare, tmp_path):
    app = _app(tmp_path)

    async def edit_a_real_three(pilot):
        screen = app.screen
        await _until(pilot, lambda: screen.loaded is not None)
        images, _ = real_digits()
        screen.query_one(DrawCanvas).load(images[6])
        await _until(pilot, lambda: screen.probabilities is not None)
        await pilot.press("8", "d")
        await _until(pilot, lambda: screen.request is not None and not screen.running)
        await pilot.press("home", "right", "right")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=edit_a_real_three)
