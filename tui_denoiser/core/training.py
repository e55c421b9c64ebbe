"""The trainer: one loop shared by the app and the CLI, reporting through a callback.

Readable top to bottom: set up (device, seed, data, model, optimizer, EMA, resume) -> for each epoch,
draw shuffled batches by index from the resident uint8 tensors, noise them, regress the clean image,
report throttled step updates -> at epoch end validate, preview, report the loss per noise level and
the quality evaluation (core/training_insight.py), checkpoint. It checks the stop and pause events every
step, never prints, and turns every failure into a :class:`Failed` event.
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch.nn import functional as F

from tui_denoiser.core import distributed
from tui_denoiser.core import events as ev
from tui_denoiser.core.checkpoint import build_from, configs_from, load_checkpoint, save_checkpoint
from tui_denoiser.core.config import ModelConfig, TrainConfig
from tui_denoiser.core.data import load_split, to_model_range
from tui_denoiser.core.devices import device_name, pick_device
from tui_denoiser.core.errors import CheckpointError, ExplainedError, TrainingError, UserError
from tui_denoiser.core.model import ConditionalDenoiser
from tui_denoiser.core.noise import loss_weights, training_sigmas
from tui_denoiser.core.paths import default_data_dir
from tui_denoiser.core.sampling_policy import model_sampling
from tui_denoiser.core.run_folder import METRICS_FILE, end_partial_line
from tui_denoiser.core.threads import cpu_threads
from tui_denoiser.core.training_insight import QualityMonitor, SigmaBins, eval_settings, quality_unavailable

UPDATE_INTERVAL_S = 0.25
VAL_SEED = 1234


def resume_config(saved: TrainConfig, *, epochs: int | None = None, max_steps: int | None = None,
                  device: str | None = None) -> TrainConfig:
    """The config a resumed run continues with: the saved run's, with only what a resume may change.

    ``epochs`` and ``device`` keep the saved values when None. ``max_steps`` is a budget of one
    invocation, not of the run: a resume without one runs on to the run's last epoch.
    """
    changes: dict[str, Any] = {"max_steps": max_steps}
    if epochs is not None:
        changes["epochs"] = epochs
    if device is not None:
        changes["device"] = device
    return saved.replace(**changes)


def out_of_memory_error(batch_size: int) -> TrainingError:
    smaller = max(1, batch_size // 2)
    return TrainingError(f"out of memory at batch size {batch_size}", field="batch_size", value=smaller,
                         hint=f"try {{field}} {smaller}")


def lr_schedule(cfg: TrainConfig) -> list[float]:
    """The learning rate of each epoch under StepLR(step_size, gamma)."""
    return [cfg.lr * cfg.gamma ** (epoch // cfg.step_size) for epoch in range(cfg.epochs)]


class EMA:
    """Exponential moving average of the weights (buffers copied): ``ema <- decay ema + (1-decay) w``."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        ema_params = list(self.model.parameters())
        params = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema_params, params, 1.0 - self.decay)
        for b_ema, b in zip(self.model.buffers(), model.buffers()):
            b_ema.copy_(b)


