"""Issue 13's core: the per-sigma loss bins and the in-training quality evaluation."""

from __future__ import annotations

import math

import pytest
import torch

from tui_denoiser.core import events as ev
from tui_denoiser.core.config import RECIPES, TrainConfig
from tui_denoiser.core.errors import ConfigError
from tui_denoiser.core.training_insight import LOG_BINS, SigmaBins, sigma_bins


def test_original_recipe_has_one_bin_per_level():
    centres, edges = sigma_bins(TrainConfig())
    assert centres == pytest.approx([t / 10 for t in range(1, 11)])
    assert len(edges) == 11
    assert all(lo < c < hi for lo, c, hi in zip(edges, centres, edges[1:]))


def test_edm_bins_are_log_spaced_over_the_configured_range():
    cfg = RECIPES["edm"].train
    centres, edges = sigma_bins(cfg)
    assert len(centres) == LOG_BINS and edges[0] == pytest.approx(cfg.sigma_min) and edges[-1] == pytest.approx(80)
    ratios = [b / a for a, b in zip(edges, edges[1:])]
    assert max(ratios) == pytest.approx(min(ratios))


def test_many_discrete_levels_fall_back_to_log_bins():
    centres, _ = sigma_bins(TrainConfig(noise_levels=1000))
    assert len(centres) == LOG_BINS


@pytest.mark.parametrize("cfg", [TrainConfig(), TrainConfig(noise="discrete", noise_levels=7),
                                 RECIPES["edm"].train, TrainConfig(noise="continuous")])
def test_binning_recovers_a_loss_that_is_a_known_function_of_sigma(cfg):
    """A stub 'model' whose per-sample loss is exactly log(sigma)^2 + 1: each bin's mean must be that
    function averaged over the sigmas that fell in it, and every sample must land in the bin whose
    edges hold its sigma (or an end bin when outside the range)."""
    from tui_denoiser.core.noise import training_sigmas

    bins = SigmaBins.for_config(cfg)
    gen = torch.Generator().manual_seed(0)
    seen = []
    for _ in range(200):
        sigma = training_sigmas(cfg, 64, device="cpu", generator=gen)
        bins.add(sigma, sigma.log().pow(2) + 1)
        seen.append(sigma.clone())
    loss, count = bins.means()
    sigmas = torch.cat(seen).double()
    assert sum(count) == sigmas.numel()
    edges = torch.tensor(bins.edges, dtype=torch.float64)
    which = torch.bucketize(sigmas, edges[1:-1])
    for i, (mean, n) in enumerate(zip(loss, count)):
        inside = sigmas[which == i]
        assert n == inside.numel()
        if n == 0:
            assert mean is None
            continue
        assert mean == pytest.approx(float((inside.log().pow(2) + 1).mean()), rel=1e-4)
        lo, hi = float(edges[i]), float(edges[i + 1])
        if 0 < i < len(count) - 1:
            assert float(inside.min()) >= lo * (1 - 1e-6) and float(inside.max()) <= hi * (1 + 1e-6)
    if cfg.noise == "discrete-batch":
        # one level per bin: the mean is the function at that level exactly
        for c, mean in zip(bins.centres, loss):
            if mean is not None:
                assert mean == pytest.approx(math.log(c) ** 2 + 1, rel=1e-5)


def test_add_batch_weights_the_per_sample_error():
    bins = SigmaBins([0.5, 2.0], [0.25, 1.0, 4.0])
    x0 = torch.zeros(2, 1, 28, 28)
    pred = torch.stack([torch.full((1, 28, 28), 1.0), torch.full((1, 28, 28), 2.0)])
    bins.add_batch(torch.tensor([0.5, 2.0]), pred, x0, torch.tensor([3.0, 0.5]))
    loss, count = bins.means()
    assert loss == pytest.approx([3.0, 2.0]) and count == [1, 1]


def test_state_round_trip_and_reset():
    bins = SigmaBins.for_config(TrainConfig())
    bins.add(torch.tensor([0.1, 0.1, 1.0]), torch.tensor([1.0, 3.0, 5.0]))
    other = SigmaBins.for_config(TrainConfig())
    other.load_state(bins.state())
    assert other.means() == bins.means()
    other.load_state({"sigma_sums": [1.0], "sigma_counts": [1.0]})  # another shape: ignored
    assert other.means() == bins.means()
    event = bins.event(2, 40)
    assert isinstance(event, ev.LossBySigma) and event.loss[0] == pytest.approx(2.0) and event.loss[1] is None
    assert ev.event_from_json(event.to_json()) == event
    bins.reset()
    assert bins.empty and bins.means()[0] == [None] * 10


@pytest.mark.parametrize("changes, words", [
    ({"eval_every": 0}, "eval every must be a positive number of steps, got 0"),
    ({"eval_every": -5}, "eval every must be a positive number of steps, got -5"),
    ({"eval_per_digit": -1}, "eval per digit must be an integer in 1..1000, got -1"),
    ({"eval_per_digit": 0}, "eval per digit must be an integer in 1..1000, got 0"),
])
def test_bad_eval_settings_are_one_line(changes, words):
    with pytest.raises(ConfigError) as info:
        TrainConfig().replace(**changes)
    assert str(info.value) == words and "\n" not in str(info.value)


def test_old_train_configs_without_eval_fields_still_load():
    data = TrainConfig().to_dict()
    for key in ("quality_eval", "eval_every", "eval_per_digit"):
        data.pop(key)
    assert TrainConfig.from_dict(data) == TrainConfig()
