"""App-wide behaviour: fast first paint without torch, the too-small notice, help, the command palette."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from textual.widgets import Footer

from helpers.tui import asynctest

from tui_denoiser.tui.app import DenoiserApp, run_app
from tui_denoiser.tui.screens.help import HelpScreen
from tui_denoiser.tui.screens.sampling import SamplingScreen
from tui_denoiser.tui.screens.training import TrainingScreen
from tui_denoiser.tui.widgets.too_small import TooSmall

REPO = Path(__file__).resolve().parents[2]


def test_app_module_and_first_paint_need_no_torch():
    code = (
        "import asyncio, sys\n"
        "from tui_denoiser.tui.app import DenoiserApp\n"
        "assert 'torch' not in sys.modules, 'importing the app imported torch'\n"
        "async def main():\n"
        "    app = DenoiserApp(warm_imports=False, start_mode='training')\n"
        "    async with app.run_test(size=(80, 24)) as pilot:\n"
        "        await pilot.pause()\n"
        "        assert app.screen.id == 'training'\n"
        "        assert 'torch' not in sys.modules, 'the first paint imported torch'\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_run_app_has_the_cli_signature():
    import inspect

    assert list(inspect.signature(run_app).parameters) == ["checkpoint", "data_dir", "runs_root", "watch_dir"]


@asynctest
async def test_too_small_terminal_says_so_and_recovers(tmp_path):
    app = DenoiserApp(runs_root=tmp_path, warm_imports=False, start_mode="training")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        notice = app.screen.query_one(TooSmall)
        assert not notice.display or notice.region.area == 0
        await pilot.resize_terminal(60, 20)
        await pilot.pause()
        assert app.has_class("-too-small")
        assert notice.region.area > 0
        assert app.screen.query_one(".body").region.area == 0
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not app.has_class("-too-small")
        assert notice.region.area == 0
        assert app.screen.query_one(".body").region.area > 0


@asynctest
async def test_one_key_switches_screens_and_help_lists_every_key(tmp_path):
    app = DenoiserApp(runs_root=tmp_path, warm_imports=False, start_mode="training")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, TrainingScreen)
        await pilot.press("f3")
        await pilot.pause()
        assert isinstance(app.screen, SamplingScreen)
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, TrainingScreen)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        shown = {b.key for _title, bindings in app.screen.sections for b in bindings}
        for key in ("n", "p", "x", "c", "l", "0", "left", "home", "end", "space", "r", "e", "f1", "f2", "f3",
                    "ctrl+q", "ctrl+p"):
            assert key in shown, key
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, TrainingScreen)


@asynctest
async def test_command_palette_lists_the_screen_actions(tmp_path):
    app = DenoiserApp(runs_root=tmp_path, warm_imports=False, start_mode="training")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Start", "Pause", "Stop", "Continue", "Training screen", "Sampling screen", "Keys"} <= titles
        footer_keys = {k for k, b in app.screen.active_bindings.items() if b.binding.show}
        assert {"n", "f1", "ctrl+q"} <= footer_keys
        assert app.screen.query_one(Footer)
