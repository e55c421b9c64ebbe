"""On the real MNIST (skipped where ../shared/data is absent): the splits and the shipped model."""

from __future__ import annotations

import pytest
import torch

from tui_denoiser.core.checkpoint import load_checkpoint
from tui_denoiser.core.inference import load_model
from tui_denoiser.core.data import load_split
from tui_denoiser.core.paths import DEFAULT_MODEL

pytestmark = pytest.mark.real_data


def test_real_mnist_splits(real_mnist_dir):
    images, labels = load_split("mnist", real_mnist_dir, train=True)
    assert images.shape == (60000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (60000,) and labels.dtype == torch.int64
    assert sorted(torch.unique(labels).tolist()) == list(range(10))
    test_images, test_labels = load_split("mnist", real_mnist_dir, train=False)
    assert test_images.shape == (10000, 28, 28) and test_images.dtype == torch.uint8
    assert test_labels.shape == (10000,)


def test_shipped_model_loads_weights_only_and_samples_ten_digits():
    if not DEFAULT_MODEL.is_file():
        pytest.skip(f"shipped model not found at {DEFAULT_MODEL}")
    torch.set_num_threads(1)
    # The raw file loads with torch's safe unpickler.
    raw = torch.load(DEFAULT_MODEL, map_location="cpu", weights_only=True)
    assert raw["format"] == "denoiser-tui-checkpoint"
    assert load_checkpoint(DEFAULT_MODEL)["model_config"]["parameterization"] == "edm"
    loaded = load_model(DEFAULT_MODEL)
    assert not loaded.model.training
    frames = list(loaded.sample(list(range(10)), seed=0))
    assert len(frames) == loaded.sampling.steps + 1
    final = frames[-1].images
    assert final.shape == (10, 1, 28, 28) and torch.isfinite(final).all()
    # Real digits: mostly background with some ink, not noise.
    ink = (final > 0).float().mean(dim=(1, 2, 3))
    assert torch.all(ink > 0.02) and torch.all(ink < 0.5)
