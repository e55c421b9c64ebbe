"""The sampling driver: any starting x over any list of levels, and a per-step hook."""

from __future__ import annotations

import math

import pytest
import torch

from tui_denoiser.core.config import ModelConfig, SamplingConfig
from tui_denoiser.core.model import ConditionalDenoiser
from tui_denoiser.core.sampling import SAMPLERS, drive, final_images, sample, sigma_schedule


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(1)
    return ConditionalDenoiser(ModelConfig(channels=(8, 16, 16), norm="group", parameterization="edm")).eval()


CONFIG = SamplingConfig(sampler="dpm2m", steps=5, guidance=1.5, sigma_min=0.01, sigma_max=10.0)


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_sample_is_drive_from_seeded_noise_over_the_whole_schedule(model, sampler):
    config = CONFIG.replace(sampler=sampler)
    generator = torch.Generator().manual_seed(4)
    x = torch.randn((2, 1, 28, 28), generator=generator) * config.sigma_max
    driven = list(drive(model, [3, 8], config, x=x, sigmas=sigma_schedule(config), generator=generator))
    sampled = list(sample(model, [3, 8], config, seed=4))
    assert len(driven) == len(sampled) == config.steps + 1
    assert all(torch.equal(a.images, b.images) and a.sigma == b.sigma for a, b in zip(driven, sampled))


def test_drive_from_a_given_x_over_a_truncated_schedule(model):
    sigmas = [2.0, 0.5, 0.1, 0.0]
    x = torch.zeros((1, 1, 28, 28))
    steps = list(drive(model, [1], CONFIG, x=x, sigmas=sigmas, generator=torch.Generator().manual_seed(0)))
    assert [s.index for s in steps] == [0, 1, 2, 3] and all(s.total == 3 for s in steps)
    assert [s.sigma for s in steps] == sigmas and torch.equal(steps[0].images, x)


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_the_hook_changes_what_the_sampler_goes_on_from(model, sampler):
    config = CONFIG.replace(sampler=sampler)
    seen = []

    def pin_corner(k, x, sigma):
        seen.append((k, sigma))
        x = x.clone()
        x[..., :4, :4] = 0.25
        return x

    sigmas = sigma_schedule(config)
    steps = list(drive(model, [5], config, x=torch.randn((1, 1, 28, 28)) * 10, sigmas=sigmas,
                       generator=torch.Generator().manual_seed(0), hook=pin_corner))
    assert seen == [(k, sigmas[k]) for k in range(1, len(sigmas))]
    assert all(torch.all(s.images[..., :4, :4] == 0.25) for s in steps[1:])
    plain = final_images(sample(model, [5], config, seed=0))
    assert not torch.equal(plain[..., 4:, 4:], steps[-1].images[..., 4:, 4:])
    assert math.isfinite(steps[-1].images.abs().max().item())


@pytest.mark.parametrize("sampler", ["dpm2m", "stochastic"])
def test_the_hook_sees_the_whole_batch_whatever_the_chunks(model, sampler):
    config = CONFIG.replace(sampler=sampler)

    def pin_corner(k, x, sigma):
        assert x.shape[0] == 5
        x = x.clone()
        x[..., :4, :4] = -0.5
        return x

    start = torch.randn((5, 1, 28, 28), generator=torch.Generator().manual_seed(2)) * 10
    runs = [list(drive(model, [0, 1, 2, 3, 4], config, x=start, sigmas=sigma_schedule(config),
                       generator=torch.Generator().manual_seed(3), hook=pin_corner, chunk_size=chunk))[-1].images
            for chunk in (None, 2)]
    assert torch.allclose(runs[0], runs[1], atol=1e-4)  # chunks differ from one batch only in float rounding
    assert all(torch.all(run[..., :4, :4] == -0.5) for run in runs)
