"""The sampling screen: digits and arrows change what is drawn, export writes real files, bad paths
leave everything as it was."""

from __future__ import annotations

import contextlib

import numpy as np
from PIL import Image
from textual.widgets import Input
from helpers.tui import asynctest, wait_for

from tui_denoiser.tui.app import DenoiserApp
from tui_denoiser.tui.components.step_strip import StepStrip
from tui_denoiser.tui.widgets.digit_image import DigitImage


def _app(tmp_path, checkpoint) -> DenoiserApp:
    return DenoiserApp(checkpoint=str(checkpoint), runs_root=tmp_path / "runs", export_dir=tmp_path / "exports",
                       warm_imports=False)


@contextlib.asynccontextmanager
async def _on_the_shipped_model(tmp_path):
    """The sampling screen on the shipped default model, its first picture drawn: (pilot, screen)."""
    from tui_denoiser.core.paths import DEFAULT_MODEL

    app = _app(tmp_path, DEFAULT_MODEL)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.sampling_screen
        await wait_for(pilot, lambda: screen.frames and screen.pending_request is None)
        yield pilot, screen


def _big(screen) -> np.ndarray:
    return screen.query_one("#big", DigitImage).image.copy()


@asynctest
async def test_digit_and_arrow_keys_change_what_is_drawn(tmp_path, tiny_checkpoint):
    app = _app(tmp_path, tiny_checkpoint)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.sampling_screen
        await wait_for(pilot, lambda: screen.frames and screen.pending_request is None)
        assert app.screen is screen
        total = len(screen.frames) - 1
        assert total == 10  # the original recipe's T
        assert screen.step_text.startswith(f"step {total} of {total}")
        final_7 = _big(screen)

        await pilot.press("3")
        await wait_for(pilot, lambda: screen.shown_request.digit == 3 and screen.pending_request is None)
        assert "digit 3" in screen.step_text
        assert not np.array_equal(_big(screen), final_7)
        final_3 = _big(screen)

        await pilot.press("left")
        assert screen.step_text.startswith(f"step {total - 1} of {total}")
        assert not np.array_equal(_big(screen), final_3)
        await pilot.press("home")
        assert screen.step_text.startswith(f"step 0 of {total}")
        noise = _big(screen)
        assert np.array_equal(noise, screen.frames[0][0])
        await pilot.press("right")
        assert screen.step_text.startswith(f"step 1 of {total}")
        assert screen.query_one(StepStrip).thumbs[1].has_class("-current")
        await pilot.press("end")
        assert np.array_equal(_big(screen), final_3)
        batch = [screen.query_one(f"#batch-{i}", DigitImage).image for i in range(4)]
        assert all(np.array_equal(b, screen.frames[total][i]) for i, b in enumerate(batch))

        seed_before = screen.seed
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.shown_request.seed != seed_before and screen.pending_request is None)
        assert screen.query_one("#seed", Input).value == str(screen.seed)

        await pilot.press("home", "space")
        assert screen.playing
        await wait_for(pilot, lambda: not screen.playing, timeout=10)
        assert screen.step_index == total


@asynctest
async def test_export_writes_png_and_gif(tmp_path, tiny_checkpoint):
    app = _app(tmp_path, tiny_checkpoint)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.sampling_screen
        await wait_for(pilot, lambda: screen.frames and screen.pending_request is None)
        await pilot.press("e")
        await wait_for(pilot, lambda: len(screen.exported) == 2)
        png, gif = screen.exported
        assert "wrote" in str(screen.query_one("#samp-status").content)
        with Image.open(png) as picture:
            assert picture.format == "PNG" and picture.width > picture.height
        with Image.open(gif) as animation:
            assert animation.format == "GIF" and animation.n_frames == len(screen.frames)


@asynctest
async def test_bad_checkpoint_path_shows_one_line_and_keeps_the_model(tmp_path, tiny_checkpoint):
    app = _app(tmp_path, tiny_checkpoint)
    bad = tmp_path / "not-a-checkpoint.pt"
    bad.write_bytes(b"garbage")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.sampling_screen
        await wait_for(pilot, lambda: screen.frames and screen.pending_request is None)
        frames, key = screen.frames, screen.model_key
        path_input = screen.query_one("#model-path", Input)
        path_input.focus()
        path_input.value = str(bad)
        await pilot.press("enter")
        status = screen.query_one("#samp-status")
        await wait_for(pilot, lambda: status.has_class("-error"))
        text = str(status.content)
        assert "\n" not in text.strip() and "kept the current model" in text
        assert screen.model_key == key and screen.frames is frames
        assert path_input.value == str(bad)  # what was typed is not lost