class Trainer:
    """Trains a :class:`ConditionalDenoiser`; see the module docstring.

    ``resume=True`` continues from ``run_dir/last.pt`` exactly (epoch, position in the epoch, LR
    schedule, optimizer, EMA, RNG); a ``train_config`` passed with it may only change ``epochs``,
    ``max_steps`` and ``device``. ``data`` (train images, train labels, test images, test labels as
    uint8/int64 tensors) skips loading from ``data_dir``.
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

    # -- reporting -------------------------------------------------------------------------------
    def _emit(self, event: ev.TrainEvent) -> None:
        if self.write_metrics:
            try:
                with open(self.run_dir / METRICS_FILE, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(event.to_json()) + "\n")
            except OSError:
                pass  # metrics are a convenience; a full disk is reported when the checkpoint fails
        if self.callback is not None:
            self.callback(event)

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
                                               device=passed.device) if passed is not None
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
        self.global_step = 0
        self.resume_position: dict[str, Any] | None = None
        if resume_payload is not None:
            self._restore(resume_payload)

    def _restore(self, payload: dict[str, Any]) -> None:
        where = self.run_dir / "last.pt"
        self.model.load_state_dict(build_from(payload, where, ema=False).state_dict())
        try:
            if payload.get("optimizer"):
                self.optimizer.load_state_dict(payload["optimizer"])
            if payload.get("scheduler"):
                self.scheduler.load_state_dict(payload["scheduler"])
            if self.ema is not None and payload.get("ema") is not None:
                self.ema.model.load_state_dict(payload["ema"])
            rng = payload.get("rng") or {}
            if "cpu_gen" in rng:
                self.cpu_gen.set_state(rng["cpu_gen"])
            if "dev_gen" in rng and self.device.type == rng.get("device_type"):
                self.dev_gen.set_state(rng["dev_gen"].cpu())
            if "torch" in rng:
                torch.set_rng_state(rng["torch"])
        except (ValueError, RuntimeError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{where}: its training state does not fit this run ({exc})") from exc
        self.start_epoch = int(payload.get("epoch", 0))
        self.global_step = int(payload.get("global_step", 0))
        self.history = list(payload.get("history") or [])
        self.last_checkpoint = str(where)
        position = payload.get("position")
        if position is not None:
            self.resume_position = position

    def _payload(self, epoch_done: int, position: dict[str, Any] | None) -> dict[str, Any]:
        rng = {"cpu_gen": self.cpu_gen.get_state(), "dev_gen": self.dev_gen.get_state().cpu(),
               "device_type": self.device.type, "torch": torch.get_rng_state()}
        return {
            "model_config": self.model_config.to_dict(),
            "train_config": self.train_config.to_dict(),
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "ema": {k: v.detach().cpu() for k, v in self.ema.model.state_dict().items()} if self.ema else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": epoch_done,
            "global_step": self.global_step,
            "position": position,
            "rng": rng,
            "history": self.history,
            "data_dir": str(self.data_dir),
            "sampling_config": self.sampling.to_dict(),
        }

    def _save(self, epoch_done: int, reason: str, position: dict[str, Any] | None = None) -> str:
        if not self.dist.is_main:  # every rank holds the same state; rank 0 writes it
            self.last_checkpoint = str(self.run_dir / "last.pt")
            return self.last_checkpoint
        payload = self._payload(epoch_done, position)
        last = save_checkpoint(self.run_dir / "last.pt", payload)
        if reason == "epoch":
            save_checkpoint(self.run_dir / f"epoch-{epoch_done:03d}.pt", payload)
        self.last_checkpoint = str(last)
        self._emit(ev.CheckpointSaved(str(last), epoch_done, self.global_step, reason))
        return str(last)

    def sampling_model(self) -> ConditionalDenoiser:
        """An eval-mode copy of the weights to sample from (EMA when on): never the training module."""
        source = self.ema.model if self.ema is not None else self.model
        clone = copy.deepcopy(source).eval()
        return clone.to(memory_format=torch.contiguous_format)

    def _sampling_loaded(self):
        """A LoadedModel over a copy of the sampling weights, sampling as this run's checkpoints will."""
        from tui_denoiser.core.inference import LoadedModel, prepare_for_inference

        return LoadedModel(prepare_for_inference(self.sampling_model()), self.model_config, self.train_config,
                           self.run_dir / "last.pt", sampling=self.sampling)

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
        self._emit(ev.Warning_(reason))
        return None

    def _evaluate(self, epoch: int, at: str) -> float:
        """One quality evaluation (a QualityEval event); returns its seconds. A failure turns the
        evaluation off with one warning line: it never ends the run."""
        t0 = time.perf_counter()
        try:
            result = self.quality.evaluate(self._sampling_loaded(), epoch, self.global_step, at)
        except Exception as exc:  # noqa: BLE001 - an insight, not the training: keep training without it
            self.quality = None
            self._emit(ev.Warning_(f"quality evaluation failed and is off for this run: {_first_line(exc)}"))
            return time.perf_counter() - t0
        if result is not None:
            self._emit(result)
            if at == "epoch" and self.history:
                self.history[-1].update(accuracy=result.accuracy, frechet=result.frechet)
        return time.perf_counter() - t0

    @torch.no_grad()
    def validation_loss(self, model: torch.nn.Module) -> float:
        """Loss on the test split with fixed noise (same seed every epoch), so epochs compare."""
        cfg = self.train_config
        if not self.dist.is_main:
            return math.nan  # rank 0 validates
        was_training = model.training
        model.eval()
        gen = torch.Generator(device=self.device).manual_seed(VAL_SEED)
        total, count = torch.zeros((), device=self.device), 0
        bs = max(cfg.batch_size, 512)
        val_cfg = cfg.replace(noise="discrete") if cfg.noise == "discrete-batch" else cfg
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
        n_train = self.train_x.shape[0]
        steps_per_epoch = math.ceil(n_train / cfg.batch_size)
        schedule = lr_schedule(cfg)
        total_steps = steps_per_epoch * cfg.epochs
        if cfg.max_steps is not None:
            total_steps = min(total_steps, cfg.max_steps)
        self._emit(ev.RunStarted(str(self.run_dir), self.device.type, device_name(self.device), cfg.epochs,
                                 steps_per_epoch, self.start_epoch, self.global_step, schedule,
                                 self.model_config.to_dict(), cfg.to_dict(), list(self.history)))
        for note in self.dist.notes:
            self._emit(ev.Warning_(note))
        self.quality = self._quality_monitor()
        autocast = cfg.bf16 and self.device.type != "mps"
        null_label = self.model_config.num_classes
        t_start = time.perf_counter()
        steps_this_run = 0
        stopped = False
        epoch = self.start_epoch
        train_loss = val_loss = None
        self.model.train()

        while epoch < cfg.epochs and not stopped:
            position = self.resume_position
            self.resume_position = None
            self.sigma_bins.load_state(position if self.dist.is_main else None)  # a resumed epoch keeps its loss-by-sigma bins (summed: once)
            if position is not None:
                perm = position["perm"].to(self.device, torch.long)
                first = int(position["step_in_epoch"])
                loss_sum = torch.tensor(float(position["loss_sum"]), device=self.device)
                loss_count = int(position["loss_count"])
            else:
                perm = torch.randperm(n_train, generator=self.cpu_gen).to(self.device)
                first = 0
                loss_sum = torch.zeros((), device=self.device)
                loss_count = 0
            window_sum = torch.zeros((), device=self.device)
            window_steps = 0
            window_images = 0
            t_window = time.perf_counter()
            lr = self.optimizer.param_groups[0]["lr"]
            step_in_epoch = first
            for step_in_epoch in range(first, steps_per_epoch):
                if self.pause_event.is_set():
                    paused_at = time.perf_counter()
                    while self.pause_event.is_set() and not self.stop_event.is_set():
                        time.sleep(0.05)
                    t_start += time.perf_counter() - paused_at
                    t_window = time.perf_counter()
                if (self.dist.agree_stop(self.stop_event.is_set(), self.global_step)
                        or (cfg.max_steps is not None and self.global_step >= cfg.max_steps)):
                    stopped = True
                    break
                idx = perm[step_in_epoch * cfg.batch_size:(step_in_epoch + 1) * cfg.batch_size]
                x0 = to_model_range(self.train_x[idx]).contiguous(memory_format=self.memory_format)
                labels = self.train_y[idx]
                batch = x0.shape[0]
                sigma = training_sigmas(cfg, batch, device=self.device, generator=self.dev_gen)
                noise = torch.randn(x0.shape, device=self.device, generator=self.dev_gen)
                if cfg.label_dropout > 0:
                    drop = torch.rand((batch,), device=self.device, generator=self.dev_gen) < cfg.label_dropout
                    labels = torch.where(drop, torch.full_like(labels, null_label), labels)
                x0, labels, sigma, noise = self.dist.take_share(x0, labels, sigma, noise)  # this rank's rows
                s4 = sigma[:, None, None, None]
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=autocast):
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
                detached = self.dist.mean(loss.detach())  # the global batch's loss on every rank
                loss_sum += detached
                window_sum += detached
                loss_count += 1
                window_steps += 1
                window_images += batch
                self.global_step += 1
                steps_this_run += 1
                now = time.perf_counter()
                if now - t_window >= UPDATE_INTERVAL_S or step_in_epoch == steps_per_epoch - 1:
                    window_loss = float(window_sum) / window_steps  # the one host sync per update
                    if not math.isfinite(window_loss):
                        raise self._nonfinite_error(window_loss)
                    now = time.perf_counter()
                    elapsed = now - t_start
                    rate = window_images / max(now - t_window, 1e-9)
                    remaining = max(total_steps - self.global_step, 0)
                    eta = remaining * elapsed / max(steps_this_run, 1)
                    mem = torch.cuda.max_memory_allocated(self.device) / 2**20 if self.device.type == "cuda" else None
                    self._emit(ev.StepUpdate(epoch, step_in_epoch + 1, steps_per_epoch, self.global_step, window_loss,
                                             lr, rate, elapsed, eta, mem))
                    window_sum = torch.zeros((), device=self.device)
                    window_steps = window_images = 0
                    t_window = now
                if self.quality is not None and self.quality.due_after_step(self.global_step):
                    t_window += self._evaluate(epoch, "step")  # images/s counts training only
            else:
                step_in_epoch = steps_per_epoch

            if stopped:
                if not math.isfinite(float(loss_sum)):  # never overwrite the last good checkpoint with NaN
                    raise self._nonfinite_error(float(loss_sum))
                # Save where in the epoch we are (its permutation too) so a resume continues exactly.
                position = {"perm": perm.to("cpu", torch.int32), "step_in_epoch": step_in_epoch,
                            "loss_sum": float(loss_sum), "loss_count": loss_count,
                            **self.dist.reduced(self.sigma_bins).state()}
                self._save(epoch, self.stop_reason, position)
                break

            train_loss = float(loss_sum) / max(loss_count, 1)
            if not math.isfinite(train_loss):
                raise self._nonfinite_error(train_loss)
            val_loss = self.validation_loss(self.ema.model if self.ema is not None else self.model)
            self.scheduler.step()
            next_lr = self.optimizer.param_groups[0]["lr"]
            elapsed = time.perf_counter() - t_start
            remaining = max(total_steps - self.global_step, 0)
            eta = remaining * elapsed / max(steps_this_run, 1)
            preview = self._preview() if cfg.preview else None
            record = {"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss, "lr": lr,
                      "global_step": self.global_step, "elapsed_s": elapsed}
            self.history.append(record)
            rate = steps_this_run * cfg.batch_size / max(elapsed, 1e-9)
            self._emit(ev.EpochEnd(epoch, cfg.epochs, self.global_step, train_loss, val_loss, lr, next_lr, elapsed,
                                   eta, rate, preview))
            self._emit(self.dist.reduced(self.sigma_bins).event(epoch, self.global_step))
            self.sigma_bins.reset()
            if self.quality is not None and self.quality.at_epoch_end:
                self._evaluate(epoch, "epoch")
            epoch += 1
            self._save(epoch, "epoch")
            if cfg.max_steps is not None and self.global_step >= cfg.max_steps:
                stopped = epoch < cfg.epochs
                break

        self._end_insight(epoch, steps_this_run)
        finished = ev.Finished(epoch, self.global_step, time.perf_counter() - t_start, stopped,
                               self.last_checkpoint, train_loss, val_loss)
        self._emit(finished)
        return finished

    def _end_insight(self, epoch: int, steps_this_run: int) -> None:
        """The run's end: the loss by sigma of an epoch cut short, and a last evaluation unless a person
        or a signal stopped the run (they want it to end now) or the last step was just evaluated."""
        bins = self.dist.reduced(self.sigma_bins)
        if not bins.empty:
            self._emit(bins.event(epoch, self.global_step, partial=True))
        if (self.quality is not None and steps_this_run > 0 and not self.stop_event.is_set()
                and self.quality.last_step != self.global_step):
            self._evaluate(min(epoch, self.train_config.epochs - 1), "end")

    def _nonfinite_error(self, value: float) -> TrainingError:
        kept = f"; last good checkpoint kept at {self.last_checkpoint}" if self.last_checkpoint else ""
        return TrainingError(f"loss became {value} at step {self.global_step}: training stopped (try a lower"
                             f" {{field}} or turn bf16 off){kept}", field="lr", value=self.train_config.lr)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
