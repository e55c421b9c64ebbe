"""The model takes mixing weights over its label embeddings (the playground's digit morph)."""

from __future__ import annotations

import numpy as np
import torch

from tui_denoiser.core.config import ModelConfig
from tui_denoiser.core.model import ConditionalDenoiser
from tui_denoiser.core.paths import shipped_file


def _model(parameterization: str) -> ConditionalDenoiser:
    torch.manual_seed(0)
    return ConditionalDenoiser(ModelConfig(channels=(8, 16, 16), norm="group",
                                           parameterization=parameterization)).eval()


def test_one_hot_weights_equal_the_integer_label_exactly():
    for parameterization in ("direct", "edm"):
        model = _model(parameterization)
        x = torch.randn(3, 1, 28, 28)
        labels = torch.tensor([1, 5, 10])  # 10 = the null label
        weights = torch.nn.functional.one_hot(labels, 11).float()
        with torch.inference_mode():
            assert torch.equal(model(x, 2.0, labels), model(x, 2.0, weights))


def test_mixed_weights_mix_the_embeddings():
    model = _model("edm")
    weights = torch.zeros(1, 11)
    weights[0, 2], weights[0, 7] = 0.25, 0.75
    expected = 0.25 * model.label_embedding.weight[2] + 0.75 * model.label_embedding.weight[7]
    assert torch.allclose(model.embed_labels(weights)[0], expected, atol=1e-6)
    with torch.inference_mode():
        out = model(torch.randn(1, 1, 28, 28), 1.0, weights)
    assert out.shape == (1, 1, 28, 28) and torch.isfinite(out).all()


def test_shipped_test_digits_are_two_real_digits_of_each_class():
    with np.load(shipped_file("mnist-test-digits.npz"), allow_pickle=False) as data:
        images, labels, indices = data["images"], data["labels"], data["indices"]
    assert images.shape == (20, 28, 28) and images.dtype == np.uint8
    assert sorted(labels.tolist()) == sorted(list(range(10)) * 2)
    assert len(set(indices.tolist())) == 20 and indices.max() < 10_000
    assert all(img.max() > 200 and img[0].max() == 0 for img in images)  # white digit on black, empty top row
