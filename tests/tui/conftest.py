"""Fixtures for the app's tests: a tiny trained checkpoint (helpers live in helpers/tui.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_data_dir, tmp_path_factory) -> Path:
    """A real checkpoint from one tiny epoch of the core trainer (seeded, so sampling is repeatable)."""
    import torch

    from tui_denoiser.core.config import ModelConfig, TrainConfig
    from tui_denoiser.core.training import Trainer

    torch.set_num_threads(1)  # 2 cores: leave one for the event loop of the app tests
    run_dir = tmp_path_factory.mktemp("ckpt") / "run"
    result = Trainer(ModelConfig(), TrainConfig(epochs=1, batch_size=128, preview=False), run_dir=run_dir,
                     data_dir=tiny_data_dir).run()
    assert result.kind == "finished", result
    return run_dir / "last.pt"


@pytest.fixture(autouse=True)
def fake_precision_probe(monkeypatch):
    """No real precision probe (seconds of timed steps) in the app's tests: every variant times the
    same, so a run trains in fp32 contiguous wherever the tests run. Returns the variants probed."""
    from tui_denoiser.core import precision

    probed: list[list[str]] = []

    def probe(device, model_config, batch_size, variants):
        probed.append([precision.variant_name(v) for v in variants])
        return {precision.variant_name(v): 1.0 for v in variants}

    monkeypatch.setattr(precision, "probe_timings", probe)
    return probed
