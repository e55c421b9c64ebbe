"""Bad checkpoint files for the bad-input tests."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from tui_denoiser.core.checkpoint import save_checkpoint
from tui_denoiser.core.config import ModelConfig, TrainConfig
from tui_denoiser.core.model import ConditionalDenoiser


class RunsCode:
    """Unpickling this would run ``touch SENTINEL``."""

    def __init__(self, sentinel: Path):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return (os.system, (f"touch {self.sentinel}",))


def good(path: Path, channels=(8, 8, 8)) -> Path:
    cfg = ModelConfig(channels=channels)
    model = ConditionalDenoiser(cfg)
    return save_checkpoint(path, {"model_config": cfg.to_dict(), "train_config": TrainConfig().to_dict(),
                                  "model": model.state_dict(), "ema": None, "epoch": 1, "global_step": 1})


def make_all(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    files["other_shape"] = good(folder / "other-shape.pt")
    payload = torch.load(files["other_shape"], weights_only=True)
    payload["model_config"] = ModelConfig(channels=(16, 16, 16)).to_dict()  # weights are 8,8,8
    torch.save(payload, files["other_shape"])
    whole = good(folder / "whole.pt").read_bytes()
    files["truncated"] = folder / "truncated.pt"
    files["truncated"].write_bytes(whole[: len(whole) // 2])
    files["not_checkpoint"] = folder / "notes.pt"
    files["not_checkpoint"].write_text("these are my notes, not a model\n")
    files["pickle"] = folder / "evil.pt"
    torch.save({"format": "denoiser-tui-checkpoint", "x": RunsCode(folder / "PWNED")}, files["pickle"])
    return files
