"""The reporting half of the training loop (the trainer's other half is the step, in :mod:`.trainer`).

:class:`Reporting` is what the trainer tells the world: the events it emits (each also a line of
``metrics.jsonl``), from RunStarted through every throttled StepUpdate and EpochEnd to the loss per noise
level, the previews and the in-training quality evaluations (:mod:`.monitor`). :class:`RunClock` keeps
the elapsed time (pauses excluded) and the ETA; :class:`StepWindow` the steps a StepUpdate reports
(their loss summed on the device, read with one host sync when an update is due).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field

import torch

from tui_denoiser.core.devices import device_name
from tui_denoiser.core.errors import UserError
from tui_denoiser.core.runs import events as ev
from tui_denoiser.core.runs.folder import METRICS_FILE
from tui_denoiser.core.training.monitor import QualityMonitor, quality_unavailable
from tui_denoiser.core.training.state import lr_schedule

UPDATE_INTERVAL_S = 0.25  # at most one StepUpdate per this many seconds (and one at each epoch's last step)


@dataclass
class RunClock:
    """Training time of this invocation (pauses excluded) and the ETA it gives."""

    total_steps: int
    t_start: float = field(default_factory=time.perf_counter)
    steps_this_run: int = 0

    def paused(self, seconds: float) -> None:
        self.t_start += seconds

    def elapsed(self, now: float | None = None) -> float:
        return (time.perf_counter() if now is None else now) - self.t_start

    def eta(self, global_step: int, elapsed: float) -> float:
        """Seconds left at this run's pace so far."""
        return max(self.total_steps - global_step, 0) * elapsed / max(self.steps_this_run, 1)


@dataclass
class EpochState:
    """Where the loop is in one epoch: its permutation, the step, the loss summed so far (on the device)."""

    perm: torch.Tensor
    step: int
    loss_sum: torch.Tensor
    loss_count: int
    lr: float


class StepWindow:
    """The steps since the last StepUpdate: their summed loss (on the device), count and images."""

    def __init__(self, device: torch.device):
        self.device = device
        self.restart(time.perf_counter())

    def restart(self, now: float) -> None:
        self.loss_sum = torch.zeros((), device=self.device)
        self.steps = 0
        self.images = 0
        self.t0 = now

    def add(self, loss: torch.Tensor, images: int) -> None:
        self.loss_sum += loss
        self.steps += 1
        self.images += images

    def due(self, now: float, last_of_epoch: bool) -> bool:
        return now - self.t0 >= UPDATE_INTERVAL_S or last_of_epoch

    def mean_loss(self) -> float:
        return float(self.loss_sum) / self.steps  # the one host sync per update

    def rate(self, now: float) -> float:
        """Images per second over the window."""
        return self.images / max(now - self.t0, 1e-9)


