"""Helpers the core tests share: a checkpoint payload built in memory, and a training run that keeps
every event it reports."""

from __future__ import annotations

import torch

from tui_denoiser.core.config import ModelConfig, TrainConfig
from tui_denoiser.core.model import ConditionalDenoiser
from tui_denoiser.core.training import Trainer

TINY_MODEL = ModelConfig(channels=(8, 16, 16))


def checkpoint_payload(model_config: ModelConfig = TINY_MODEL, train_config: TrainConfig | None = None, *,
                       ema: bool = False, seed: int = 0, **extra) -> dict:
    """What a checkpoint holds, with seeded random weights (and EMA weights from another seed)."""
    torch.manual_seed(seed)
    payload = {"model_config": model_config.to_dict(),
               "train_config": (train_config or TrainConfig(batch_size=32)).to_dict(),
               "model": ConditionalDenoiser(model_config).state_dict(), "ema": None, "epoch": 2, "global_step": 16,
               "history": [{"epoch": 1, "train_loss": 0.5, "val_loss": 0.4, "lr": 1e-3}]}
    if ema:
        torch.manual_seed(seed + 100)
        payload["ema"] = ConditionalDenoiser(model_config).state_dict()
    payload.update(extra)
    return payload


def train_collecting(model_config: ModelConfig, train_config: TrainConfig, run_dir, tensors, **kwargs):
    """Run a Trainer on in-memory ``tensors``; returns (its final event, every event it reported).
    A ``callback`` in ``kwargs`` still sees each event."""
    got: list = []
    callback = kwargs.pop("callback", None)

    def collect(event):
        got.append(event)
        if callback is not None:
            callback(event)

    result = Trainer(model_config, train_config, run_dir=run_dir, data=tensors, callback=collect, **kwargs).run()
    return result, got
