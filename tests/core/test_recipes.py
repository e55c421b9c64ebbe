"""The seed and original recipes: their noise levels, level-wise BatchNorm, input planes, default sampling."""

from __future__ import annotations

import math

import pytest
import torch

from tui_denoiser.core.config import ModelConfig, SamplingConfig, TrainConfig, churned_sigma, grid_levels
from tui_denoiser.core.errors import ConfigError
from tui_denoiser.core.model import ConditionalDenoiser, LevelBatchNorm2d
from tui_denoiser.core.noise import karras_sigmas, linear_sigmas, training_sigmas
from tui_denoiser.core.recipes import RECIPES
from tui_denoiser.core.sampling import sigma_schedule
from tui_denoiser.core.sampling_policy import count_model_calls, default_sampling
from tui_denoiser.core.training.sigma_bins import sigma_bins


def test_geometric_levels_reach_pure_noise_on_a_log_scale():
    cfg = RECIPES["original"].train
    levels = cfg.levels()
    assert len(levels) == cfg.noise_levels
    assert levels[0] == pytest.approx(cfg.sigma_min) and levels[-1] == pytest.approx(cfg.sigma_max)
    ratios = [b / a for a, b in zip(levels, levels[1:])]
    assert max(ratios) == pytest.approx(min(ratios))  # evenly spaced in log sigma
    sigma_data = RECIPES["original"].model.sigma_data
    # The top level is pure noise: the clean image's share of the input's spread is under 4 %.
    assert sigma_data / (sigma_data**2 + levels[-1] ** 2) ** 0.5 < 0.04


def test_the_seed_keeps_t_over_T():
    assert TrainConfig().levels() == pytest.approx([t / 10 for t in range(1, 11)])
    assert TrainConfig(noise="edm").levels() is None


def test_grid_levels_agree_with_the_torch_grids():
    assert grid_levels("linear", 10, 0.1, 1.0) == pytest.approx(linear_sigmas(10, 1.0).tolist())
    assert grid_levels("karras", 14, 0.002, 80.0) == pytest.approx(karras_sigmas(14, 0.002, 80.0).tolist())


@pytest.mark.parametrize("mode", ["geometric-batch", "geometric"])
def test_training_draws_the_recipe_levels(mode):
    """Every draw lies in one level's cell of the log grid (the recipe spreads sigma over the cell): the
    same cells as the loss-by-level bins, so each batch's loss lands in its own level's bin. Every level is
    drawn."""
    cfg = RECIPES["original"].train.replace(noise=mode)
    gen = torch.Generator().manual_seed(0)
    _, edges = sigma_bins(cfg)
    seen = set()
    for _ in range(200):
        sigma = training_sigmas(cfg, 16, device="cpu", generator=gen)
        assert bool((sigma >= edges[0] * (1 - 1e-5)).all() and (sigma <= edges[-1] * (1 + 1e-5)).all())
        if mode == "geometric-batch":
            assert bool((sigma == sigma[0]).all())
        seen.update(torch.bucketize(sigma.contiguous(), torch.tensor(edges[1:-1])).tolist())
    assert len(seen) == cfg.noise_levels


def test_original_samples_over_its_own_training_levels():
    recipe = RECIPES["original"]
    config = default_sampling(recipe.model, recipe.train)
    assert config.grid == "geometric" and config.steps == recipe.train.noise_levels
    schedule = sigma_schedule(config)
    assert schedule[:-1] == pytest.approx(recipe.train.levels()[::-1]) and schedule[-1] == 0.0
    # Guided (the recipe drops labels for it): the null label's call too where the model is evaluated inside
    # the interval; dpm2m-churn evaluates its churned levels above their sigma.
    evaluated = [churned_sigma(s, s_next, config.churn_gamma, config.churn_levels)
                 for s, s_next in zip(schedule, schedule[1:])]
    lo, hi = config.guidance_interval
    inside = sum(lo <= sigma <= hi for sigma in evaluated)
    assert config.guided and 0 < inside < recipe.train.noise_levels
    assert count_model_calls(config) == recipe.train.noise_levels + inside


def test_seed_samples_with_its_own_sampler():
    recipe = RECIPES["seed"]
    config = default_sampling(recipe.model, recipe.train)
    assert config.sampler == "seed" and config.grid == "linear" and config.steps == 10


def test_old_files_naming_the_original_sampler_load_as_seed():
    stored = SamplingConfig(sampler="seed").to_dict() | {"sampler": "original"}
    assert SamplingConfig.from_dict(stored).sampler == "seed"


def _level_model(levels: int = 4) -> ConditionalDenoiser:
    torch.manual_seed(0)
    model = ConditionalDenoiser(ModelConfig(channels=(8, 16, 16), parameterization="edm", norm_levels=levels))
    model.set_norm_levels(torch.tensor([0.01, 0.1, 1.0, 10.0][:levels]))
    return model


def test_level_batchnorm_trains_one_row_per_batch():
    model = _level_model()
    norm = model.enc1.first.norm
    assert isinstance(norm, LevelBatchNorm2d)
    before = norm.level_mean.clone()
    model.train()
    model(torch.randn(8, 1, 28, 28), torch.full((8,), 1.0), torch.arange(8))
    changed = (norm.level_mean != before).any(dim=1)
    assert changed.tolist() == [False, False, True, False]
    with pytest.raises(ValueError, match="one noise level per batch"):
        model(torch.randn(2, 1, 28, 28), torch.tensor([0.1, 1.0]), torch.arange(2))


