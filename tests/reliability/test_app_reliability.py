"""The app: watching a live run folder, attaching from the training screen, and bad input (one line)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from helpers import badfiles
from tui_denoiser.tui.app import DenoiserApp
from tui_denoiser.tui.screens.watch_prompt import WatchPrompt


async def wait_for(pilot, condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s")
        await pilot.pause(0.05)


def _start_headless_run(run_dir, tiny_data_dir, stop: threading.Event) -> threading.Thread:
    """A run in another thread that only writes its folder (as a headless process would)."""
    from tui_denoiser.core.config import ModelConfig, TrainConfig
    from tui_denoiser.core.training import Trainer

    trainer = Trainer(ModelConfig(channels=(8, 8, 8)),
                      TrainConfig(epochs=400, batch_size=16, device="cpu", step_size=2, gamma=0.5),
                      run_dir=run_dir, data_dir=tiny_data_dir, stop_event=stop)
    thread = threading.Thread(target=trainer.run, daemon=True)
    thread.start()
    return thread


def test_watch_follows_a_live_run(tmp_path, tiny_data_dir):
    run_dir = tmp_path / "run"
    stop = threading.Event()
    thread = _start_headless_run(run_dir, tiny_data_dir, stop)

    async def scenario():
        app = DenoiserApp(watch_dir=run_dir, warm_imports=False)
        async with app.run_test(size=(100, 32)) as pilot:
            screen = app.training_screen
            assert screen.state == "watching"
            await wait_for(pilot, lambda: len(screen.chart.train_points) >= 1)
            first = (len(screen.chart.step_points), len(screen.chart.train_points))
            await wait_for(pilot, lambda: len(screen.chart.train_points) >= first[1] + 2)
            assert len(screen.chart.step_points) > first[0], "the chart moves while the run appends"
            assert screen.lr_panel.schedule and screen.lr_panel.schedule[2] == pytest.approx(
                screen.lr_panel.schedule[0] * 0.5)
            from tui_denoiser.tui.widgets.preview_grid import PreviewGrid

            preview = screen.query_one(PreviewGrid)
            assert preview.images is not None and preview.epoch is not None, "the preview shows the run's digits"
            stop.set()  # the headless run stops (saves, writes Finished); watching goes on, read only
            await wait_for(pilot, lambda: screen.final_event is not None)
            assert screen.state == "watching"
            await pilot.press("x")  # stop watching
            await wait_for(pilot, lambda: screen.state == "done")
            assert screen.run_dir is None, "Continue never resumes a folder another process owns"

    try:
        asyncio.run(scenario())
    finally:
        stop.set()
        thread.join(60)


def test_w_asks_for_a_run_folder_and_attaches(tmp_path, tiny_data_dir):
    from tui_denoiser.core.config import ModelConfig, TrainConfig
    from tui_denoiser.core.training import Trainer

    runs = tmp_path / "runs"
    run_dir = runs / "finished-run"
    Trainer(ModelConfig(channels=(8, 8, 8)), TrainConfig(epochs=2, batch_size=64, device="cpu", preview=False),
            run_dir=run_dir, data_dir=tiny_data_dir).run()

    async def scenario():
        app = DenoiserApp(runs_root=runs, warm_imports=False, start_mode="training")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("w")
            await wait_for(pilot, lambda: isinstance(app.screen, WatchPrompt))
            from textual.widgets import Input

            assert app.screen.query_one(Input).value == str(run_dir), "the newest run is suggested"
            await pilot.press("enter")
            screen = app.training_screen
            await wait_for(pilot, lambda: len(screen.chart.train_points) == 2)
            assert screen.state == "watching" and screen.final_event is not None

            await pilot.press("x")
            await wait_for(pilot, lambda: screen.state == "done")
            bad = tmp_path / "bad-run"
            (bad / "metrics.jsonl").mkdir(parents=True)
            await pilot.press("w")
            await wait_for(pilot, lambda: isinstance(app.screen, WatchPrompt))
            app.screen.query_one(Input).value = str(bad)
            await pilot.press("enter")
            await wait_for(pilot, lambda: any("it is a folder" in str(n.message) for n in app._notifications))
            assert screen.state == "done"

    asyncio.run(scenario())


def _notes(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


@pytest.mark.parametrize("field, text, words", [
    ("epochs", "ten", "must be a whole number"),
    ("lr", "fast", "must be a number"),
    ("noise_levels", "0", "noise levels"),
    ("batch_size", "-4", "batch"),
])
def test_bad_form_fields_show_one_line_and_keep_start_off(field, text, words):
    from textual.widgets import Button, Input, Static

    async def scenario():
        app = DenoiserApp(warm_imports=False, start_mode="training")
        async with app.run_test(size=(80, 24)) as pilot:
            box = app.screen.query_one(f"#field-{field}", Input)
            box.value = text
            for _ in range(50):  # under load the validation message can take more than a frame
                await pilot.pause(0.1)
                error = str(app.screen.query_one("#form-error", Static).render())
                if words in error and app.screen.query_one("#btn-start", Button).disabled:
                    break  # the text and Start's state update on different messages
            assert words in error and "\n" not in error.strip(), error
            assert app.screen.query_one("#btn-start", Button).disabled

    asyncio.run(scenario())


@pytest.mark.parametrize("kind, words", [
    ("other_shape", "do not fit its model config"),
    ("truncated", "truncated or corrupt"),
    ("not_checkpoint", "not a denoiser-tui checkpoint"),
    ("pickle", "could run code; refused"),
])
def test_bad_checkpoint_in_the_app_is_one_line(tmp_path, kind, words):
    from textual.widgets import Static

    files = badfiles.make_all(tmp_path / "bad")

    async def scenario():
        app = DenoiserApp(checkpoint=files[kind], warm_imports=False)
        async with app.run_test(size=(80, 24)) as pilot:
            status = app.screen.query_one("#samp-status", Static)
            await wait_for(pilot, lambda: "✗" in str(status.render()))
            assert words in str(status.render())

    asyncio.run(scenario())
    assert not (tmp_path / "bad" / "PWNED").exists()


def test_missing_data_offline_in_the_app(tmp_path, monkeypatch):
    import socket

    from torchvision import datasets

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(datasets.MNIST, "mirrors", [f"http://127.0.0.1:{port}/"])

    async def scenario():
        app = DenoiserApp(data_dir=tmp_path / "empty", runs_root=tmp_path / "runs", warm_imports=False, start_mode="training",
                          train_overrides={"device": "cpu"})
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("n")
            await wait_for(pilot, lambda: any("could not be downloaded" in n for n in _notes(app)))
            assert app.training_screen.state == "done"

    asyncio.run(scenario())


def test_terminal_below_80x24_says_so():
    from tui_denoiser.tui.widgets.too_small import TooSmall

    async def scenario():
        app = DenoiserApp(warm_imports=False, start_mode="training")
        async with app.run_test(size=(60, 20)) as pilot:
            await pilot.pause(0.1)
            assert app.has_class("-too-small")
            notice = app.screen.query_one(TooSmall)
            assert notice.display and "at least 80x24" in str(notice.render())
            await pilot.resize_terminal(80, 24)
            await pilot.pause(0.1)
            assert not app.has_class("-too-small")

    asyncio.run(scenario())
