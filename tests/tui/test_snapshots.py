"""Screenshots of both screens at 80x24 with deterministic content (no clock before training, a
seeded checkpoint and sampling seed). Update with ``pytest tests/tui --snapshot-update``."""

from __future__ import annotations

from helpers.tui import wait_for

from tui_denoiser.tui.app import DenoiserApp


def test_training_screen_idle(snap_compare, tmp_path):
    app = DenoiserApp(runs_root=tmp_path / "runs", warm_imports=False, start_mode="training")
    assert snap_compare(app, terminal_size=(80, 24))


def test_training_screen_with_a_bad_field(snap_compare, tmp_path):
    app = DenoiserApp(runs_root=tmp_path / "runs", warm_imports=False, start_mode="training")

    async def type_bad_value(pilot):
        field = app.screen.query_one("#field-gamma")
        field.value = "2"
        await pilot.pause()
        app.screen.set_focus(None)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=type_bad_value)


def test_sampling_screen_stepping(snap_compare, tmp_path, tiny_checkpoint):
    app = DenoiserApp(checkpoint=str(tiny_checkpoint), runs_root=tmp_path / "runs", warm_imports=False)

    async def choose_digit_and_step(pilot):
        screen = app.sampling_screen
        await wait_for(pilot, lambda: screen.frames and screen.pending_request is None)
        await pilot.press("3")
        await wait_for(pilot, lambda: screen.shown_request.digit == 3 and screen.pending_request is None)
        await pilot.press("home", "right", "right", "right")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=choose_digit_and_step)


def test_too_small_terminal(snap_compare, tmp_path):
    app = DenoiserApp(runs_root=tmp_path / "runs", warm_imports=False, start_mode="training")
    assert snap_compare(app, terminal_size=(70, 20))


def test_help_screen(snap_compare, tmp_path):
    app = DenoiserApp(runs_root=tmp_path / "runs", warm_imports=False, start_mode="training")
    assert snap_compare(app, terminal_size=(80, 24), press=["f1"])
