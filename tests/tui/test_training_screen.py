"""The training screen driven as a person would: form, Start, live chart/LR, pause, resume, stop, quit."""

from __future__ import annotations

import threading
from pathlib import Path

from textual.widgets import Button, Input
from helpers.tui import asynctest, type_into, wait_for

from tui_denoiser.tui.app import DenoiserApp
from tui_denoiser.tui.screens.confirm import ConfirmQuit
from tui_denoiser.tui.widgets.train_form import TrainForm


def _app(tmp_path: Path, data_dir: Path, **overrides) -> DenoiserApp:
    return DenoiserApp(data_dir=data_dir, runs_root=tmp_path / "runs", warm_imports=False, start_mode="training",
                       train_overrides=overrides)


@asynctest
async def test_bad_value_is_marked_and_start_stays_off(tmp_path, tiny_data_dir):
    app = _app(tmp_path, tiny_data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.training_screen
        start = screen.query_one("#btn-start", Button)
        assert not start.disabled
        await type_into(pilot, "#field-batch_size", "0")
        form = screen.query_one(TrainForm)
        assert "batch_size" in form.errors and "batch size" in form.errors["batch_size"]
        assert screen.query_one("#field-batch_size").has_class("-bad")
        assert start.disabled
        assert "batch size" in str(screen.query_one("#form-error").content)
        await type_into(pilot, "#field-lr", "fast")
        assert form.errors["lr"] == "lr must be a number"
        await type_into(pilot, "#field-batch_size", "64")
        await type_into(pilot, "#field-lr", "0.001")
        assert not form.errors and not start.disabled


@asynctest
async def test_recipe_selector_refills_the_form(tmp_path, tiny_data_dir):
    from tui_denoiser.core.recipes import RECIPES

    app = _app(tmp_path, tiny_data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        form = app.training_screen.query_one(TrainForm)
        form.query_one("#field-recipe").value = "edm"
        await pilot.pause()
        assert form.query_one("#field-batch_size", Input).value == str(RECIPES["edm"].train.batch_size)
        model_config, train_config = form.configs()
        assert model_config.parameterization == "edm" and train_config.noise == "edm"


@asynctest
async def test_short_real_training_fills_chart_lr_preview_and_log(tmp_path, tiny_data_dir):
    # A small quality evaluation: this test is about the chart, the LR, the preview and the log.
    app = _app(tmp_path, tiny_data_dir, batch_size=128, eval_per_digit=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.training_screen
        await type_into(pilot, "#field-epochs", "2")
        await type_into(pilot, "#field-step_size", "1")
        await pilot.press("escape")  # leave the field so single-letter keys act
        seen_lr: list[str] = []
        panel = screen.lr_panel
        set_current = panel.set_current

        def record(lr, epoch):  # every value the label shows, however fast the run goes
            set_current(lr, epoch)
            if not seen_lr or seen_lr[-1] != panel.text:
                seen_lr.append(panel.text)

        panel.set_current = record
        await pilot.press("n")
        await wait_for(pilot, lambda: screen.state == "done", timeout=90)
        assert screen.final_event is not None and screen.final_event.kind == "finished"
        assert "1.00E-4" in seen_lr and seen_lr[-1] == "5.00E-5"  # StepLR(1, 0.5) across the boundary
        assert seen_lr.index("1.00E-4") < seen_lr.index("5.00E-5")
        assert len(screen.chart.step_points) >= 2
        assert [int(x) for x, _ in screen.chart.train_points] == [1, 2]
        assert len(screen.chart.val_points) == 2
        assert screen.lr_panel.schedule == [1e-4, 5e-5]
        preview = screen.query_one("#preview")
        assert preview.epoch == 1 and len(preview.images) == 10
        log = "\n".join(screen.event_log.plain_lines)
        assert "checkpoint saved" in log and str(screen.run_dir) in log
        assert (screen.run_dir / "last.pt").is_file()
        await pilot.press("l")
        assert screen.chart.log_scale


@asynctest
async def test_pause_resume_stop_continue_and_quit(tmp_path, tiny_data_dir):
    # 64 steps an epoch (batch 4), 200 epochs: still training whenever the test acts.
    app = _app(tmp_path, tiny_data_dir, batch_size=4, epochs=200, preview=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.training_screen
        await pilot.press("n")
        await wait_for(pilot, lambda: len(screen.chart.step_points) >= 1, timeout=60)
        await pilot.press("p")
        assert screen.state == "paused"
        await pilot.pause(0.6)  # let the trainer reach its pause check
        before = len(screen.chart.step_points)
        await pilot.pause(1.0)
        assert len(screen.chart.step_points) <= before + 1
        await pilot.press("p")
        assert screen.state == "running"
        await wait_for(pilot, lambda: len(screen.chart.step_points) > before + 1, timeout=60)
        await pilot.press("x")
        await wait_for(pilot, lambda: screen.state == "done", timeout=60)
        assert screen.final_event.kind == "finished" and screen.final_event.stopped
        assert any("checkpoint saved (stop" in line for line in screen.event_log.plain_lines)
        run_dir = screen.run_dir
        steps_at_stop = screen.final_event.global_step

        # Continue the same run folder from its checkpoint, then quit while it trains.
        await pilot.press("c")
        await wait_for(pilot, lambda: any("run started at epoch" in l for l in screen.event_log.plain_lines[-5:]))
        assert screen.run_dir == run_dir
        await wait_for(pilot, lambda: screen.query_one("#progress").query_one("#step-bar").progress > 0)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmQuit)
        await pilot.press("y")
        await wait_for(pilot, lambda: not screen.is_training, timeout=60)
    assert screen.final_event is not None and screen.final_event.global_step > steps_at_stop
    assert not [t for t in threading.enumerate() if "trainer" in t.name.lower()]


@asynctest
async def test_watch_replays_a_run_folder_read_only(tmp_path, tiny_checkpoint):
    app = DenoiserApp(runs_root=tmp_path / "runs", watch_dir=str(tiny_checkpoint.parent), warm_imports=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.training_screen
        await wait_for(pilot, lambda: screen.final_event is not None, timeout=30)
        assert screen.state == "watching"
        assert len(screen.chart.train_points) == 1
        assert screen.query_one("#btn-start", Button).disabled
        assert any("checkpoint saved" in line for line in screen.event_log.plain_lines)


@asynctest
async def test_a_core_error_about_a_setting_is_shown_on_its_form_field(tmp_path, tiny_data_dir):
    import torch

    if torch.cuda.is_available():
        import pytest

        pytest.skip("needs a machine without CUDA, so that asking for it fails")
    app = _app(tmp_path, tiny_data_dir, device="cuda")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        screen = app.training_screen
        await wait_for(pilot, lambda: screen.state == "done", timeout=60)
        error = str(screen.query_one("#form-error").content)
        assert "device cuda was asked for" in error and "--device" not in error
        assert screen.query_one("#field-device").has_class("-bad")
