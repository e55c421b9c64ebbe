"""The training screen: a form, Start/Pause/Stop, and live views of what the core trainer reports.

Training runs in a thread worker that owns nothing on screen: it hands the core ``Trainer`` a stop and a
pause ``threading.Event`` (checked every step) and posts each event the trainer reports as a message.
The worker keeps running when the person switches to the sampling screen.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Button, Footer, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

from tui_denoiser.core.errors import UserError
from tui_denoiser.core.events import (
    CheckpointSaved,
    EpochEnd,
    Failed,
    Finished,
    RunStarted,
    StepUpdate,
    Warning_,
    event_from_json,
)
from tui_denoiser.tui.messages import TrainerCrashed, TrainerEvent, TrainerStep, trainer_message
from tui_denoiser.tui.widgets.event_log import EventLog
from tui_denoiser.tui.widgets.loss_chart import LossChart
from tui_denoiser.tui.widgets.lr_panel import LRPanel
from tui_denoiser.tui.widgets.preview_grid import PreviewGrid
from tui_denoiser.tui.widgets.run_progress import RunProgress
from tui_denoiser.tui.widgets.too_small import TooSmall
from tui_denoiser.tui.widgets.train_form import TrainForm

# idle: nothing ran yet; running/paused/stopping: a worker is alive; done: a run ended (it can be
# continued); watching: following another process's run folder (read only).
STATES = ("idle", "running", "paused", "stopping", "done", "watching")
WATCH_TOKEN = -1  # the run token of events read back from a watched folder


def _leave_a_core_for_the_ui() -> None:
    """CPU training would otherwise take every core and starve the event loop (keys, painting)."""
    import os

    import torch

    cores = os.cpu_count() or 1
    if cores > 1 and torch.get_num_threads() >= cores:
        torch.set_num_threads(cores - 1)


class TrainingScreen(Screen):
    """Drives one trainer at a time; ``train_overrides`` fixes TrainConfig fields the form lacks
    (tests and smoke runs use it for ``max_steps`` or tiny epochs)."""

    AUTO_FOCUS = "#btn-start"  # not a form field, so the letter keys work at once
    BINDINGS = [
        Binding("n", "start", "Start", tooltip="Start a new run with the form's settings"),
        Binding("p", "pause", "Pause", tooltip="Pause or resume the run"),
        Binding("x", "stop", "Stop", tooltip="Stop the run (it saves a checkpoint first)"),
        Binding("c", "continue_run", "Continue", tooltip="Continue the latest run from its last checkpoint"),
        Binding("l", "toggle_log", "Log", tooltip="Loss chart: switch between linear and log scale"),
        Binding("w", "watch_folder", "Watch a run folder", show=False,
                tooltip="Watch a run folder (a headless run, live or finished)"),
        Binding("escape", "leave_field", "Leave field", show=False, tooltip="Leave a form field so the letter keys act"),
    ]

    state: reactive[str] = reactive("idle")

    def __init__(self, *, data_dir: str | Path | None = None, runs_root: str | Path | None = None,
                 train_overrides: dict[str, Any] | None = None, watch_dir: str | Path | None = None) -> None:
        super().__init__(id="training")
        self.data_dir = data_dir
        self.runs_root = runs_root
        self.train_overrides = dict(train_overrides or {})
        self.watch_dir = Path(watch_dir) if watch_dir else None
        self.run_dir: Path | None = None  # the latest run (continued by Continue)
        self.last_checkpoint: str | None = None
        self.final_event: Finished | Failed | None = None
        self._stop = threading.Event()
        self._pause = threading.Event()
        self.trainer_idle = threading.Event()  # clear while a trainer thread runs (set once it returns)
        self.trainer_idle.set()
        self._token = 0
        self._worker: Worker | None = None
        self._epochs = 0

    # ----------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        with Vertical(classes="body"):
            with Horizontal(id="train-top"):
                with Vertical(id="form-panel"):
                    yield TrainForm(overrides=self.train_overrides, id="train-form")
                with Vertical(id="status-panel"):
                    yield Static("Ready: check the form, then Start (n).", id="run-title")
                    with Horizontal(id="train-buttons"):
                        yield Button("Start", id="btn-start", variant="success", compact=True)
                        yield Button("Pause", id="btn-pause", compact=True)
                        yield Button("Stop", id="btn-stop", variant="error", compact=True)
                        yield Button("Continue", id="btn-continue", compact=True)
                    yield RunProgress(id="progress")
                    yield LRPanel(id="lr")
            with TabbedContent(id="train-tabs"):
                with TabPane("Loss", id="tab-loss"):
                    yield LossChart(id="chart")
                with TabPane("Samples", id="tab-samples"):
                    yield PreviewGrid(id="preview")
                with TabPane("Log", id="tab-log"):
                    yield EventLog(id="log")
        yield TooSmall()
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self._sync_controls()
        if self.watch_dir is not None:
            self.attach(self.watch_dir)
        self.query_one("#btn-start", Button).focus()

    def attach(self, run_dir: str | Path) -> bool:
        """Follow a run folder's ``metrics.jsonl`` (another process's run, live or finished): the
        charts, LR and preview show it as if this app had started it. False (and one line) if not."""
        from tui_denoiser.core.events import run_folder_problem

        run_dir = Path(run_dir).expanduser()
        if self.is_training and self.state != "watching":
            self.notify("A run is training here; stop it (x) before watching another.", severity="warning")
            return False
        problem = run_folder_problem(run_dir)
        if problem is not None:
            self.event_log.add(f"✗ {problem}", "error")
            self.notify(problem, title="Cannot watch", severity="error")
            return False
        self._stop.set()  # ends a watcher already following another folder
        self._stop = threading.Event()
        self._pause = threading.Event()
        self.watch_dir = run_dir
        self.run_dir = run_dir
        self.final_event = None
        self.chart.reset()
        self.state = "watching"
        self.query_one("#run-title", Static).update(f"Watching {run_dir.name} (read only)")
        self.event_log.add(f"watching {run_dir / 'metrics.jsonl'} (read only)")
        self._worker = self._watch_run(run_dir, self._stop)
        return True

    def action_watch_folder(self) -> None:
        """Ask for a run folder and follow it (read only)."""
        from tui_denoiser.tui.screens.watch_prompt import WatchPrompt

        self.app.push_screen(WatchPrompt(self._latest_run_dir()), self._watch_answered)

    def _watch_answered(self, answer: str | None) -> None:
        if answer:
            self.attach(answer)

    def _latest_run_dir(self) -> str:
        from tui_denoiser.core.paths import default_runs_root

        root = Path(self.runs_root).expanduser() if self.runs_root else default_runs_root()
        try:
            runs = sorted((p for p in root.iterdir() if (p / "metrics.jsonl").is_file()),
                          key=lambda p: (p / "metrics.jsonl").stat().st_mtime, reverse=True)
        except OSError:
            return ""
        return str(runs[0]) if runs else ""

    @property
    def chart(self) -> LossChart:
        return self.query_one(LossChart)

    @property
    def lr_panel(self) -> LRPanel:
        return self.query_one(LRPanel)

    @property
    def event_log(self) -> EventLog:
        return self.query_one(EventLog)

    @property
    def is_training(self) -> bool:
        """A worker is alive (running, paused or stopping)."""
        return self._worker is not None and self._worker.state in (WorkerState.PENDING, WorkerState.RUNNING)

    # ----------------------------------------------------------------- controls
    def watch_state(self, _old: str, _new: str) -> None:
        self._sync_controls()

    def on_train_form_changed(self, _event: TrainForm.Changed) -> None:
        self._sync_controls()

    def _sync_controls(self) -> None:
        if not self.is_mounted:
            return
        state = self.state
        valid = self.query_one(TrainForm).valid
        busy = state in ("running", "paused", "stopping")
        self.query_one("#btn-start", Button).disabled = busy or state == "watching" or not valid
        self.query_one("#btn-continue", Button).disabled = state != "done" or self.run_dir is None or not valid
        pause = self.query_one("#btn-pause", Button)
        pause.disabled = state not in ("running", "paused")
        pause.label = "Resume" if state == "paused" else "Pause"
        self.query_one("#btn-stop", Button).disabled = state not in ("running", "paused")
        self.query_one(TrainForm).set_enabled(not busy and state != "watching")
        self.set_class(busy, "-busy")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hides keys that do nothing in the current state, so the footer fits 80 columns."""
        state = self.state
        if action == "start":
            return state not in ("running", "paused", "stopping", "watching")
        if action == "pause":
            return state in ("running", "paused")
        if action == "stop":
            return state in ("running", "paused", "watching")
        if action == "continue_run":
            return state == "done" and self.run_dir is not None
        return True

    @on(Button.Pressed, "#btn-start")
    def action_start(self) -> None:
        """Start a new run in a fresh run folder."""
        self._launch(resume=False)

    @on(Button.Pressed, "#btn-continue")
    def action_continue_run(self) -> None:
        """Continue the latest run from its last checkpoint (more epochs if the form asks for them)."""
        if self.state == "done" and self.run_dir is not None:
            self._launch(resume=True)

    @on(Button.Pressed, "#btn-pause")
    def action_pause(self) -> None:
        if self.state == "running":
            self._pause.set()
            self.state = "paused"
            self.event_log.add("paused")
        elif self.state == "paused":
            self._pause.clear()
            self.state = "running"
            self.event_log.add("resumed")

    @on(Button.Pressed, "#btn-stop")
    def action_stop(self) -> None:
        """Ask the trainer to stop; it saves a checkpoint first. While watching: stop following."""
        if self.state == "watching":
            self._stop.set()
            self.state = "done"
            self.query_one("#run-title", Static).update(f"Stopped watching {self.watch_dir}")
            self.event_log.add("stopped watching (the run itself goes on)")
            self.run_dir = None  # Continue never resumes a folder another process may still train in
            self._sync_controls()
            return
        if self.state in ("running", "paused"):
            self._stop.set()
            self._pause.clear()
            self.state = "stopping"
            self.query_one("#run-title", Static).update("Stopping: saving a checkpoint…")
            self.event_log.add("stopping: the trainer saves a checkpoint at the current step")

    def action_toggle_log(self) -> None:
        self.chart.toggle_log()

    def action_leave_field(self) -> None:
        """Escape leaves a form field so that the single-letter keys work again."""
        self.set_focus(None)

    async def stop_and_wait(self) -> None:
        """Stop a live run and wait for its thread to end (used when quitting)."""
        worker = self._worker
        if worker is None:
            return
        self._stop.set()
        self._pause.clear()
        if worker.state in (WorkerState.PENDING, WorkerState.RUNNING):
            try:
                await worker.wait()
            except Exception:  # noqa: BLE001 - the log already has the reason; we are quitting
                pass

    def stop_from_signal(self) -> None:
        """Thread-safe (called from a signal handler): the trainer stops at its next step and saves."""
        self._stop.set()
        self._pause.clear()

    def on_unmount(self) -> None:
        # Belt and braces: never leave a trainer thread running once the screen is gone.
        self._stop.set()
        self._pause.clear()

    # ----------------------------------------------------------------- the worker
    def _launch(self, *, resume: bool) -> None:
        if self.is_training or self.state == "watching":
            return
        configs = self.query_one(TrainForm).configs()
        if configs is None:
            self.notify("Fix the marked field first.", severity="warning")
            return
        model_config, train_config = configs
        if resume:
            run_dir = self.run_dir
            assert run_dir is not None
        else:
            from tui_denoiser.core.paths import new_run_dir

            run_dir = new_run_dir(self.runs_root)
            self.run_dir = run_dir
            self.chart.reset()
        self._stop = threading.Event()
        self._pause = threading.Event()
        self._token += 1
        self.final_event = None
        self.trainer_idle.clear()
        self.state = "running"
        verb = "continuing" if resume else "starting"
        self.query_one("#run-title", Static).update(f"{verb.capitalize()}: loading torch and the data…")
        self.event_log.add(f"{verb} run in {run_dir}")
        self._worker = self._train(model_config, train_config, run_dir, resume, self._token)

    @work(thread=True, exclusive=True, group="training", exit_on_error=False, name="trainer")
    def _train(self, model_config: Any, train_config: Any, run_dir: Path, resume: bool, token: int) -> Any:
        """Runs in a thread: imports torch here (not at app start) and only posts messages."""
        try:
            from tui_denoiser.core.training import Trainer

            _leave_a_core_for_the_ui()

            def report(event: Any) -> None:
                self.post_message(trainer_message(event, token))

            trainer = Trainer(model_config, train_config, run_dir=run_dir, data_dir=self.data_dir,
                              callback=report, stop_event=self._stop, pause_event=self._pause, resume=resume)
            return trainer.run()
        except UserError as err:
            self.post_message(TrainerCrashed(str(err), token))
        except Exception as err:  # noqa: BLE001 - shown as one line; the app must survive it
            self.post_message(TrainerCrashed(f"{type(err).__name__}: {err}", token))
        finally:
            self.trainer_idle.set()
        return None

    @work(thread=True, exclusive=True, group="training", exit_on_error=False, name="watcher")
    def _watch_run(self, run_dir: Path, stop: threading.Event) -> None:
        """Tails another process's ``metrics.jsonl`` and posts its events as if they were ours.

        It keeps following after a Finished or Failed event (a run stopped by a signal may be resumed
        and append again) until the person stops watching; half-written or foreign lines are skipped,
        and a folder that becomes unreadable is one line in the log."""
        worker = get_current_worker()
        path = run_dir / "metrics.jsonl"
        position = 0
        pending = b""
        reported = None
        while not worker.is_cancelled and not stop.is_set():
            try:
                with path.open("rb") as handle:
                    size = handle.seek(0, 2)
                    if size < position:  # replaced by a new file: read it from the start
                        position, pending = 0, b""
                    handle.seek(position)
                    chunk = handle.read()
                    position = handle.tell()
                reported = None
            except FileNotFoundError:
                chunk = b""
            except OSError as exc:
                chunk = b""
                problem = f"cannot read {path} ({exc.strerror or exc})"
                if problem != reported:
                    reported = problem
                    self.post_message(TrainerEvent(Warning_(problem), WATCH_TOKEN))
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                try:
                    event = event_from_json(json.loads(line))
                except (ValueError, TypeError):
                    continue
                # Not coalesced (unlike a live trainer's steps): a replayed backlog keeps every point.
                self.post_message(TrainerEvent(event, WATCH_TOKEN))
            stop.wait(0.5)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker is not self._worker or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                              WorkerState.CANCELLED):
            return
        result = worker.result if event.state == WorkerState.SUCCESS else None
        if isinstance(result, (Finished, Failed)) and self.final_event is None:
            self._handle(result)
        if event.state == WorkerState.ERROR and worker.error is not None:
            self.event_log.add(f"training crashed: {worker.error}", "error")
        if self.state != "watching" or event.worker.name == "watcher":
            self.state = "done"

    # ----------------------------------------------------------------- events
    def on_trainer_crashed(self, message: TrainerCrashed) -> None:
        if message.run_token != self._token:
            return
        self.event_log.add(f"✗ {message.message}", "error")
        self.query_one("#run-title", Static).update(f"✗ {message.message}")
        self.notify(message.message, title="Training failed", severity="error")

    def on_trainer_event(self, message: TrainerEvent) -> None:
        if message.run_token != (WATCH_TOKEN if self.state == "watching" else self._token):
            return
        self._handle(message.event)

    def on_trainer_step(self, message: TrainerStep) -> None:
        """Step updates have their own (coalescing) message type; same handling."""
        self.on_trainer_event(message)

    def _handle(self, event: Any) -> None:
        title = self.query_one("#run-title", Static)
        progress = self.query_one(RunProgress)
        if isinstance(event, StepUpdate):
            position = event.epoch + event.step_in_epoch / max(event.steps_per_epoch, 1)
            self.chart.add_step(position, event.loss)
            progress.step(epoch=event.epoch, step_in_epoch=event.step_in_epoch, images_per_s=event.images_per_s,
                          elapsed_s=event.elapsed_s, eta_s=event.eta_s, gpu_memory_mb=event.gpu_memory_mb)
            self.lr_panel.set_current(event.lr, event.epoch)
        elif isinstance(event, RunStarted):
            self._epochs = event.epochs
            self.run_dir = Path(event.run_dir)
            progress.start(epochs=event.epochs, steps_per_epoch=event.steps_per_epoch,
                           start_epoch=event.start_epoch, device=event.device, device_name=event.device_name)
            self.lr_panel.set_schedule(event.lr_schedule)
            if event.lr_schedule:
                epoch = min(event.start_epoch, len(event.lr_schedule) - 1)
                self.lr_panel.set_current(event.lr_schedule[epoch], epoch)
            if self.state == "watching":  # a resumed run: drop what its previous process did past its checkpoint
                self.chart.trim_after(event.global_step / max(event.steps_per_epoch, 1))
            if event.history and not self.chart.train_points:
                self.chart.load_history(event.history)
            where = f"{event.device_name or event.device}"
            title.update(f"Training on {where} · run {Path(event.run_dir).name}")
            self.event_log.add(f"run started at epoch {event.start_epoch + 1}/{event.epochs} on {where}")
        elif isinstance(event, EpochEnd):
            self.chart.add_epoch(event.epoch + 1, event.train_loss, event.val_loss)
            progress.epoch_end(epoch=event.epoch, elapsed_s=event.elapsed_s, eta_s=event.eta_s,
                               images_per_s=event.images_per_s)
            next_epoch = event.epoch + 1 if event.epoch + 1 < event.epochs else event.epoch
            self.lr_panel.set_current(event.next_lr if event.epoch + 1 < event.epochs else event.lr, next_epoch)
            if event.preview:
                self.query_one(PreviewGrid).show(event.preview, event.epoch)
            self.event_log.add(f"epoch {event.epoch + 1}/{event.epochs}: train {event.train_loss:.4f} · "
                         f"val {event.val_loss:.4f} · lr {event.lr:.2e}")
        elif isinstance(event, CheckpointSaved):
            self.last_checkpoint = event.path
            self.event_log.add(f"checkpoint saved ({event.reason}, epoch {event.epoch}): {event.path}", "good")
        elif isinstance(event, Warning_):
            self.event_log.add(f"! {event.message}", "warn")
            self.notify(event.message, severity="warning")
        elif isinstance(event, Finished):
            self.final_event = event
            verb = "stopped" if event.stopped else "finished"
            where = f"; last checkpoint {event.last_checkpoint}" if event.last_checkpoint else ""
            self.event_log.add(f"run {verb} after {event.epochs_done} epochs ({event.global_step} steps){where}", "good")
            title.update(f"Run {verb} · {event.epochs_done} epochs · Continue (c) resumes it")
            if event.last_checkpoint:
                self.last_checkpoint = event.last_checkpoint
            if self.state == "watching":
                self.event_log.add("the watched run has ended")
        elif isinstance(event, Failed):
            self.final_event = event
            self.event_log.add(f"✗ training failed: {event.message}", "error")
            title.update(f"✗ {event.message}")
            self.notify(event.message, title="Training failed", severity="error")
