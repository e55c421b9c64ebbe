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
