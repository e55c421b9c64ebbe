"""--max-calls: the call count without torch matches the samplers' own, and the choice never exceeds N."""

from __future__ import annotations

import pytest
import torch

from tui_denoiser.core.config import ModelConfig, SamplingConfig, TrainConfig
from tui_denoiser.core.errors import ConfigError
from tui_denoiser.core.model import ConditionalDenoiser
from tui_denoiser.core.recipes import RECIPES
from tui_denoiser.core.sampling import sample
from tui_denoiser.core.sampling_policy import (DISTILLED_BUDGETS, EDM_BUDGETS, count_model_calls, default_sampling,
                                               within_budget)


def _calls_when_run(config: SamplingConfig) -> int:
    torch.manual_seed(0)
    model = ConditionalDenoiser(ModelConfig(channels=(4, 8, 8), embed_dim=4, parameterization="edm")).eval()
    last = None
    for last in sample(model, [1, 2], config):
        pass
    return last.model_calls


@pytest.mark.parametrize("changes", [
    {}, {"sampler": "heun", "steps": 4}, {"sampler": "euler", "steps": 1, "guidance": 1.0},
    {"steps": 5, "guidance": 2.0, "guidance_interval": None}, {"steps": 7, "guidance_interval": (0.5, 3.0)},
    {"sampler": "stochastic", "steps": 6, "sigma_min": 0.05}, {"sampler": "heun", "steps": 3, "guidance": 1.5},
    {"sampler": "dpm2m-churn"}, {"sampler": "dpm2m-churn", "steps": 9, "guidance_interval": (0.4, 10.0)},
    {"sampler": "dpm2m-churn", "steps": 20, "guidance_interval": (0.05, 0.6)},
    {"sampler": "dpm2m-churn", "steps": 12, "guidance_interval": (0.2, 0.9), "churn_levels": (0.01, 0.8)},
    {"sampler": "dpm2m-churn", "steps": 12, "guidance_interval": (0.2, 0.9), "churn_gamma": 0.0},
    {"sampler": "ipndm-v", "steps": 3, "levels": (80.0, 5.0, 0.1), "guidance": 1.5, "guidance_interval": (1.0, 10.0)},
    {"sampler": "dpm3m", "steps": 4, "levels": (80.0, 9.0, 0.9, 0.05)},
    *[c for _, c in EDM_BUDGETS],
])
def test_the_call_count_without_torch_matches_the_samplers(changes):
    recipe = RECIPES["edm"]
    config = default_sampling(recipe.model, recipe.train).replace(**changes)
    assert count_model_calls(config) == _calls_when_run(config)


@pytest.mark.parametrize("table, one_call", [(EDM_BUDGETS, False), (DISTILLED_BUDGETS, True)])
def test_each_budget_row_costs_what_it_says_and_rows_grow(table, one_call):
    recipe = RECIPES["edm"]
    base = default_sampling(recipe.model, recipe.train)
    costs = [count_model_calls(base.replace(**c), one_call_guidance=one_call) for _, c in table]
    assert costs == [n for n, _ in table] and costs == sorted(set(costs))


def test_a_distilled_student_gets_its_own_rows_guided_where_it_paid():
    recipe = RECIPES["edm"]
    base = default_sampling(recipe.model, recipe.train)
    for n in (1, 2, 4, 6):
        got = within_budget(base, n, one_call_guidance=True)
        assert got.guided == (n != 4) and count_model_calls(got, one_call_guidance=True) == n
        assert count_model_calls(within_budget(base, n), one_call_guidance=False) == n  # the teacher's rows
    assert within_budget(base, 1, one_call_guidance=True).sigma_max == 5.0
    assert not within_budget(base, 2).guided and within_budget(base, 2, one_call_guidance=True).guided


@pytest.mark.parametrize("guided", [True, False])
def test_within_budget_never_exceeds_n_and_keeps_the_default_when_it_fits(guided):
    recipe = RECIPES["edm"]
    train = recipe.train if guided else recipe.train.replace(label_dropout=0.0)
    base = default_sampling(recipe.model, train)
    for n in range(1, 40):
        got = within_budget(base, n)
        assert count_model_calls(got) <= n
        assert got.guided is False or guided
    assert within_budget(base, count_model_calls(base)) == base
    assert within_budget(base, 4) != base


def test_the_original_recipe_spends_its_budget_on_fewer_levels():
    base = default_sampling(ModelConfig(), TrainConfig(noise_levels=10))
    assert within_budget(base, 4) == base.replace(steps=4)
    assert within_budget(base, 50) == base


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "4", None])
def test_a_budget_that_is_not_a_positive_integer_is_refused(bad):
    recipe = RECIPES["edm"]
    with pytest.raises(ConfigError, match="max calls"):
        within_budget(default_sampling(recipe.model, recipe.train), bad)


def test_another_step_count_drops_explicit_levels():
    from tui_denoiser.core.sampling_policy import resolve_sampling

    recipe = RECIPES["edm"]
    base = default_sampling(recipe.model, recipe.train).replace(sampler="ipndm", steps=3, levels=(80.0, 3.0, 0.5))
    assert resolve_sampling(base, guidance=1.0).levels == (80.0, 3.0, 0.5)
    assert resolve_sampling(base, steps=3).levels == (80.0, 3.0, 0.5)
    assert resolve_sampling(base, steps=5).levels is None


def test_a_guided_step_is_one_call_only_for_a_student_without_a_guide():
    from tui_denoiser.core.sampling_policy import guided_in_one_call
    assert guided_in_one_call(True, None)
    assert not guided_in_one_call(True, object())  # a guide's call is always a second one
    assert not guided_in_one_call(False, None)
