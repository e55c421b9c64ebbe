"""Noise levels drawn in training, loss weights, and the sampler grids."""

from __future__ import annotations

import math

import pytest
import torch

from tui_denoiser.core.config import TrainConfig
from tui_denoiser.core.noise import karras_sigmas, linear_sigmas, loss_weights, training_sigmas
from tui_denoiser.core.recipes import RECIPES
from tui_denoiser.core.training.sigma_bins import sigma_bins


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_discrete_batch_is_one_level_per_batch():
    cfg = TrainConfig(noise="discrete-batch", noise_levels=10)
    allowed = {round(t / 10, 6) for t in range(1, 11)}
    seen = set()
    gen = _gen()
    for _ in range(60):
        sigma = training_sigmas(cfg, 16, device="cpu", generator=gen)
        assert sigma.shape == (16,)
        assert torch.all(sigma == sigma[0])
        value = round(float(sigma[0]), 6)
        assert value in allowed
        seen.add(value)
    assert len(seen) > 3  # it does vary between batches


def test_discrete_is_one_level_per_sample():
    cfg = TrainConfig(noise="discrete", noise_levels=4)
    sigma = training_sigmas(cfg, 256, device="cpu", generator=_gen())
    assert sigma.shape == (256,)
    assert {round(float(s), 6) for s in sigma} == {0.25, 0.5, 0.75, 1.0}


def test_continuous_is_in_zero_to_sigma_max():
    cfg = TrainConfig(noise="continuous", sigma_max=2.0, sigma_min=0.01)
    sigma = training_sigmas(cfg, 4096, device="cpu", generator=_gen())
    assert sigma.shape == (4096,)
    assert float(sigma.min()) > 0 and float(sigma.max()) <= 2.0
    assert len(torch.unique(sigma)) > 4000


def test_edm_is_log_normal():
    cfg = RECIPES["edm"].train
    sigma = training_sigmas(cfg, 20_000, device="cpu", generator=_gen())
    assert float(sigma.min()) > 0
    log = sigma.log()
    assert abs(float(log.mean()) - cfg.p_mean) < 0.05
    assert abs(float(log.std()) - cfg.p_std) < 0.05


def test_draws_are_seeded():
    cfg = TrainConfig(noise="continuous")
    a = training_sigmas(cfg, 8, device="cpu", generator=_gen(3))
    b = training_sigmas(cfg, 8, device="cpu", generator=_gen(3))
    c = training_sigmas(cfg, 8, device="cpu", generator=_gen(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_loss_weights():
    sigma = torch.tensor([0.1, 1.0, 10.0])
    for noise in ("discrete-batch", "discrete", "continuous"):
        assert loss_weights(TrainConfig(noise=noise), sigma, 0.5) is None
    w = loss_weights(TrainConfig(noise="edm"), sigma, 0.5)
    expected = (sigma**2 + 0.25) / (sigma * 0.5) ** 2
    assert torch.allclose(w, expected)
    assert math.isclose(float(w[1]), (1 + 0.25) / 0.25, rel_tol=1e-6)


def test_linear_sigmas():
    s = linear_sigmas(10, 1.0)
    assert s.shape == (10,)
    assert torch.allclose(s, torch.arange(10, 0, -1, dtype=torch.float64) / 10)


@pytest.mark.parametrize("steps", [1, 2, 5, 18])
def test_karras_sigmas_monotone_from_max_to_min(steps):
    s = karras_sigmas(steps, 0.002, 80.0)
    assert s.shape == (steps,)
    assert math.isclose(float(s[0]), 80.0, rel_tol=1e-9)
    if steps > 1:
        assert math.isclose(float(s[-1]), 0.002, rel_tol=1e-9)
        assert torch.all(s[1:] < s[:-1])


def test_log_normal_level_draw_favours_the_middle_and_keeps_every_level():
    from tui_denoiser.core.noise import level_probabilities
    cfg = RECIPES["original"].train.replace(level_draw="log-normal")
    probs = level_probabilities(cfg)
    assert math.isclose(float(probs.sum()), 1.0)
    assert float(probs.min()) >= 0.5 / cfg.noise_levels  # half the draws stay even: the top level still trains
    levels = cfg.levels()
    peak = levels[int(probs.argmax())]
    assert abs(math.log(peak) - cfg.p_mean) < 0.5  # the most drawn level sits at EDM's centre
    torch.testing.assert_close(level_probabilities(cfg.replace(level_draw="uniform")),
                               torch.full_like(probs, 1 / cfg.noise_levels))
    gen = _gen()
    drawn = torch.stack([training_sigmas(cfg, 4, device="cpu", generator=gen)[0] for _ in range(4000)])
    # The recipe spreads each level over its cell of the grid: count each draw in its level's bin.
    cell = torch.bucketize(drawn, torch.tensor(sigma_bins(cfg)[1][1:-1]))
    counts = torch.bincount(cell, minlength=len(levels)).float()
    torch.testing.assert_close(counts / 4000, probs.float(), atol=0.02, rtol=0)


@pytest.mark.parametrize("noise", ["geometric-batch", "geometric", "discrete-batch"])
def test_level_spread_covers_the_gaps_between_levels_and_nothing_else(noise):
    cfg = RECIPES["original"].train.replace(noise=noise, level_spread=1.0)
    levels = torch.tensor(cfg.levels(), dtype=torch.float64)
    gen = _gen()
    drawn = torch.cat([training_sigmas(cfg, 8, device="cpu", generator=gen).double() for _ in range(3000)])
    if noise.endswith("-batch"):
        assert bool((drawn.view(-1, 8) == drawn.view(-1, 8)[:, :1]).all())  # still one level a batch
    # Measured on the grid's own scale, each sigma lies within half a gap of a level, and the draws fill it.
    scale = drawn.log() if noise.startswith("geometric") else drawn
    grid = levels.log() if noise.startswith("geometric") else levels
    gap = float(grid[1] - grid[0])
    offset = (scale[:, None] - grid[None, :]).abs().min(dim=1).values / gap
    assert float(offset.max()) <= 0.5 + 1e-5
    assert float(offset.mean()) == pytest.approx(0.25, abs=0.03)  # uniform over half a gap either side
    # Without the spread, every draw is a level itself.
    exact = training_sigmas(cfg.replace(level_spread=0.0), 64, device="cpu", generator=gen).double()
    assert bool(torch.isclose(exact[:, None], levels[None, :].float().double(), rtol=1e-6).any(dim=1).all())


def test_level_spread_outside_0_1_is_refused():
    from tui_denoiser.core.errors import ConfigError
    with pytest.raises(ConfigError, match="level spread"):
        TrainConfig(level_spread=1.5).validate()


def test_unknown_level_draw_is_refused():
    from tui_denoiser.core.errors import ConfigError
    with pytest.raises(ConfigError, match="level draw"):
        TrainConfig(level_draw="gaussian").validate()
