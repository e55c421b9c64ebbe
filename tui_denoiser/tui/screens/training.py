"""The training screen: a form, Start/Pause/Stop, and live views of what the core trainer reports.

Training runs in a thread worker that owns nothing on screen: it first takes the core's precision
choice (bf16, channels-last: a probe of seconds the first time on a machine), then hands the core
``Trainer`` a stop and a pause ``threading.Event`` (checked every step) and posts each event the
trainer reports as a message.
The worker keeps running when the person switches to the sampling screen.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Button, Footer, Static
from textual.worker import Worker, WorkerState, get_current_worker

from tui_denoiser.core.errors import UserError
from tui_denoiser.core.runs.events import Failed, Finished, RunStarted, TrainEvent
from tui_denoiser.tui.components.run_buttons import BUSY_STATES, RunButtons, key_allowed
from tui_denoiser.tui.components.train_tabs import train_tabs
from tui_denoiser.tui.messages import (PrecisionChosen, TrainerCrashed, TrainingEventMessage, TrainingStepMessage,
                                       training_message)
from tui_denoiser.tui.screens.training_insight import INSIGHT_BINDINGS, InsightScreen
from tui_denoiser.tui.screens.training_view import RunDashboard
from tui_denoiser.tui.widgets.event_log import EventLog
from tui_denoiser.tui.widgets.loss_chart import LossChart
from tui_denoiser.tui.widgets.lr_panel import LRPanel
from tui_denoiser.tui.widgets.run_progress import RunProgress
from tui_denoiser.tui.widgets.too_small import TooSmall
from tui_denoiser.tui.widgets.train_form import FORCED_BY, PRECISION_PENDING, PRECISION_PROBING, TrainForm

WATCH_TOKEN = -1  # the run token of events read back from a watched folder


class TrainingScreen(InsightScreen):
    """Drives one trainer at a time; ``train_overrides`` fixes TrainConfig fields the form lacks
    (tests and smoke runs use it for ``max_steps`` or tiny epochs)."""

    AUTO_FOCUS = "#btn-start"  # not a form field, so the letter keys work at once
    BINDINGS = [
        Binding("n", "start", "Start", tooltip="Start a new run with the form's settings"),
        Binding("p", "pause", "Pause", tooltip="Pause or resume the run"),
        Binding("x", "stop", "Stop", tooltip="Stop the run (it saves a checkpoint first)"),
        Binding("c", "continue_run", "Continue", tooltip="Continue the latest run from its last checkpoint"),
        Binding("l", "toggle_log", "Log", tooltip="Loss and σ-loss charts: linear or log scale"),
        Binding("w", "watch_folder", "Watch a run folder", show=False,
                tooltip="Watch a run folder (a headless run, live or finished)"),
        Binding("escape", "leave_field", "Leave field", show=False, tooltip="Leave a form field so the letter keys act"),
        *INSIGHT_BINDINGS,
    ]

    # idle: nothing ran yet; running/paused/stopping: a worker is alive; done: a run ended (it can be
    # continued); watching: following another process's run folder (read only).
    state: reactive[str] = reactive("idle")

    def __init__(self, *, data_dir: str | Path | None = None, runs_root: str | Path | None = None,
                 train_overrides: dict[str, Any] | None = None, watch_dir: str | Path | None = None) -> None:
        super().__init__(id="training")
        self.data_dir = data_dir
        self.runs_root = runs_root
        self.train_overrides = dict(train_overrides or {})
        self.watch_dir = Path(watch_dir) if watch_dir else None
        self.run_dir: Path | None = None  # the latest run (continued by Continue)
        self.final_event: Finished | Failed | None = None
        self._stop = threading.Event()
        self._pause = threading.Event()
        self.trainer_idle = threading.Event()  # clear while a trainer thread runs (set once it returns)
        self.trainer_idle.set()
        self._token = 0
        self._worker: Worker | None = None
        self.dashboard = RunDashboard(self)

    # ----------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        with Vertical(classes="body"):
            with Horizontal(id="train-top"):
                with Vertical(id="form-panel"):
                    yield TrainForm(overrides=self.train_overrides, id="train-form")
                with Vertical(id="status-panel"):
                    yield Static("Ready: check the form, then Start (n).", id="run-title")
                    yield RunButtons(id="train-buttons")
                    yield RunProgress(id="progress")
                    yield LRPanel(id="lr")
            yield from train_tabs()
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
        from tui_denoiser.core.runs.folder import run_folder_problem

        run_dir = Path(run_dir).expanduser()
        if self.is_training and self.state != "watching":
            self.notify("A run is training here; stop it (x) before watching another.", severity="warning")
            return False
        problem = run_folder_problem(run_dir)
        if problem is not None:
            self.event_log.add(f"✗ {problem}", "error")
            self.notify(problem, title="Cannot watch", severity="error")
            return False
        self.watch_dir = run_dir
        self.run_dir = run_dir
        self.final_event = None
        self.dashboard.reset()
        self.state = "watching"
        self.query_one("#run-title", Static).update(f"Watching {run_dir.name} (read only)")
        self.event_log.add(f"watching {run_dir / 'metrics.jsonl'} (read only)")
        self._worker = self._watch_run(run_dir)  # exclusive: ends a watcher following another folder
        return True

    def action_watch_folder(self) -> None:
        """Ask for a run folder and follow it (read only)."""
        from tui_denoiser.core.paths import default_runs_root
        from tui_denoiser.core.runs.folder import latest_run_dir
        from tui_denoiser.tui.screens.watch_prompt import WatchPrompt

        latest = latest_run_dir(self.runs_root or default_runs_root())  # suggested in the prompt
        self.app.push_screen(WatchPrompt(str(latest) if latest else ""), self._watch_answered)

    def _watch_answered(self, answer: str | None) -> None:
        if answer:
            self.attach(answer)

    @property
    def chart(self) -> LossChart:
        return self.dashboard.chart

    @property
    def lr_panel(self) -> LRPanel:
        return self.dashboard.lr_panel

    @property
    def event_log(self) -> EventLog:
        return self.dashboard.event_log

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
        form = self.query_one(TrainForm)
        self.query_one(RunButtons).show_state(state, form_valid=form.valid, can_continue=self.run_dir is not None)
        busy = state in BUSY_STATES
        form.set_enabled(not busy and state != "watching")
        self.set_class(busy, "-busy")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hides keys that do nothing in the current state, so the footer fits 80 columns."""
        on_tab = self.insight_allowed(action)
        return on_tab if on_tab is not None else key_allowed(action, self.state, can_continue=self.run_dir is not None)

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
            if self._worker is not None:
                self._worker.cancel()  # sets the cancelled event the watcher follows
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
        self.dashboard.toggle_log()

    def action_leave_field(self) -> None:
        """Escape leaves a form field so that the single-letter keys work again."""
        self.set_focus(None)

    async def stop_and_wait(self) -> None:
        """Stop a live run and wait for its thread to end (used when quitting)."""
        worker = self._worker
        if worker is None:
            return
        self.stop_from_signal()
        if worker.state in (WorkerState.PENDING, WorkerState.RUNNING):
            try:
                await worker.wait()
            except Exception:  # noqa: BLE001 - the log already has the reason; we are quitting
                pass

    def stop_from_signal(self) -> None:
        """Thread-safe (called from a signal handler): the trainer stops at its next step and saves; a
        watcher stops at its next poll (only its event is set: cancelling a task is not thread-safe)."""
        self._stop.set()
        self._pause.clear()
        if self._worker is not None and self._worker.name == "watcher":
            self._worker.cancelled_event.set()

    def on_unmount(self) -> None:
        # Belt and braces: never leave a trainer or watcher thread running once the screen is gone.
        self.stop_from_signal()

    # ----------------------------------------------------------------- the worker
    def _launch(self, *, resume: bool) -> None:
        if self.is_training or self.state == "watching":
            return
        configs = self.query_one(TrainForm).configs()
        if configs is None:
            self.notify("Fix the marked field first.", severity="warning")
            return
        model_config, train_config = configs
        form = self.query_one(TrainForm)
        precision = form.precision_request()
        if precision[0] is None:
            form.show_precision(PRECISION_PENDING)
        if resume:
            run_dir = self.run_dir
            assert run_dir is not None
        else:
            from tui_denoiser.core.paths import new_run_dir

            run_dir = new_run_dir(self.runs_root)
            self.run_dir = run_dir
            self.dashboard.reset()
        self._stop = threading.Event()
        self._pause = threading.Event()
        self._token += 1
        self.final_event = None
        self.trainer_idle.clear()
        self.state = "running"
        verb = "continuing" if resume else "starting"
        self.query_one("#run-title", Static).update(f"{verb.capitalize()}: loading torch and the data…")
        self.event_log.add(f"{verb} run in {run_dir}")
        self._worker = self._train(model_config, train_config, run_dir, resume, self._token, precision)

    @work(thread=True, exclusive=True, group="training", exit_on_error=False, name="trainer")
    def _train(self, model_config: Any, train_config: Any, run_dir: Path, resume: bool, token: int,
               precision: tuple[bool | None, bool | None] = (None, None)) -> Any:
        """Runs in a thread: imports torch here (not at app start) and only posts messages."""
        try:
            from tui_denoiser.core.training import Trainer

            # Threads: the trainer's policy, as in `train` (every free core; the event loop keeps up:
            # benchmarks/ui_responsiveness.py).
            train_config = self._choose_precision(model_config, train_config, run_dir, resume, token, precision)

            def report(event: TrainEvent) -> None:
                self.post_message(training_message(event, token))

            trainer = Trainer(model_config, train_config, run_dir=run_dir, data_dir=self.data_dir,
                              callback=report, stop_event=self._stop, pause_event=self._pause, resume=resume)
            return trainer.run()
        except UserError as err:
            self.post_message(TrainerCrashed(err.worded(TrainForm.label_of), token, field=err.field))
        except Exception as err:  # noqa: BLE001 - shown as one line; the app must survive it
            self.post_message(TrainerCrashed(f"{type(err).__name__}: {err}", token))
        finally:
            self.trainer_idle.set()
        return None

    def _choose_precision(self, model_config: Any, train_config: Any, run_dir: Path, resume: bool, token: int,
                          precision: tuple[bool | None, bool | None]) -> Any:
        """In the worker thread: bf16 and channels-last from the core's one decision (the CLI's too),
        for the model and batch the run trains (a resumed run's own), at the threads it trains with;
        posts that a probe runs (if one does), then the choice. Returns ``train_config`` with both set
        (a resumed run takes them too: a resume decides them again)."""
        from tui_denoiser.core.precision import choose_for_training

        if resume:
            from tui_denoiser.core.checkpoint import configs_from, load_checkpoint

            model_config, saved = configs_from(load_checkpoint(run_dir / "last.pt"), run_dir / "last.pt")
            probed = saved.replace(device=train_config.device)
        else:
            probed = train_config

        def probing(line: str) -> None:
            self.post_message(PrecisionChosen(line, token, probing=True))

        _, choice = choose_for_training(model_config, probed, *precision, on_probe=probing, forced_by=FORCED_BY)
        self.post_message(PrecisionChosen(choice.line, token, bf16_reason=choice.bf16_reason))
        return choice.apply(train_config)

    @work(thread=True, exclusive=True, group="training", exit_on_error=False, name="watcher")
    def _watch_run(self, run_dir: Path) -> None:
        """Follows another process's run folder (core ``RunWatcher``) until this worker is cancelled,
        posting its events as if they were ours (not coalesced: a replayed backlog keeps every point)."""
        from tui_denoiser.core.runs.watch import RunWatcher

        def report(event: TrainEvent) -> None:
            self.post_message(TrainingEventMessage(event, WATCH_TOKEN))

        RunWatcher(run_dir).follow(get_current_worker().cancelled_event, report)

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
    def on_precision_chosen(self, message: PrecisionChosen) -> None:
        """The worker's precision choice (or its probe starting): in the log, and under the form's bf16."""
        if message.run_token != self._token:
            return
        form = self.query_one(TrainForm)
        if message.probing:
            self.query_one("#run-title", Static).update("Timing bf16 and channels-last (once)…")
            self.event_log.add(f"precision: {message.line}…")
            form.show_precision(PRECISION_PROBING)
            return
        self.event_log.add(f"precision: {message.line}")
        form.show_precision(message.bf16_reason.removeprefix("bf16 "), tooltip=message.line)

    def on_trainer_crashed(self, message: TrainerCrashed) -> None:
        if message.run_token != self._token:
            return
        self.query_one(TrainForm).settle_precision()
        self.dashboard.show_failure(message.message, message.field)

    def on_training_event_message(self, message: TrainingEventMessage) -> None:
        if message.run_token != (WATCH_TOKEN if self.state == "watching" else self._token):
            return
        self._handle(message.event)

    def on_training_step_message(self, message: TrainingStepMessage) -> None:
        """Step updates have their own (coalescing) message type; same handling."""
        self.on_training_event_message(message)

    def _handle(self, event: TrainEvent) -> None:
        """Keep what decides the next action (run folder, final event), then draw the event."""
        watching = self.state == "watching"
        if isinstance(event, RunStarted):
            self.run_dir = Path(event.run_dir)
        elif isinstance(event, (Finished, Failed)):
            self.final_event = event
        self.dashboard.show(event, watching=watching)
