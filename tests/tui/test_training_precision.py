"""The training form's precision control: bf16 auto (the core decides when a run starts, in the
worker) unless forced on or off; the line under it, and the log, say what was chosen and why.
No real probe runs (tests/tui/conftest.py fakes its timings)."""

from __future__ import annotations

import threading
from pathlib import Path

from helpers.tui import asynctest, wait_for
from textual.widgets import Select, Static

from tui_denoiser.core import precision
from tui_denoiser.core.checkpoint import load_checkpoint
from tui_denoiser.core.precision import Capabilities
from tui_denoiser.tui.app import DenoiserApp
from tui_denoiser.tui.widgets.train_form import TrainForm

AVX2_CPU = Capabilities("cpu", False, "test CPU", 2, ("avx2",))


def _app(tmp_path: Path, data_dir: Path, **overrides) -> DenoiserApp:
    return DenoiserApp(data_dir=data_dir, runs_root=tmp_path / "runs", warm_imports=False, start_mode="training",
                       train_overrides=overrides)


def _hint(form: TrainForm) -> str:
    return str(form.query_one("#precision-line", Static).content)


@asynctest
async def test_bf16_is_auto_and_can_be_forced_on_or_off(tmp_path, tiny_data_dir):
    app = _app(tmp_path, tiny_data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        form = app.training_screen.query_one(TrainForm)
        field = form.query_one("#field-bf16", Select)
        assert field.value == "auto" and _hint(form) == "auto: chosen when a run starts"
        assert form.precision_request() == (None, None)
        # As a person would: open the list, one down (on), choose.
        field.focus()
        await pilot.press("enter", "down", "enter")
        await pilot.pause()
        assert field.value == "on" and _hint(form) == "forced on"
        assert form.precision_request() == (True, None) and form.configs()[1].bf16 is True
        field.value = "off"
        await pilot.pause()
        assert _hint(form) == "forced off" and form.configs()[1].bf16 is False
        # Another recipe refills the form but keeps the person's choice.
        form.query_one("#field-recipe", Select).value = "edm"
        await pilot.pause()
        assert field.value == "off" and form.precision_request() == (False, None)


@asynctest
async def test_a_run_decides_in_the_worker_and_says_why_and_continue_decides_again(
        tmp_path, tiny_data_dir, monkeypatch):
    monkeypatch.setattr(precision, "detect_capabilities", lambda device: AVX2_CPU)
    threads: list[str] = []
    probe = precision.probe_timings  # the conftest's fake

    def recording(*args):
        threads.append(threading.current_thread().name)
        return probe(*args)

    monkeypatch.setattr(precision, "probe_timings", recording)
    app = _app(tmp_path, tiny_data_dir, batch_size=32, epochs=1, max_steps=1, preview=False, quality_eval=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.training_screen
        form = screen.query_one(TrainForm)
        form.query_one("#field-bf16", Select).value = "on"
        await pilot.pause()
        await pilot.press("escape", "n")
        await wait_for(pilot, lambda: screen.state == "done", timeout=60)
        assert screen.final_event.kind == "finished"
        log = screen.event_log.plain_lines
        said = [line for line in log if line.startswith("precision: ")]
        assert said[0].startswith("precision: timing bf16, bf16+channels-last on this CPU")  # channels-last: auto
        assert said[1].startswith("precision: bf16 forced on (set on the form; this CPU has no native bf16")
        assert _hint(form).startswith("forced on (set on the form")
        saved = load_checkpoint(screen.run_dir / "last.pt")["train_config"]
        assert saved["bf16"] is True

        # Back to auto, Continue: the resumed run decides again (here: fp32 contiguous).
        form.query_one("#field-bf16", Select).value = "auto"
        await pilot.pause()
        await pilot.press("escape", "c")
        await wait_for(pilot, lambda: screen.state == "done" and screen.final_event is not None, timeout=60)
        log = screen.event_log.plain_lines
        said = [line for line in log if line.startswith("precision: ")][-2:]
        assert said == ["precision: timing fp32, fp32+channels-last on this CPU "
                        "(once for this machine, model and batch size)…",
                        "precision: bf16 off: this CPU has no native bf16; "
                        "channels-last off: measured 1.00x contiguous on this CPU"]
        started = max(i for i, line in enumerate(log) if line.startswith("run started"))
        assert log.index(said[1]) < started  # said before the run starts
        assert _hint(form) == "off: this CPU has no native bf16"
        assert load_checkpoint(screen.run_dir / "last.pt")["train_config"]["bf16"] is False
    assert threads and all(name != threading.main_thread().name for name in threads)  # never the event loop


@asynctest
async def test_a_run_that_fails_before_choosing_leaves_the_line_as_it_was(tmp_path, tiny_data_dir, monkeypatch):
    def no_device(*args, **kwargs):
        from tui_denoiser.core.errors import UserError

        raise UserError("{field} cuda was asked for, but no CUDA GPU is available here", field="device",
                        value="cuda")

    monkeypatch.setattr(precision, "choose_precision", no_device)
    app = _app(tmp_path, tiny_data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        screen = app.training_screen
        await wait_for(pilot, lambda: screen.state == "done", timeout=60)
        form = screen.query_one(TrainForm)
        assert _hint(form) == "auto: chosen when a run starts"
        assert screen.query_one("#field-device").has_class("-bad")