def test_level_batchnorm_normalises_each_level_with_its_own_statistics():
    norm = LevelBatchNorm2d(3, 2).eval()
    norm.level_mean.copy_(torch.tensor([[0.0] * 3, [4.0] * 3]))
    norm.level_var.copy_(torch.tensor([[1.0] * 3, [4.0] * 3]))
    x = torch.full((1, 3, 2, 2), 4.0)
    assert torch.allclose(norm(x, torch.tensor([1.0])), torch.zeros(1, 3, 2, 2), atol=1e-4)
    assert torch.allclose(norm(x, torch.tensor([0.0])), torch.full((1, 3, 2, 2), 4.0), atol=1e-3)
    # Halfway between two levels: interpolated statistics; mixed levels in one batch: per sample.
    mixed = norm(x.expand(2, -1, -1, -1), torch.tensor([0.5, 1.0]))
    expected_half = (4.0 - 2.0) / math.sqrt(2.5 + 1e-5)
    assert torch.allclose(mixed[0], torch.full((3, 2, 2), expected_half), atol=1e-4)
    assert torch.allclose(mixed[1], torch.zeros(3, 2, 2), atol=1e-4)


def test_level_position_is_linear_in_log_sigma():
    model = _level_model()
    pos = model.level_position(torch.tensor([0.001, 0.01, math.sqrt(0.1), 10.0, 80.0]))
    assert pos.tolist() == pytest.approx([0.0, 0.0, 1.5, 3.0, 3.0])


def test_level_statistics_travel_with_the_weights():
    model = _level_model()
    state = model.state_dict()
    assert "norm_sigmas" in state and "enc1.first.norm.level_mean" in state
    clone = ConditionalDenoiser(model.config)
    clone.load_state_dict(state)
    assert torch.equal(clone.norm_sigmas, model.norm_sigmas)


def test_input_planes_carry_label_and_level():
    torch.manual_seed(0)
    model = ConditionalDenoiser(ModelConfig(channels=(8, 16, 16), conditioning="planes")).eval()
    assert model.enc1.first.conv.in_channels == 3 and model.enc1.first.film is None
    x = torch.randn(2, 1, 28, 28)
    a = model(x, 0.5, torch.tensor([1, 1]))
    assert not torch.allclose(a, model(x, 0.5, torch.tensor([2, 2])))
    assert not torch.allclose(a, model(x, 0.2, torch.tensor([1, 1])))


def test_bad_model_options_name_their_field():
    with pytest.raises(ConfigError) as err:
        ModelConfig(conditioning="cross-attention").validate()
    assert err.value.field == "conditioning"
    with pytest.raises(ConfigError) as err:
        ModelConfig(norm="group", norm_levels=4).validate()
    assert err.value.field == "norm_levels"


def test_a_file_names_its_recipe():
    from tui_denoiser.core.recipes import recipe_of

    for name, recipe in RECIPES.items():
        assert recipe_of(recipe.model, recipe.train) == name
        assert recipe_of(recipe.model.replace(channels=(8, 16, 16)), recipe.train.replace(epochs=2)) == name
    assert recipe_of(ModelConfig(norm="group"), TrainConfig()) == "custom"


def test_the_original_sees_its_label_as_a_plane_and_through_film():
    model = ConditionalDenoiser(RECIPES["original"].model)
    assert model.enc1.first.conv.in_channels == 3 and model.enc1.first.film is not None


def test_recalibration_makes_eval_mode_match_training_mode():
    """Stale per-level statistics make eval mode differ from training mode; recalibrating with the
    current weights brings them together (to within the batches' sampling noise)."""
    torch.manual_seed(0)
    model = _level_model()
    clean = torch.rand(64, 1, 28, 28) * 2 - 1
    labels = torch.randint(0, 10, (64,))
    for norm in model.modules():
        if isinstance(norm, LevelBatchNorm2d):
            norm.level_mean.normal_()  # statistics from other weights
    gen = torch.Generator().manual_seed(1)
    noisy = clean + 1.0 * torch.randn(clean.shape, generator=gen)
    with torch.no_grad():
        train_out = model.train()(noisy, torch.full((64,), 1.0), labels)
        stale = model.eval()(noisy, torch.full((64,), 1.0), labels)
        model.recalibrate_norms(lambda: (clean, labels), batches_per_level=2, generator=gen)
        fresh = model(noisy, torch.full((64,), 1.0), labels)
    assert not model.training
    assert (fresh - train_out).abs().mean() < 0.25 * (stale - train_out).abs().mean()


def test_the_shipped_seed_model_is_the_seed_recipe_with_its_own_sampler():
    from tui_denoiser.core.recipes import recipe_of
    from tui_denoiser.core.inference import load_model
    from tui_denoiser.core.paths import SEED_MODEL, require_shipped

    loaded = load_model(require_shipped(SEED_MODEL))
    assert recipe_of(loaded.model_config, loaded.train_config) == "seed"
    assert loaded.sampling == default_sampling(RECIPES["seed"].model, RECIPES["seed"].train)
    assert loaded.epoch == RECIPES["seed"].train.epochs  # the recipe's whole run