class Reporting:
    """The trainer's reporting (a base of :class:`~tui_denoiser.core.training.trainer.Trainer`, whose
    state it reads): events, previews and quality evaluations."""

    def _emit(self, event: ev.TrainEvent) -> None:
        if self.write_metrics:
            try:
                with open(self.run_dir / METRICS_FILE, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(event.to_json()) + "\n")
            except OSError:
                pass  # metrics are a convenience; a full disk is reported when the checkpoint fails
        if self.callback is not None:
            self.callback(event)

    def _start(self, steps_per_epoch: int) -> RunClock:
        """RunStarted, the notes of the process group, the quality monitor; the clock starts."""
        cfg = self.train_config
        total_steps = steps_per_epoch * cfg.epochs
        if cfg.max_steps is not None:
            total_steps = min(total_steps, cfg.max_steps)
        self._emit(ev.RunStarted(str(self.run_dir), self.device.type, device_name(self.device), cfg.epochs,
                                 steps_per_epoch, self.start_epoch, self.global_step, lr_schedule(cfg),
                                 self.model_config.to_dict(), cfg.to_dict(), list(self.history)))
        for note in self.dist.notes:
            self._emit(ev.WarningEvent(note))
        self.quality = self._quality_monitor()
        return RunClock(total_steps)

    def _report_step(self, epoch: int, step: int, steps_per_epoch: int, window: StepWindow, clock: RunClock,
                     lr: float) -> None:
        """A StepUpdate for the window of steps since the last one (a non-finite loss ends the run)."""
        window_loss = window.mean_loss()
        if not math.isfinite(window_loss):
            raise self._nonfinite_error(window_loss)
        now = time.perf_counter()
        elapsed = clock.elapsed(now)
        mem = torch.cuda.max_memory_allocated(self.device) / 2**20 if self.device.type == "cuda" else None
        self._emit(ev.StepUpdate(epoch, step, steps_per_epoch, self.global_step, window_loss, lr, window.rate(now),
                                 elapsed, clock.eta(self.global_step, elapsed), mem))
        window.restart(now)

    def _end_epoch(self, epoch: int, at: EpochState, clock: RunClock) -> tuple[float, float]:
        """Validate, step the schedule, preview, report the epoch, its loss by sigma and (when due) its
        quality; returns (train loss, validation loss)."""
        cfg = self.train_config
        train_loss = float(at.loss_sum) / max(at.loss_count, 1)
        if not math.isfinite(train_loss):
            raise self._nonfinite_error(train_loss)
        val_loss = self.validation_loss(self.ema.model if self.ema is not None else self.model)
        self.scheduler.step()
        next_lr = self.optimizer.param_groups[0]["lr"]
        elapsed = clock.elapsed()
        eta = clock.eta(self.global_step, elapsed)
        preview = self._preview() if cfg.preview else None
        self.history.append({"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss, "lr": at.lr,
                             "global_step": self.global_step, "elapsed_s": elapsed})
        rate = clock.steps_this_run * cfg.batch_size / max(elapsed, 1e-9)
        self._emit(ev.EpochEnd(epoch, cfg.epochs, self.global_step, train_loss, val_loss, at.lr, next_lr, elapsed,
                               eta, rate, preview))
        self._emit(self.dist.reduced(self.sigma_bins).event(epoch, self.global_step))
        self.sigma_bins.reset()
        if self.quality is not None and self.quality.at_epoch_end:
            self._evaluate(epoch, "epoch")
        return train_loss, val_loss

    def _end_insight(self, epoch: int, steps_this_run: int) -> None:
        """The run's end: the loss by sigma of an epoch cut short, and a last evaluation unless a person
        or a signal stopped the run (they want it to end now) or the last step was just evaluated."""
        bins = self.dist.reduced(self.sigma_bins)
        if not bins.empty:
            self._emit(bins.event(epoch, self.global_step, partial=True))
        if (self.quality is not None and steps_this_run > 0 and not self.stop_event.is_set()
                and self.quality.last_step != self.global_step):
            self._evaluate(min(epoch, self.train_config.epochs - 1), "end")

    def _preview(self) -> list[list[list[int]]]:
        from tui_denoiser.core.imaging import to_uint8
        from tui_denoiser.core.sampling import final_images

        images = final_images(self._sampling_loaded().sample(list(range(self.model_config.num_classes)), seed=0))
        return to_uint8(images).tolist()

    def _quality_monitor(self) -> QualityMonitor | None:
        """The in-training evaluation with the real digits fitted once; None when off. A run it cannot
        serve (another dataset, no classifier) trains on without it, after one warning line."""
        cfg = self.train_config
        if not cfg.quality_eval:
            return None
        reason = quality_unavailable(cfg, self.model_config)
        if reason is None:
            monitor = QualityMonitor(cfg, self.device, self.stop_event)
            try:
                monitor.prepare(self.test_x, self.test_y, self.train_x, self.train_y)
                return monitor
            except (UserError, RuntimeError, ValueError) as exc:
                reason = f"quality evaluation is off: {_first_line(exc)}"
        self._emit(ev.WarningEvent(reason))
        return None

    def _evaluate(self, epoch: int, at: str) -> float:
        """One quality evaluation (a QualityEval event); returns its seconds. A failure turns the
        evaluation off with one warning line: it never ends the run."""
        t0 = time.perf_counter()
        try:
            result = self.quality.evaluate(self._sampling_loaded(), epoch, self.global_step, at)
        except Exception as exc:  # noqa: BLE001 - an insight, not the training: keep training without it
            self.quality = None
            self._emit(ev.WarningEvent(f"quality evaluation failed and is off for this run: {_first_line(exc)}"))
            return time.perf_counter() - t0
        if result is not None:
            self._emit(result)
            if at == "epoch" and self.history:
                self.history[-1].update(accuracy=result.accuracy, frechet=result.frechet)
        return time.perf_counter() - t0



def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
