"""Draws a run's events on the training screen: title, bars, LR panel, loss, quality and σ-loss charts,
previews, log, toasts.

Only drawing lives here; what the screen may do next (its state, the run folder, the final event)
stays on the screen, which calls :meth:`RunDashboard.show` for every event a worker posts.
"""

from __future__ import annotations

from pathlib import Path

from textual.screen import Screen
from textual.widgets import Static

from tui_denoiser.core.formatting import quality_line

from tui_denoiser.core.runs.events import (
    CheckpointSaved,
    EpochEnd,
    Failed,
    Finished,
    LossBySigma,
    QualityEval,
    RunStarted,
    StepUpdate,
    TrainEvent,
    WarningEvent,
)
from tui_denoiser.tui.widgets.event_log import EventLog
from tui_denoiser.tui.widgets.loss_chart import LossChart
from tui_denoiser.tui.widgets.lr_panel import LRPanel
from tui_denoiser.tui.widgets.preview_grid import PreviewGrid
from tui_denoiser.tui.widgets.quality_chart import QualityChart
from tui_denoiser.tui.widgets.run_progress import RunProgress
from tui_denoiser.tui.widgets.sigma_chart import SigmaChart
from tui_denoiser.tui.widgets.train_form import TrainForm


class RunDashboard:
    """The training screen's views of a run, fed one core event at a time."""

    def __init__(self, screen: Screen) -> None:
        self.screen = screen
        self.dataset: str | None = None  # the run on show's dataset (compared runs must match it)

    def reset(self) -> None:
        """A new run or folder on show: every chart and the preview history start empty."""
        self.chart.reset()
        self.screen.query_one(QualityChart).reset()
        self.screen.query_one(SigmaChart).reset()
        self.screen.query_one(PreviewGrid).reset()

    def toggle_log(self) -> None:
        """``l``: linear or log loss axis, on the loss chart and the σ-loss chart alike."""
        self.chart.toggle_log()
        self.screen.query_one(SigmaChart).toggle_log()

    @property
    def title(self) -> Static:
        return self.screen.query_one("#run-title", Static)

    @property
    def chart(self) -> LossChart:
        return self.screen.query_one(LossChart)

    @property
    def lr_panel(self) -> LRPanel:
        return self.screen.query_one(LRPanel)

    @property
    def event_log(self) -> EventLog:
        return self.screen.query_one(EventLog)

    def show(self, event: TrainEvent, *, watching: bool) -> None:
        """Draw one event; ``watching``: it was read back from another process's run folder."""
        progress = self.screen.query_one(RunProgress)
        chart, lr_panel, log = self.chart, self.lr_panel, self.event_log
        if isinstance(event, StepUpdate):
            chart.add_step(event.epoch + event.step_in_epoch / max(event.steps_per_epoch, 1), event.loss)
            progress.step(epoch=event.epoch, step_in_epoch=event.step_in_epoch, images_per_s=event.images_per_s,
                          elapsed_s=event.elapsed_s, eta_s=event.eta_s, gpu_memory_mb=event.gpu_memory_mb)
            lr_panel.set_current(event.lr, event.epoch)
        elif isinstance(event, RunStarted):
            progress.start(epochs=event.epochs, steps_per_epoch=event.steps_per_epoch,
                           start_epoch=event.start_epoch, device=event.device, device_name=event.device_name)
            lr_panel.set_schedule(event.lr_schedule)
            if event.lr_schedule:
                epoch = min(event.start_epoch, len(event.lr_schedule) - 1)
                lr_panel.set_current(event.lr_schedule[epoch], epoch)
            quality = self.screen.query_one(QualityChart)
            self.dataset = event.train_config.get("dataset", self.dataset)
            if watching:  # a resumed run: drop what its previous process did past its checkpoint
                chart.trim_after(event.global_step / max(event.steps_per_epoch, 1))
                quality.trim_after(event.global_step)
            if event.history and not chart.train_points:
                chart.load_history(event.history)
            if event.history and not quality.points:
                quality.load_history(event.history)
            if event.device == "cuda":
                self.screen.start_gpu_panel()
            where = f"{event.device_name or event.device}"
            self.title.update(f"Training on {where} · run {Path(event.run_dir).name}")
            log.add(f"run started at epoch {event.start_epoch + 1}/{event.epochs} on {where}")
        elif isinstance(event, EpochEnd):
            chart.add_epoch(event.epoch + 1, event.train_loss, event.val_loss)
            progress.epoch_end(epoch=event.epoch, elapsed_s=event.elapsed_s, eta_s=event.eta_s,
                               images_per_s=event.images_per_s)
            last = event.epoch + 1 >= event.epochs
            lr_panel.set_current(event.lr if last else event.next_lr, event.epoch if last else event.epoch + 1)
            if event.preview:
                self.screen.query_one(PreviewGrid).show(event.preview, event.epoch)
            log.add(f"epoch {event.epoch + 1}/{event.epochs}: train {event.train_loss:.4f} · "
                    f"val {event.val_loss:.4f} · lr {event.lr:.2e}")
        elif isinstance(event, QualityEval):
            self.screen.query_one(QualityChart).add(event.global_step, event.accuracy, event.frechet,
                                                    event.frechet_floor)
            log.add(f"quality at step {event.global_step}: {quality_line(event)}")
        elif isinstance(event, LossBySigma):
            self.screen.query_one(SigmaChart).add(event.epoch, event.sigma, event.loss, event.partial)
        elif isinstance(event, CheckpointSaved):
            log.add(f"checkpoint saved ({event.reason}, epoch {event.epoch}): {event.path}", "good")
        elif isinstance(event, WarningEvent):
            log.add(f"! {event.message}", "warn")
            self.screen.notify(event.message, severity="warning")
        elif isinstance(event, Finished):
            self.screen.stop_gpu_panel()
            verb = "stopped" if event.stopped else "finished"
            where = f"; last checkpoint {event.last_checkpoint}" if event.last_checkpoint else ""
            log.add(f"run {verb} after {event.epochs_done} epochs ({event.global_step} steps){where}", "good")
            self.title.update(f"Run {verb} · {event.epochs_done} epochs · Continue (c) resumes it")
            if watching:
                log.add("the watched run has ended")
        elif isinstance(event, Failed):
            self.screen.stop_gpu_panel()
            line = event.worded(TrainForm.label_of)  # the setting at fault named as the form names it
            log.add(f"✗ training failed: {line}", "error")
            self.title.update(f"✗ {line}")
            self.screen.notify(line, title="Training failed", severity="error")
            self.screen.query_one(TrainForm).mark_field((event.error or {}).get("field"), line)

    def show_failure(self, line: str, field: str | None = None) -> None:
        """The trainer raised instead of reporting (bad data folder, absent GPU, a bug): one line in the
        log, the title and a toast, and on the form field at fault when the form has it."""
        self.event_log.add(f"✗ {line}", "error")
        self.title.update(f"✗ {line}")
        self.screen.notify(line, title="Training failed", severity="error")
        self.screen.query_one(TrainForm).mark_field(field, line)
