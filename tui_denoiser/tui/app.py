"""The Textual app: two modes (training, sampling) over the one headless core.

Importing this module imports no torch: the first screen paints at once, and torch is imported in a
background thread after that first paint (and by the workers that need it).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Iterable

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from tui_denoiser.tui import graphics
from tui_denoiser.tui.screens.confirm import ConfirmQuit
from tui_denoiser.tui.screens.help import HelpScreen
from tui_denoiser.tui.screens.training import TrainingScreen
from tui_denoiser.tui.widgets.too_small import MIN_HEIGHT, MIN_WIDTH


WARM_UP_DELAY_S = 0.3  # after the first frame: import torch in the background (benchmarks/startup.py)


class DenoiserApp(App[None]):
    """``train_overrides``, ``export_dir`` and ``batch`` exist for tests and smoke runs."""

    TITLE = "denoiser-tui"
    CSS_PATH = ["app.tcss", "training.tcss", "sampling.tcss", "playground.tcss"]
    BINDINGS = [
        Binding("f1", "help", "Help", tooltip="This list of keys"),
        Binding("question_mark", "help", "Help", show=False, system=True),
        Binding("f2", "switch_mode('training')", "Train", tooltip="The training screen (training keeps running on the other screen)"),
        Binding("f3", "switch_mode('sampling')", "Sample", tooltip="The sampling screen"),
        Binding("f4", "switch_mode('playground')", "Play", show=False,
                tooltip="The playground: draw a digit, denoise it, inpaint, morph"),
        Binding("t", "switch_mode('training')", "Training screen", show=False, system=True),
        Binding("s", "switch_mode('sampling')", "Sampling screen", show=False, system=True),
        Binding("p", "switch_mode('playground')", "Playground screen", show=False, system=True),
        Binding("ctrl+q", "quit", "Quit", priority=True, tooltip="Quit (asks first while a run trains)"),
    ]

    def __init__(self, *, checkpoint: str | Path | None = None, data_dir: str | Path | None = None,
                 runs_root: str | Path | None = None, watch_dir: str | Path | None = None,
                 train_overrides: dict[str, Any] | None = None, export_dir: str | Path | None = None,
                 batch: int | None = None, start_mode: str | None = None, warm_imports: bool = True,
                 handle_signals: bool = False) -> None:
        super().__init__()
        self.handle_signals = handle_signals
        self.signalled: int | None = None
        self.checkpoint = checkpoint
        self.data_dir = data_dir
        self.runs_root = runs_root
        self.watch_dir = watch_dir
        self.train_overrides = train_overrides
        self.export_dir = export_dir
        self.batch = batch
        planned_mode, self.start_problem = choose_start(checkpoint, watch_dir)
        self.start_mode = start_mode or planned_mode
        self.warm_imports = warm_imports
        self.training_screen: TrainingScreen | None = None
        self.sampling_screen: SamplingScreen | None = None
        self.add_mode("training", self._make_training)
        self.add_mode("sampling", self._make_sampling)
        self.playground_screen: Screen | None = None
        self.add_mode("playground", self._make_playground)
        graphics.bind_keys(self)  # z and b, in true-pixel mode only

    def _make_training(self) -> Screen:
        self.training_screen = TrainingScreen(data_dir=self.data_dir, runs_root=self.runs_root,
                                              train_overrides=self.train_overrides, watch_dir=self.watch_dir)
        return self.training_screen

    def _make_sampling(self) -> Screen:
        # Imported when first shown, not at start-up: the first frame paints ~0.1 s sooner.
        from tui_denoiser.tui.screens.sampling import BATCH, SamplingScreen

        self.sampling_screen = SamplingScreen(runs_root=self.runs_root, checkpoint=self.checkpoint,
                                              export_dir=self.export_dir,
                                              batch=self.batch if self.batch is not None else BATCH)
        return self.sampling_screen

    def _make_playground(self) -> Screen:
        from tui_denoiser.tui.screens.playground import PlaygroundScreen

        self.playground_screen = PlaygroundScreen(checkpoint=self.checkpoint, export_dir=self.export_dir)
        return self.playground_screen

    async def on_mount(self) -> None:
        if self.handle_signals:
            import asyncio

            self._signal_loop = asyncio.get_running_loop()
            self._install_signal_handlers()
        self._check_size(self.size.width, self.size.height)
        await self.switch_mode(self.start_mode)
        if self.start_problem:
            self.notify(self.start_problem, title="No shipped model", severity="warning", timeout=20)
        if self.warm_imports:
            # Not at once: importing torch holds the GIL for seconds, and Textual writes the first
            # frame from its writer thread after this refresh (~0.1 s later paint measured otherwise).
            self.call_after_refresh(self.set_timer, WARM_UP_DELAY_S, self._warm_up)

    @work(thread=True, exclusive=True, group="warm-up", exit_on_error=False)
    def _warm_up(self) -> None:
        """Import torch and the core after the first paint so that Start and sampling begin quickly."""
        import tui_denoiser.core.checkpoint  # noqa: F401
        import tui_denoiser.core.imaging  # noqa: F401
        import tui_denoiser.core.sampling  # noqa: F401
        import tui_denoiser.core.training  # noqa: F401

    # ----------------------------------------------------------------- signals
    SIGNAL_SAVE_WAIT_S = 600.0  # the longest a signal waits for the trainer to save
    SIGNAL_EXIT_GRACE_S = 3.0  # then a clean exit gets this long before the process ends anyway

    def _install_signal_handlers(self) -> None:
        """SIGHUP (the SSH link or tmux session went away), SIGTERM and SIGINT stop a live run, which
        saves a checkpoint, then end the app with status 0. Textual leaves these signals alone.

        Plain ``signal.signal`` handlers, not the event loop's: after SIGHUP the terminal is gone and
        Textual's writes to it can block the event loop for good, so the stop, the wait for the save and
        the exit all happen off the loop (the exit ends the process if a clean one cannot finish)."""
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return
        for name in ("SIGHUP", "SIGTERM", "SIGINT"):
            sig = getattr(signal, name, None)
            if sig is not None:
                signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any = None) -> None:
        import threading

        if self.signalled is not None:
            return
        self.signalled = signum
        screen = self.training_screen
        if screen is not None:
            screen.stop_from_signal()
        threading.Thread(target=self._exit_after_save, name="signal-exit", daemon=True).start()

    def _exit_after_save(self) -> None:
        import os
        import time

        screen = self.training_screen
        if screen is not None:
            screen.trainer_idle.wait(self.SIGNAL_SAVE_WAIT_S)
        loop = getattr(self, "_signal_loop", None)
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self.exit, None, 0)
            except RuntimeError:  # the loop has already closed
                pass
        time.sleep(self.SIGNAL_EXIT_GRACE_S)
        os._exit(0)  # the checkpoint and metrics are on disk; a dead terminal must not keep us alive

    # ----------------------------------------------------------------- size
    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int, height: int) -> None:
        """Below 80x24 the screens hide their bodies and say so; they come back when it grows."""
        self.set_class(width < MIN_WIDTH or height < MIN_HEIGHT, "-too-small")

    # ----------------------------------------------------------------- actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The key for the screen already shown is left out of the footer (it fits 80 columns)."""
        if action == "switch_mode" and parameters and parameters[0] == self.current_mode:
            return False
        return True

    async def action_switch_mode(self, mode: str) -> None:
        await self.switch_mode(mode)
        self.refresh_bindings()

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        sections = [("Everywhere", [b for b in self._bindings_of(self)] + graphics.key_bindings())]
        sections.append(("Training screen", self._bindings_of(TrainingScreen)))
        from tui_denoiser.tui.screens.sampling import SamplingScreen

        sections.append(("Sampling screen", self._bindings_of(SamplingScreen)))
        from tui_denoiser.tui.screens.playground import PlaygroundScreen

        sections.append(("Playground", self._bindings_of(PlaygroundScreen)))
        self.push_screen(HelpScreen(sections))

    @staticmethod
    def _bindings_of(owner: Any) -> list[Binding]:
        seen: list[Binding] = []
        for binding in owner.BINDINGS:
            if isinstance(binding, Binding) and not binding.system:  # system: aliases of a listed key
                seen.append(binding)
        if owner is not TrainingScreen and getattr(owner, "__name__", "") not in ("SamplingScreen", "PlaygroundScreen"):
            seen.append(Binding("ctrl+p", "command_palette", "Command palette"))
        return seen

    def action_graphics(self, what: str) -> None:
        graphics.run_key(self, what)

    async def action_quit(self) -> None:
        """Quitting while a run trains asks first, then stops the run and waits for its thread."""
        screen = self.training_screen
        if screen is not None and screen.is_training and screen.state != "watching":
            if isinstance(self.screen, ConfirmQuit):
                return
            self.push_screen(ConfirmQuit(), self._quit_answered)
            return
        if screen is not None:
            await screen.stop_and_wait()
        self.exit()

    async def _quit_answered(self, stop: bool | None) -> None:
        if not stop:
            return
        screen = self.training_screen
        self.notify("Stopping the run (saving a checkpoint)…", timeout=30)
        if screen is not None:
            if screen.state in ("running", "paused"):
                screen.action_stop()
            await screen.stop_and_wait()
        self.exit()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette lists every action of the app and of the screen it was opened from."""
        yield from super().get_system_commands(screen)
        yield SystemCommand("Training screen", "Train and watch a run live (F2)",
                            partial(self.run_action, "switch_mode('training')"))
        yield SystemCommand("Sampling screen", "Step through sampling a digit (F3)",
                            partial(self.run_action, "switch_mode('sampling')"))
        yield SystemCommand("Playground", "Draw a digit and watch the model denoise it (F4)",
                            partial(self.run_action, "switch_mode('playground')"))
        yield SystemCommand("Keys", "List every key (F1)", self.action_help)
        for binding in getattr(screen, "BINDINGS", []):
            if isinstance(binding, Binding) and binding.description and binding.key != "escape" \
                    and not binding.system:
                key = binding.key_display or binding.key
                yield SystemCommand(binding.description, f"key {key}",
                                    partial(screen.run_action, binding.action))


def choose_start(checkpoint: str | Path | None, watch_dir: str | Path | None) -> tuple[str, str | None]:
    """The screen the app opens on, and a line to show when the shipped model is missing.

    The sampling screen with the named checkpoint or the shipped model, so a new user sees digits at
    once; the training screen when watching a run folder or when there is no model to show."""
    from tui_denoiser.core import paths

    if watch_dir:
        return "training", None
    if checkpoint:
        return "sampling", None
    if paths.DEFAULT_MODEL.is_file():
        return "sampling", None
    return "training", paths.missing_shipped_line(paths.DEFAULT_MODEL)


def run_app(checkpoint: str | None, data_dir: Any, runs_root: Any, watch_dir: str | None) -> int | None:
    """Entry point used by the CLI (which also handles the app's signals)."""
    app = DenoiserApp(checkpoint=checkpoint, data_dir=data_dir, runs_root=runs_root, watch_dir=watch_dir,
                      handle_signals=True)
    app.run()
    return app.return_code
