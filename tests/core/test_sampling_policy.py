"""SamplingConfig and the one place sampling is decided: each model's defaults, and a request merged onto them."""

from __future__ import annotations

import pytest

from tui_denoiser.core.config import CHURN_GAMMA, CHURN_LEVELS, SAMPLER_NAMES, SIGMA_DATA, ModelConfig, SamplingConfig, TrainConfig
from tui_denoiser.core.errors import ConfigError
from tui_denoiser.core.recipes import RECIPES
from tui_denoiser.core.sampling_policy import default_sampling, resolve_sampling


def test_edm_models_with_label_dropout_default_to_guided_dpm2m():
    recipe = RECIPES["edm"]
    got = default_sampling(recipe.model, recipe.train)
    assert got == SamplingConfig(sampler="dpm2m-churn", steps=14, guidance=1.5, guidance_interval=(0.3, 10.0),
                                 start="pure", grid="karras", sigma_min=0.002, sigma_max=80.0)


def test_edm_models_without_label_dropout_are_never_guided():
    recipe = RECIPES["edm"]
    got = default_sampling(recipe.model, recipe.train.replace(label_dropout=0.0))
    assert got.sampler == "dpm2m-churn" and got.guidance == 1.0 and got.guidance_interval is None and not got.guided


def test_the_original_recipe_samples_its_own_levels_with_its_own_churn():
    recipe = RECIPES["original"]
    got = default_sampling(recipe.model, recipe.train)
    assert got == SamplingConfig(sampler="dpm2m-churn", steps=20, guidance=1.6, guidance_interval=(0.2, 5.0),
                                 start="pure", grid="geometric", sigma_min=0.02, sigma_max=20.0,
                                 churn_gamma=0.4, churn_levels=(0.01, 0.6))
    edm = default_sampling(RECIPES["edm"].model, RECIPES["edm"].train)
    assert (edm.churn_gamma, edm.churn_levels) == (CHURN_GAMMA, CHURN_LEVELS)  # EDM models keep theirs


def test_a_stored_config_from_before_the_churn_fields_samples_as_it_did():
    old = {"sampler": "dpm2m-churn", "steps": 14, "guidance": 1.5, "guidance_interval": [0.3, 10.0], "start": "pure",
           "grid": "karras", "sigma_min": 0.002, "sigma_max": 80.0, "levels": None}
    got = SamplingConfig.from_dict(old)
    assert (got.churn_gamma, got.churn_levels) == (CHURN_GAMMA, CHURN_LEVELS)
    assert SamplingConfig.from_dict(got.to_dict()) == got  # the round trip keeps them


@pytest.mark.parametrize("changes", [{"churn_gamma": -0.1}, {"churn_gamma": "0.4"}, {"churn_levels": (0.6, 0.01)},
                                     {"churn_levels": (0.01,)}, {"churn_levels": (-1.0, 0.5)}])
def test_bad_churn_is_refused_with_its_field(changes):
    with pytest.raises(ConfigError) as caught:
        SamplingConfig().replace(**changes)
    assert caught.value.field == next(iter(changes))


def test_the_seed_recipe_samples_its_training_levels():
    got = default_sampling(ModelConfig(), TrainConfig(noise_levels=8))
    assert got == SamplingConfig(sampler="seed", steps=8, guidance=1.0, guidance_interval=None, start="pure",
                                 grid="linear", sigma_min=1 / 8, sigma_max=1.0)


def test_resolve_keeps_defaults_for_what_was_not_asked():
    defaults = default_sampling(RECIPES["edm"].model, RECIPES["edm"].train)
    assert resolve_sampling(defaults) == defaults
    asked = resolve_sampling(defaults, sampler="heun", steps=5, guidance=2.0, start="matched")
    assert asked == defaults.replace(sampler="heun", steps=5, guidance=2.0, start="matched")
    assert asked.guidance_interval == (0.3, 10.0)  # not asked: the default's
    assert resolve_sampling(defaults, guidance_interval=None).guidance_interval is None  # every level
    assert resolve_sampling(defaults, guidance_interval=[1, 2]).guidance_interval == (1, 2)


@pytest.mark.parametrize("changes, field", [
    ({"sampler": "ddpm"}, "sampler"),
    ({"steps": 0}, "steps"),
    ({"steps": 1001}, "steps"),
    ({"guidance": -1.0}, "guidance"),
    ({"guidance": float("nan")}, "guidance"),
    ({"guidance_interval": (10.0, 0.3)}, "guidance_interval"),
    ({"guidance_interval": (-1.0, 3.0)}, "guidance_interval"),
    ({"start": "warm"}, "start"),
])
def test_bad_requests_are_config_errors_naming_their_field(changes, field):
    defaults = default_sampling(ModelConfig(), TrainConfig())
    with pytest.raises(ConfigError) as info:
        resolve_sampling(defaults, **changes)
    assert info.value.field == field and field.split("_")[0] in str(info.value) and "\n" not in str(info.value)


def test_sampling_config_round_trips_through_a_dict():
    config = SamplingConfig(sampler="dpm2m", steps=14, guidance=1.5, guidance_interval=(0.3, 10.0))
    assert SamplingConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError):
        SamplingConfig.from_dict({"sampler": "nope"})
    with pytest.raises(ConfigError):
        SamplingConfig(grid="cosine").validate()


def test_sampler_names_and_sigma_data_are_written_once():
    assert SAMPLER_NAMES == ("seed", "euler", "heun", "stochastic", "dpm2m", "dpm2m-churn", "ipndm", "ipndm-v", "dpm3m",
                             "consistency")
    assert ModelConfig().sigma_data == SIGMA_DATA == 0.6162