@asynctest
async def test_guidance_steps_and_sampler_are_used(tmp_path, tiny_checkpoint):
    app = _app(tmp_path, tiny_checkpoint)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.sampling_screen
        await wait_for(pilot, lambda: screen.frames and screen.pending_request is None)
        assert "plain conditional" in str(screen.query_one("#guidance-help").content)
        screen.query_one("#steps", Input).value = "4"
        await wait_for(pilot, lambda: len(screen.frames) == 5 and screen.pending_request is None)
        screen.query_one("#sampler").value = "euler"
        await wait_for(pilot, lambda: screen.shown_request.sampler == "euler" and screen.pending_request is None)
        screen.query_one("#guidance", Input).value = "25"  # out of range: one line, nothing lost
        await wait_for(pilot, lambda: screen.query_one("#samp-status").has_class("-error"))
        assert "guidance" in str(screen.query_one("#samp-status").content)
        assert len(screen.frames) == 5


@asynctest
async def test_fields_start_from_the_models_own_sampling_and_an_empty_field_means_its_default(tmp_path):
    async with _on_the_shipped_model(tmp_path) as (pilot, screen):
        defaults = screen.loaded.sampling
        assert defaults.guidance == 1.5 and defaults.guidance_interval is not None
        assert screen.query_one("#guidance", Input).value == "1.5"
        assert screen.shown_request.sampling == defaults  # the interval too, though no field shows it
        screen.query_one("#guidance", Input).value = "2"
        await wait_for(pilot, lambda: screen.shown_request.sampling.guidance == 2 and screen.pending_request is None)
        assert screen.shown_request.sampling.guidance_interval == defaults.guidance_interval
        screen.query_one("#guidance", Input).value = ""  # empty: the model's default, never 1.0
        await wait_for(pilot, lambda: screen.shown_request.sampling == defaults and screen.pending_request is None)


@asynctest
async def test_a_budget_of_model_calls_picks_the_setting_sample_max_calls_picks(tmp_path):
    from tui_denoiser.core.sampling_policy import count_model_calls, within_budget

    async with _on_the_shipped_model(tmp_path) as (pilot, screen):
        defaults = screen.loaded.sampling
        info = screen.query_one("#calls-info")
        assert str(info.content) == f"= {count_model_calls(defaults)} model calls"
        screen.query_one("#max-calls", Input).value = "4"
        await wait_for(pilot, lambda: screen.shown_request.sampling == within_budget(defaults, 4)
                       and screen.pending_request is None)
        assert count_model_calls(screen.shown_request.sampling) <= 4
        assert len(screen.frames) == screen.shown_request.sampling.steps + 1  # its frames step like any sampler's
        assert str(info.content) == f"= {count_model_calls(screen.shown_request.sampling)} model calls"
        screen.query_one("#max-calls", Input).value = "0"  # refused: one line, the picture stays
        await pilot.pause()
        assert "calls must be a positive integer" in str(screen.query_one("#samp-status").content)
        assert screen.shown_request.sampling == within_budget(defaults, 4)
        screen.query_one("#max-calls", Input).value = ""  # no budget: the model's own sampling again
        await wait_for(pilot, lambda: screen.shown_request.sampling == defaults and screen.pending_request is None)


@asynctest
async def test_the_shipped_guide_replaces_the_null_label_by_mouse(tmp_path):
    from tui_denoiser.core.paths import GUIDE_MODEL

    async with _on_the_shipped_model(tmp_path) as (pilot, screen):
        assert screen.shown_request.guide is None  # classifier-free guidance by default
        cfg_final = _big(screen)
        await pilot.click("#guide")  # open the list, then pick the shipped guide with the mouse
        await pilot.pause()
        await pilot.click("#guide SelectOverlay", offset=(2, 1))
        await wait_for(pilot, lambda: screen.shown_request.guide == str(GUIDE_MODEL)
                       and screen.pending_request is None)
        assert not np.array_equal(_big(screen), cfg_final)
        screen.query_one("#guidance", Input).value = "1"  # unguided: the guide plays no part
        await wait_for(pilot, lambda: screen.shown_request.sampling.guidance == 1 and screen.pending_request is None)
        assert screen.shown_request.guide is None


@asynctest
async def test_the_distilled_student_is_picked_by_mouse_and_guides_in_one_call_a_step(tmp_path):
    from textual.widgets import Static

    from tui_denoiser.core.paths import DISTILLED_MODEL

    async with _on_the_shipped_model(tmp_path) as (pilot, screen):
        assert "19 model calls" in str(screen.query_one("#calls-info", Static).content)  # the teacher's CFG
        await pilot.click("#model-select")  # open the list; its rows: blank, edm, distilled, ...
        await pilot.pause()
        await pilot.click("#model-select SelectOverlay", offset=(2, 2))
        await wait_for(pilot, lambda: screen.model_key == str(DISTILLED_MODEL) and screen.frames
                       and screen.pending_request is None, timeout=60)
        assert screen.shown_request.sampling.guided
        assert "14 model calls" in str(screen.query_one("#calls-info", Static).content)  # one call a guided step
        assert str(screen.query_one("#model-info", Static).content) == "edm, distilled"
