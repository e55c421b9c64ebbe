"""The conditional denoiser: shapes, noise-level forms, the null label, both parameterizations."""

from __future__ import annotations

import pytest
import torch

from tui_denoiser.core.config import ModelConfig
from tui_denoiser.core.model import ConditionalDenoiser, count_parameters

TINY = ModelConfig(channels=(8, 16, 16))
TINY_EDM = ModelConfig(channels=(8, 16, 16), norm="group", skip_connections=True, res_blocks=1,
                       parameterization="edm")


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.mark.parametrize("config", [TINY, TINY_EDM, ModelConfig()], ids=["direct", "edm", "default"])
def test_forward_shapes_with_both_noise_level_forms(config):
    torch.manual_seed(0)
    model = ConditionalDenoiser(config).eval()
    x = torch.randn(4, 1, 28, 28)
    labels = torch.tensor([0, 3, 9, config.num_classes])  # the last one is the null label
    per_sample = torch.full((4, 1, 1, 1), 0.5)
    shared = torch.full((1, 1, 1, 1), 0.5)
    with torch.no_grad():
        a = model(x, per_sample, labels)
        b = model(x, shared, labels)
        c = model(x, 0.5, labels)
    assert a.shape == (4, 1, 28, 28) and a.dtype == torch.float32
    assert torch.allclose(a, b, atol=1e-6) and torch.allclose(a, c, atol=1e-6)
    assert torch.isfinite(a).all()


def test_labels_and_noise_level_change_the_output():
    torch.manual_seed(0)
    model = ConditionalDenoiser(TINY).eval()
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        base = model(x, torch.full((1, 1, 1, 1), 0.5), torch.tensor([1, 1]))
        other_label = model(x, torch.full((1, 1, 1, 1), 0.5), torch.tensor([2, 2]))
        null = model(x, torch.full((1, 1, 1, 1), 0.5), torch.full((2,), model.null_label))
        other_sigma = model(x, torch.full((1, 1, 1, 1), 0.9), torch.tensor([1, 1]))
    assert model.null_label == TINY.num_classes == 10
    assert not torch.allclose(base, other_label)
    assert not torch.allclose(base, null)
    assert not torch.allclose(base, other_sigma)


def test_wrong_number_of_noise_levels_is_refused():
    model = ConditionalDenoiser(TINY).eval()
    with pytest.raises(ValueError, match="noise_level"):
        model(torch.randn(3, 1, 28, 28), torch.full((2, 1, 1, 1), 0.5), torch.tensor([0, 1, 2]))


def test_edm_carries_the_input_through_at_tiny_sigma():
    torch.manual_seed(0)
    model = ConditionalDenoiser(TINY_EDM).eval()
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        out = model(x, torch.full((1, 1, 1, 1), 1e-4), torch.tensor([0, 5, 10]))
    assert torch.allclose(out, x, atol=1e-3)
    # ... whereas at a large sigma the output is the network's guess, nowhere near the input.
    with torch.no_grad():
        far = model(x * 80, torch.full((1, 1, 1, 1), 80.0), torch.tensor([0, 5, 10]))
    assert not torch.allclose(far, x * 80, atol=1.0)


def test_build_model_and_parameter_count():
    small, default = ConditionalDenoiser(TINY), ConditionalDenoiser(ModelConfig())
    assert isinstance(small, ConditionalDenoiser)
    assert 0 < count_parameters(small) < count_parameters(default)
    # The same config gives the same state-dict layout (what checkpoints rely on).
    assert small.state_dict().keys() == ConditionalDenoiser(TINY).state_dict().keys()


def test_invalid_config_is_refused_at_construction():
    from tui_denoiser.core.errors import ConfigError

    with pytest.raises(ConfigError):
        ConditionalDenoiser(ModelConfig(channels=(8, 16)))  # type: ignore[arg-type]
