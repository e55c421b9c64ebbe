"""Issue 13 on the training screen, driven by recorded metrics.jsonl fixtures (tests/tui/data/run-a, run-b;
re-recorded with tests/tui/data/make_insight_runs.py): the Quality and σ-loss charts, preview history,
compared runs and their bad input, and the GPU panel with a fake reading."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from textual.widgets import TabbedContent
from helpers.tui import asynctest, type_into, wait_for

from tui_denoiser.core.runs.folder import METRICS_FILE
from tui_denoiser.tui.app import DenoiserApp
from tui_denoiser.tui.screens.compare_prompt import ComparePrompt
from tui_denoiser.tui.screens.training_insight import GpuRead
from tui_denoiser.tui.widgets.loss_chart import LossChart, Plot
from tui_denoiser.tui.widgets.preview_grid import PreviewGrid
from tui_denoiser.tui.widgets.quality_chart import QualityChart
from tui_denoiser.tui.widgets.run_progress import RunProgress
from tui_denoiser.tui.widgets.sigma_chart import SigmaChart

DATA = Path(__file__).parent / "data"


def _records(name: str, kind: str) -> list[dict]:
    lines = (DATA / name / METRICS_FILE).read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


@pytest.fixture
def runs(tmp_path) -> Path:
    """A runs folder holding both recorded runs."""
    root = tmp_path / "runs"
    for name in ("run-a", "run-b"):
        shutil.copytree(DATA / name, root / name)
    return root


def _watching(runs: Path) -> DenoiserApp:
    return DenoiserApp(runs_root=runs, watch_dir=str(runs / "run-a"), warm_imports=False)


async def _replayed(pilot, app) -> None:
    screen = app.training_screen
    await wait_for(pilot, lambda: screen.final_event is not None, timeout=30)
    await pilot.pause()


def _active(app) -> str:
    return app.training_screen.query_one("#train-tabs", TabbedContent).active


@asynctest
async def test_watch_draws_quality_and_loss_by_sigma_from_a_recorded_run(runs):
    app = _watching(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await _replayed(pilot, app)
        quality = app.training_screen.query_one(QualityChart)
        recorded = _records("run-a", "quality")
        assert [(p[0], p[1], p[2]) for p in quality.points] == [
            (float(r["global_step"]), r["accuracy"], r["frechet"]) for r in recorded]
        assert quality.floor == pytest.approx(recorded[-1]["frechet_floor"])
        sigma = app.training_screen.query_one(SigmaChart)
        by_sigma = _records("run-a", "loss_by_sigma")
        assert sigma.current[0] == by_sigma[-1]["epoch"] and sigma.current[2] == by_sigma[-1]["loss"]
        assert sigma.previous[0] == by_sigma[-2]["epoch"]  # the previous epoch, drawn faintly
        # v steps through the views; each chart draws inside 80x24
        assert _active(app) == "tab-loss"
        await pilot.press("v")
        assert _active(app) == "tab-quality"
        caption = str(app.training_screen.query_one("#quality-caption").render())
        assert f"step {recorded[-1]['global_step']}" in caption and "floor" in caption
        plots = quality.query(Plot)
        assert len(plots) == 2 and all(p.size.width >= 30 and p.size.height >= 3 for p in plots)
        await pilot.press("v")
        assert _active(app) == "tab-sigma"
        assert "epoch 6" in str(app.training_screen.query_one("#sigma-caption").render())
        assert sigma.query_one(Plot).size.height >= 3
        await pilot.press("l")  # the log toggle applies to the σ chart too
        assert sigma.log_scale


@asynctest
async def test_preview_history_flips_through_the_last_epochs(runs):
    app = _watching(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await _replayed(pilot, app)
        grid = app.training_screen.query_one(PreviewGrid)
        assert sorted(grid.history) == list(range(6)) and grid.epoch == 5
        for _ in range(3):
            await pilot.press("v")
        assert _active(app) == "tab-samples"
        assert app.training_screen.active_bindings["left_square_bracket"].enabled
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert grid.epoch == 3
        assert "after epoch 4" in str(grid.query_one("#preview-caption").render())
        assert grid.images == _records("run-a", "epoch")[3]["preview"]
        await pilot.press("right_square_bracket")
        assert grid.epoch == 4
        for _ in range(5):
            await pilot.press("right_square_bracket")  # past the newest: stays, rings the bell
        assert grid.epoch == 5


@asynctest
async def test_compare_overlays_an_earlier_run_with_a_legend(runs):
    app = _watching(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await _replayed(pilot, app)
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, ComparePrompt))
        assert [path for path, _ in app.screen.runs] == [str(runs / "run-b")]  # the run on show is left out
        await pilot.press("space", "enter")
        screen = app.training_screen
        chart = screen.query_one(LossChart)
        await wait_for(pilot, lambda: bool(chart.overlays))
        name, colour, points = chart.overlays[0]
        assert name == "run-b" and colour == "magenta"
        assert points == [(float(r["epoch"] + 1), r["val_loss"]) for r in _records("run-b", "epoch")]
        assert "run-b" in str(chart.query_one("#chart-caption").render())
        quality = screen.query_one(QualityChart)
        assert [p[0] for p in quality.overlays[0][2]] == [float(r["global_step"]) for r in _records("run-b", "quality")]
        assert "magenta" in [getattr(d, "line_style", None) for d in chart.query_one(Plot)._datasets]
        # picking none clears the overlays
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, ComparePrompt))
        await pilot.press("space", "enter")
        await wait_for(pilot, lambda: not chart.overlays)


@asynctest
async def test_compared_runs_that_cannot_be_read_or_are_of_another_dataset_are_one_line_each(runs):
    other = runs / "fashion"
    other.mkdir()
    lines = (DATA / "run-b" / METRICS_FILE).read_text().splitlines()
    started = json.loads(lines[0])
    started["train_config"]["dataset"] = "fashion-mnist"
    (other / METRICS_FILE).write_text("\n".join([json.dumps(started), *lines[1:]]) + "\n")
    broken = runs / "broken"
    (broken / METRICS_FILE).mkdir(parents=True)  # a folder where the file should be
    app = _watching(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await _replayed(pilot, app)
        screen = app.training_screen
        screen._compare_answered([str(other), str(broken), str(runs / "run-b"), str(runs / "gone")])
        chart = screen.query_one(LossChart)
        await wait_for(pilot, lambda: bool(chart.overlays))
        assert [name for name, _, _ in chart.overlays] == ["run-b"]  # the good one is still compared
        errors = [line for line in screen.event_log.plain_lines if line.startswith("✗")]
        assert errors == [
            "✗ run fashion trained on fashion-mnist, this one on mnist: not compared",
            f"✗ cannot read {broken / METRICS_FILE}: it is a folder",
            f"✗ run folder not found: {runs / 'gone'}",
        ]
        assert screen.final_event is not None and screen.state == "watching"  # nothing else changed


@asynctest
async def test_gpu_panel_is_absent_without_a_gpu_and_shows_a_reading(runs):
    from tui_denoiser.core.runs.gpu_stats import GpuReading, format_gpu

    app = _watching(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await _replayed(pilot, app)
        gpu = app.training_screen.query_one(RunProgress).query_one("#gpu")
        assert not gpu.display  # a CPU run: no panel
        reading = GpuReading("NVIDIA H100", 87.0, 5222.0, 81559.0, 61.0, 310.4)
        app.training_screen.post_message(GpuRead(format_gpu(reading)))
        await wait_for(pilot, lambda: gpu.display)
        assert str(gpu.render()) == "GPU 87% · mem 5.1/79.6 GB · 61°C · 310 W"
        app.training_screen.post_message(GpuRead(""))
        await wait_for(pilot, lambda: not gpu.display)


@asynctest
async def test_the_form_carries_the_eval_settings_and_refuses_bad_ones(tmp_path, tiny_data_dir):
    from tui_denoiser.tui.widgets.train_form import TrainForm

    app = DenoiserApp(data_dir=tiny_data_dir, runs_root=tmp_path / "runs", warm_imports=False,
                      start_mode="training")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        form = app.training_screen.query_one(TrainForm)
        assert form.configs()[1].eval_every is None and form.configs()[1].eval_per_digit == 50
        await type_into(pilot, "#field-eval_every", "0")
        assert not form.valid and app.training_screen.query_one("#btn-start").disabled
        assert "eval every must be a positive number of steps, got 0" in str(form.query_one("#form-error").render())
        await type_into(pilot, "#field-eval_every", "200")
        await type_into(pilot, "#field-eval_per_digit", "-3")
        assert "eval per digit must be an integer in 1..1000, got -3" in str(form.query_one("#form-error").render())
        await type_into(pilot, "#field-eval_per_digit", "20")
        _, train = form.configs()
        assert (train.quality_eval, train.eval_every, train.eval_per_digit) == (True, 200, 20)


@asynctest
async def test_a_run_in_the_app_fills_the_quality_and_sigma_charts(tmp_path, tiny_data_dir):
    app = DenoiserApp(data_dir=tiny_data_dir, runs_root=tmp_path / "runs", warm_imports=False,
                      start_mode="training", train_overrides={"batch_size": 128, "eval_per_digit": 3})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.training_screen
        await type_into(pilot, "#field-epochs", "2")
        await pilot.press("escape", "n")
        await wait_for(pilot, lambda: screen.state == "done", timeout=120)
        assert screen.final_event.kind == "finished"
        quality = screen.query_one(QualityChart)
        assert [p[0] for p in quality.points] == [2.0, 4.0]  # 256 images at batch 128: 2 steps an epoch
        sigma = screen.query_one(SigmaChart)
        assert sigma.current[0] == 1 and sigma.previous[0] == 0
        assert sorted(screen.query_one(PreviewGrid).history) == [0, 1]
        assert any(line.startswith("quality at step 4") for line in screen.event_log.plain_lines)


@asynctest
async def test_compare_offers_the_folders_beside_a_watched_run_and_says_when_there_are_none(tmp_path, runs):
    app = DenoiserApp(runs_root=tmp_path / "empty-root", watch_dir=str(runs / "run-a"), warm_imports=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await _replayed(pilot, app)
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, ComparePrompt))
        assert [path for path, _ in app.screen.runs] == [str(runs / "run-b")]
        await pilot.press("escape")
    lonely = tmp_path / "lonely"
    shutil.copytree(DATA / "run-a", lonely / "run-a")
    app = DenoiserApp(runs_root=tmp_path / "empty-root", watch_dir=str(lonely / "run-a"), warm_imports=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await _replayed(pilot, app)
        await pilot.press("o")
        await pilot.pause()
        assert not isinstance(app.screen, ComparePrompt)
        assert any("no earlier runs in" in n.message for n in app._notifications)
