"""What a run carries from one invocation to the next: the EMA weights, the learning-rate schedule, the
config a resume may change, and the checkpoint payload the trainer writes and restores exactly.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from tui_denoiser.core.config import TrainConfig
from tui_denoiser.core.errors import CheckpointError, TrainingError


def resume_config(saved: TrainConfig, *, epochs: int | None = None, max_steps: int | None = None,
                  device: str | None = None, bf16: bool | None = None,
                  channels_last: bool | None = None) -> TrainConfig:
    """The config a resumed run continues with: the saved run's, with only what a resume may change.

    ``epochs``, ``device``, ``bf16`` and ``channels_last`` keep the saved values when None (the
    precision is how this machine runs the steps, not part of the recipe: a resume decides it again,
    :mod:`tui_denoiser.core.precision`). ``max_steps`` is a budget of one invocation, not of the run:
    a resume without one runs on to the run's last epoch.
    """
    changes: dict[str, Any] = {"max_steps": max_steps}
    for name, value in (("epochs", epochs), ("device", device), ("bf16", bf16), ("channels_last", channels_last)):
        if value is not None:
            changes[name] = value
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


def checkpoint_payload(trainer, epoch_done: int, position: dict[str, Any] | None) -> dict[str, Any]:
    """Everything a resume needs to continue ``trainer``'s run exactly (weights, optimizer, schedule,
    EMA, every RNG, the position inside the epoch) and what sampling from the file needs."""
    rng = {"cpu_gen": trainer.cpu_gen.get_state(), "dev_gen": trainer.dev_gen.get_state().cpu(),
           "device_type": trainer.device.type, "torch": torch.get_rng_state()}
    ema = trainer.ema
    return {
        "model_config": trainer.model_config.to_dict(),
        "train_config": trainer.train_config.to_dict(),
        "model": {k: v.detach().cpu() for k, v in trainer.model.state_dict().items()},
        "ema": {k: v.detach().cpu() for k, v in ema.model.state_dict().items()} if ema else None,
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict(),
        "epoch": epoch_done,
        "global_step": trainer.global_step,
        "position": position,
        "rng": rng,
        "history": trainer.history,
        "data_dir": str(trainer.data_dir),
        "sampling_config": trainer.sampling.to_dict(),
    }


def restore(trainer, payload: dict[str, Any], where) -> None:
    """Put ``payload`` (a :func:`checkpoint_payload` read back from ``where``) into ``trainer``."""
    from tui_denoiser.core.checkpoint import build_from

    trainer.model.load_state_dict(build_from(payload, where, ema=False).state_dict())
    try:
        if payload.get("optimizer"):
            trainer.optimizer.load_state_dict(payload["optimizer"])
        if payload.get("scheduler"):
            trainer.scheduler.load_state_dict(payload["scheduler"])
        if trainer.ema is not None and payload.get("ema") is not None:
            trainer.ema.model.load_state_dict(payload["ema"])
        rng = payload.get("rng") or {}
        if "cpu_gen" in rng:
            trainer.cpu_gen.set_state(rng["cpu_gen"])
        if "dev_gen" in rng and trainer.device.type == rng.get("device_type"):
            trainer.dev_gen.set_state(rng["dev_gen"].cpu())
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
    except (ValueError, RuntimeError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{where}: its training state does not fit this run ({exc})") from exc
    trainer.start_epoch = int(payload.get("epoch", 0))
    trainer.global_step = int(payload.get("global_step", 0))
    trainer.history = list(payload.get("history") or [])
    trainer.last_checkpoint = str(where)
    position = payload.get("position")
    if position is not None:
        trainer.resume_position = position
