"""The trainer: one loop shared by the app and the CLI, reporting through a callback.

Readable top to bottom: set up (device, seed, data, model, optimizer, EMA, resume) -> for each epoch,
draw shuffled batches by index from the resident uint8 tensors, noise them, regress the clean image
(:meth:`Trainer._step`), report throttled step updates -> at epoch end validate, preview, report the loss
per noise level (:mod:`.sigma_bins`) and the quality evaluation (:mod:`.monitor`), checkpoint
(:mod:`.state`). It checks the stop and pause events every step, never prints, and turns every failure
into a :class:`Failed` event. What it reports, and when, is :mod:`.reporting`.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch.nn import functional as F

from tui_denoiser.core.checkpoint import configs_from, load_checkpoint, save_checkpoint
from tui_denoiser.core.config import PER_BATCH, ModelConfig, TrainConfig
from tui_denoiser.core.data import load_split, to_model_range
from tui_denoiser.core.devices import pick_device
from tui_denoiser.core.errors import ConfigError, ExplainedError, TrainingError, UserError
from tui_denoiser.core.model import ConditionalDenoiser
from tui_denoiser.core.noise import loss_weights, training_sigmas
from tui_denoiser.core.paths import default_data_dir
from tui_denoiser.core.runs import events as ev
from tui_denoiser.core.runs.folder import METRICS_FILE, end_partial_line
from tui_denoiser.core.sampling_policy import model_sampling
from tui_denoiser.core.threads import cpu_threads
from tui_denoiser.core.training import distributed, state
from tui_denoiser.core.training.monitor import QualityMonitor, eval_settings
from tui_denoiser.core.training.reporting import EpochState, Reporting, RunClock, StepWindow
from tui_denoiser.core.training.sigma_bins import SigmaBins
from tui_denoiser.core.training.state import EMA, out_of_memory_error, resume_config

VAL_SEED = 1234


class Trainer(Reporting):
    """Trains a :class:`ConditionalDenoiser`; see the module docstring.

    ``resume=True`` continues from ``run_dir/last.pt`` exactly (epoch, position in the epoch, LR
    schedule, optimizer, EMA, RNG); a ``train_config`` passed with it may only change ``epochs``,
    ``max_steps``, ``device`` and the precision (``bf16``, ``channels_last``). ``data`` (train images,
    train labels, test images, test labels as uint8/int64 tensors) skips loading from ``data_dir``.
    """

    def __init__(self, model_config: ModelConfig | None = None, train_config: TrainConfig | None = None, *,
                 run_dir: str | Path, data_dir: str | Path | None = None,
                 callback: Callable[[ev.TrainEvent], None] | None = None,
                 stop_event: threading.Event | None = None, pause_event: threading.Event | None = None,
                 resume: bool = False, data: tuple[torch.Tensor, ...] | None = None,
                 write_metrics: bool = True):
        self.model_config = model_config or ModelConfig()
        self.train_config = train_config or TrainConfig()
        self.train_config_given = train_config is not None  # resume: None keeps the saved run's
        self.run_dir = Path(run_dir).expanduser()
        self.data_dir_given = data_dir is not None
        self.data_dir = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
        self.callback = callback
        self.stop_event = stop_event or threading.Event()
        self.pause_event = pause_event or threading.Event()
        self.resume = resume
        self.data = data
        self.write_metrics = write_metrics
        self.stop_reason = "stop"
        self.last_checkpoint: str | None = None
        self.history: list[dict[str, Any]] = []
        self.dist = distributed.current()  # one process, unless torchrun started this one (see _setup)

    def request_stop(self, reason: str = "stop") -> None:
        self.stop_reason = reason
        self.stop_event.set()

    # -- the run ---------------------------------------------------------------------------------
    def run(self) -> ev.TrainEvent:
        """Train to the end (or until stopped); returns the :class:`Finished` or :class:`Failed` event."""
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            event = ev.Failed(f"cannot create the run folder {self.run_dir} ({exc.strerror})")
            if self.callback:
                self.callback(event)
            return event
        end_partial_line(self.run_dir / METRICS_FILE)  # a killed run may have left half a line
        try:
            return self._run()
        except (UserError, TrainingError) as exc:
            event: ev.TrainEvent = self._failed(exc)
        except torch.OutOfMemoryError:
            event = self._failed(out_of_memory_error(self.train_config.batch_size))
        except RuntimeError as exc:
            if "out of memory" in str(exc).lower():
                event = self._failed(out_of_memory_error(self.train_config.batch_size))
            else:
                event = ev.Failed(distributed.failure_line(exc) or f"training failed: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}",
                                  self.last_checkpoint)
        self._emit(event)
        return event

    def _failed(self, error: ExplainedError) -> ev.Failed:
        """The Failed event of ``error``: its plain line, and the error itself so front ends word it."""
        return ev.Failed(str(error), self.last_checkpoint, error=error.to_json())

    def _setup(self) -> None:
        resume_payload = None
        if self.resume:
            resume_payload = load_checkpoint(self.run_dir / "last.pt")
            model_config, saved_train = configs_from(resume_payload, self.run_dir / "last.pt")
            passed = self.train_config if self.train_config_given else None
            self.model_config = model_config
            if not self.data_dir_given and resume_payload.get("data_dir"):
                self.data_dir = Path(resume_payload["data_dir"])  # the run's own data, unless told otherwise
            self.train_config = (resume_config(saved_train, epochs=passed.epochs, max_steps=passed.max_steps,
                                               device=passed.device, bf16=passed.bf16,
                                               channels_last=passed.channels_last) if passed is not None
                                 else resume_config(saved_train))
            if passed is not None:  # how a resumed run is evaluated may change too
                self.train_config = self.train_config.replace(**eval_settings(passed))
        self.model_config.validate()
        self.train_config.validate()
        cfg = self.train_config
        stored_sampling = resume_payload.get("sampling_config") if resume_payload is not None else None
        self.sampling = model_sampling(self.model_config, cfg, stored_sampling)
        self.device = pick_device(cfg.device)
        self.dist = distributed.init(self.device)  # under torchrun: this rank's device and process group
        self.device = self.dist.device
        if not self.dist.is_main:  # rank 0 alone writes, previews and evaluates
            self.write_metrics = False
            self.train_config = cfg = cfg.replace(preview=False, quality_eval=False)
        if self.device.type == "cpu":
            cpu_threads(refresh=True)  # the cores other processes leave free (see cpu_threads)
        torch.manual_seed(cfg.seed)
        self.cpu_gen = torch.Generator().manual_seed(cfg.seed)
        self.dev_gen = torch.Generator(device=self.device).manual_seed(cfg.seed + 1)

        if self.data is not None:
            tr_x, tr_y, te_x, te_y = self.data
            self.train_x, self.train_y = tr_x.to(self.device), tr_y.to(self.device)
            self.test_x, self.test_y = te_x.to(self.device), te_y.to(self.device)
        else:
            self.train_x, self.train_y = load_split(cfg.dataset, self.data_dir, train=True, device=self.device)
            self.test_x, self.test_y = load_split(cfg.dataset, self.data_dir, train=False, device=self.device)

        self.model = ConditionalDenoiser(self.model_config).to(self.device)
        if self.model_config.norm_levels:  # level-wise BatchNorm: which sigma each statistics row is for
            levels = cfg.levels()
            if levels is None or len(levels) != self.model_config.norm_levels:
                raise ConfigError("{field} needs as many discrete training noise levels as it keeps statistics",
                                  field="norm_levels", value=self.model_config.norm_levels)
            self.model.set_norm_levels(torch.tensor(levels))
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model = self.model.to(memory_format=self.memory_format)
        # The training forward only: validation and previews run the eager module (same weights).
        self.dist.check_batches(self.train_x.shape[0], cfg.batch_size)
        self.forward = self.dist.wrap(self.model, compile=cfg.compile)  # DDP around it under torchrun
        fused = self.device.type == "cuda"
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, fused=fused, foreach=None if fused else True)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
        self.ema = EMA(self.model, cfg.ema_decay) if cfg.ema_decay > 0 else None
        self.sigma_bins = SigmaBins.for_config(cfg, self.device)
        self.quality: QualityMonitor | None = None
        self.start_epoch = 0
        self._calibrated_at: int | None = None
        self.global_step = 0
        self.resume_position: dict[str, Any] | None = None
        if resume_payload is not None:
            state.restore(self, resume_payload, self.run_dir / "last.pt")

    def _save(self, epoch_done: int, reason: str, position: dict[str, Any] | None = None) -> str:
        if not self.dist.is_main:  # every rank holds the same state; rank 0 writes it
            self.last_checkpoint = str(self.run_dir / "last.pt")
            return self.last_checkpoint
        payload = state.checkpoint_payload(self, epoch_done, position)
        last = save_checkpoint(self.run_dir / "last.pt", payload)
        if reason == "epoch":
            save_checkpoint(self.run_dir / f"epoch-{epoch_done:03d}.pt", payload)
        self.last_checkpoint = str(last)
        self._emit(ev.CheckpointSaved(str(last), epoch_done, self.global_step, reason))
        return str(last)

    def sampling_model(self) -> ConditionalDenoiser:
        """An eval-mode copy of the weights to sample from (EMA when on): never the training module."""
        self._recalibrate_norms()
        source = self.ema.model if self.ema is not None else self.model
        clone = copy.deepcopy(source).eval()
        return clone.to(memory_format=torch.contiguous_format)

    def _sampling_loaded(self):
        """A LoadedModel over a copy of the sampling weights, sampling as this run's checkpoints will."""
        from tui_denoiser.core.inference import LoadedModel, prepare_for_inference

        return LoadedModel(prepare_for_inference(self.sampling_model()), self.model_config, self.train_config,
                           self.run_dir / "last.pt", sampling=self.sampling)

    @torch.no_grad()
    def validation_loss(self, model: torch.nn.Module) -> float:
        """Loss on the test split with fixed noise (same seed every epoch), so epochs compare."""
        cfg = self.train_config
        if not self.dist.is_main:
            return math.nan  # rank 0 validates
        self._recalibrate_norms()
        was_training = model.training
        model.eval()
        gen = torch.Generator(device=self.device).manual_seed(VAL_SEED)
        total, count = torch.zeros((), device=self.device), 0
        bs = max(cfg.batch_size, 512)
        val_cfg = cfg.replace(noise=PER_BATCH[cfg.noise]) if cfg.noise in PER_BATCH else cfg  # a level per sample
        for start in range(0, self.test_x.shape[0], bs):
            x0 = to_model_range(self.test_x[start:start + bs]).contiguous(memory_format=self.memory_format)
            labels = self.test_y[start:start + bs]
            sigma = training_sigmas(val_cfg, x0.shape[0], device=self.device, generator=gen)
            noise = torch.randn(x0.shape, device=self.device, generator=gen)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=cfg.bf16 and self.device.type != "mps"):
                pred = model(x0 + sigma[:, None, None, None] * noise, sigma[:, None, None, None], labels)
            err = (pred.float() - x0).pow(2).mean(dim=(1, 2, 3))
            weights = loss_weights(cfg, sigma, self.model_config.sigma_data)
            total += (err * weights).sum() if weights is not None else err.sum()
            count += x0.shape[0]
        if was_training:
            model.train()
        return float(total) / max(count, 1)

    def _run(self) -> ev.TrainEvent:
        self._setup()
        cfg = self.train_config
        steps_per_epoch = math.ceil(self.train_x.shape[0] / cfg.batch_size)
        clock = self._start(steps_per_epoch)
        stopped = False
        epoch = self.start_epoch
        train_loss = val_loss = None
        self.model.train()
        while epoch < cfg.epochs and not stopped:
            at = self._begin_epoch()
            stopped = self._train_epoch(epoch, at, steps_per_epoch, clock)
            if stopped:
                self._save_position(epoch, at)
                break
            train_loss, val_loss = self._end_epoch(epoch, at, clock)
            epoch += 1
            self._save(epoch, "epoch")
            if cfg.max_steps is not None and self.global_step >= cfg.max_steps:
                stopped = epoch < cfg.epochs
                break

        self._end_insight(epoch, clock.steps_this_run)
        finished = ev.Finished(epoch, self.global_step, clock.elapsed(), stopped, self.last_checkpoint, train_loss,
                               val_loss)
        self._emit(finished)
        return finished

    # -- the step ------------------------------------------------------------------------------------
    def _begin_epoch(self) -> EpochState:
        """A new epoch's permutation, or the saved place in the epoch a resume continues."""
        position = self.resume_position
        self.resume_position = None
        # A resumed epoch keeps its loss-by-sigma bins (rank 0 alone, so they are summed once).
        self.sigma_bins.load_state(position if self.dist.is_main else None)
        lr = self.optimizer.param_groups[0]["lr"]
        if position is not None:
            return EpochState(position["perm"].to(self.device, torch.long), int(position["step_in_epoch"]),
                              torch.tensor(float(position["loss_sum"]), device=self.device),
                              int(position["loss_count"]), lr)
        return EpochState(torch.randperm(self.train_x.shape[0], generator=self.cpu_gen).to(self.device), 0,
                          torch.zeros((), device=self.device), 0, lr)

    def _train_epoch(self, epoch: int, at: EpochState, steps_per_epoch: int, clock: RunClock) -> bool:
        """Steps from ``at.step`` to the epoch's end; True when a stop (or ``max_steps``) came first."""
        cfg = self.train_config
        window = StepWindow(self.device)
        for step_in_epoch in range(at.step, steps_per_epoch):
            at.step = step_in_epoch
            if self.pause_event.is_set():
                paused_at = time.perf_counter()
                while self.pause_event.is_set() and not self.stop_event.is_set():
                    time.sleep(0.05)
                clock.paused(time.perf_counter() - paused_at)
                window.t0 = time.perf_counter()
            if (self.dist.agree_stop(self.stop_event.is_set(), self.global_step)
                    or (cfg.max_steps is not None and self.global_step >= cfg.max_steps)):
                return True
            loss, images = self._step(at.perm, step_in_epoch)
            at.loss_sum += loss
            at.loss_count += 1
            window.add(loss, images)
            self.global_step += 1
            clock.steps_this_run += 1
            if window.due(time.perf_counter(), step_in_epoch == steps_per_epoch - 1):
                self._report_step(epoch, step_in_epoch + 1, steps_per_epoch, window, clock, at.lr)
            if self.quality is not None and self.quality.due_after_step(self.global_step):
                window.t0 += self._evaluate(epoch, "step")  # images/s counts training only
        at.step = steps_per_epoch
        return False

    def _step(self, perm: torch.Tensor, step_in_epoch: int) -> tuple[torch.Tensor, int]:
        """One optimizer step on the global batch at ``step_in_epoch`` of ``perm``: (the global batch's
        loss, detached, on every rank; the batch's size)."""
        cfg = self.train_config
        bs = cfg.batch_size
        idx = perm[step_in_epoch * bs:(step_in_epoch + 1) * bs]
        x0 = to_model_range(self.train_x[idx]).contiguous(memory_format=self.memory_format)
        labels = self.train_y[idx]
        batch = x0.shape[0]
        sigma = training_sigmas(cfg, batch, device=self.device, generator=self.dev_gen)
        noise = torch.randn(x0.shape, device=self.device, generator=self.dev_gen)
        if cfg.label_dropout > 0:
            drop = torch.rand((batch,), device=self.device, generator=self.dev_gen) < cfg.label_dropout
            labels = torch.where(drop, torch.full_like(labels, self.model_config.num_classes), labels)
        x0, labels, sigma, noise = self.dist.take_share(x0, labels, sigma, noise)  # this rank's rows
        s4 = sigma[:, None, None, None]
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=cfg.bf16 and self.device.type != "mps"):
            pred = self.forward(x0 + s4 * noise, s4, labels)
        weights = loss_weights(cfg, sigma, self.model_config.sigma_data)
        if weights is None:
            loss = F.mse_loss(pred.float(), x0)
        else:
            loss = ((pred.float() - x0).pow(2).mean(dim=(1, 2, 3)) * weights).mean()
        loss = self.dist.weigh(loss, x0.shape[0], batch)
        self.sigma_bins.add_batch(sigma, pred, x0, weights)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.model)
        return self.dist.mean(loss.detach()), batch

    def _recalibrate_norms(self) -> None:
        """Level-wise BatchNorm's statistics recomputed with the current weights, once per step count,
        before anything evaluates or samples (see ConditionalDenoiser.recalibrate_norms). Its own
        generator, seeded by the step, leaves the training's random streams as they were."""
        if not self.model_config.norm_levels or self._calibrated_at == self.global_step:
            return
        gen = torch.Generator(device=self.device).manual_seed(self.train_config.seed * 1_000_003 + self.global_step)
        cpu_gen = torch.Generator().manual_seed(self.train_config.seed * 1_000_003 + self.global_step)
        size = min(self.train_config.batch_size, self.train_x.shape[0])

        def draw_batch() -> tuple[torch.Tensor, torch.Tensor]:
            idx = torch.randint(0, self.train_x.shape[0], (size,), generator=cpu_gen).to(self.device)
            return to_model_range(self.train_x[idx]).contiguous(memory_format=self.memory_format), self.train_y[idx]

        per_level = max(1, min(4, self.train_x.shape[0] // size))  # 4 batches a level, fewer on tiny data
        for model in [self.model] + ([self.ema.model] if self.ema is not None else []):
            model.recalibrate_norms(draw_batch, batches_per_level=per_level, generator=gen)
        self._calibrated_at = self.global_step

    def _save_position(self, epoch: int, at: EpochState) -> None:
        """A stop inside an epoch: save where in it we are (its permutation too) so a resume continues exactly."""
        self._recalibrate_norms()
        if not math.isfinite(float(at.loss_sum)):  # never overwrite the last good checkpoint with NaN
            raise self._nonfinite_error(float(at.loss_sum))
        position = {"perm": at.perm.to("cpu", torch.int32), "step_in_epoch": at.step,
                    "loss_sum": float(at.loss_sum), "loss_count": at.loss_count,
                    **self.dist.reduced(self.sigma_bins).state()}
        self._save(epoch, self.stop_reason, position)

    def _nonfinite_error(self, value: float) -> TrainingError:
        kept = f"; last good checkpoint kept at {self.last_checkpoint}" if self.last_checkpoint else ""
        return TrainingError(f"loss became {value} at step {self.global_step}: training stopped (try a lower"
                             f" {{field}} or turn bf16 off){kept}", field="lr", value=self.train_config.lr)

