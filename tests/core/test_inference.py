"""LoadedModel: a checkpoint loaded for sampling, with its own sampling (stored, or its recipe's)."""

from __future__ import annotations

import pytest
import torch

from helpers.core import checkpoint_payload

from tui_denoiser.core import checkpoint as ck
from tui_denoiser.core.config import ModelConfig, SamplingConfig, TrainConfig
from tui_denoiser.core.errors import CheckpointError
from tui_denoiser.core.inference import load_model
from tui_denoiser.core.recipes import RECIPES
from tui_denoiser.core.sampling_policy import resolve_sampling

TINY = ModelConfig(channels=(8, 16, 16))
TINY_EDM = ModelConfig(channels=(8, 16, 16), norm="group", parameterization="edm")


def test_load_model_prefers_ema_and_samples(tmp_path):
    payload = checkpoint_payload(TINY_EDM, RECIPES["edm"].train, ema=True)
    path = ck.save_checkpoint(tmp_path / "m.pt", payload)
    loaded = load_model(path)
    assert not loaded.model.training and loaded.has_ema
    assert loaded.model_config == TINY_EDM and loaded.train_config == RECIPES["edm"].train
    assert loaded.epoch == 2 and loaded.global_step == 16 and loaded.path == path
    assert len(loaded.history) == 1
    for name, tensor in payload["ema"].items():
        assert torch.equal(loaded.model.state_dict()[name], tensor)
    raw = load_model(path, ema=False)
    assert torch.equal(raw.model.state_dict()["out.weight"], payload["model"]["out.weight"])
    # No stored sampling config: the recipe's (guided dpm2m-churn, trained with label dropout).
    assert loaded.sampling == SamplingConfig(sampler="dpm2m-churn", steps=14, guidance=1.5, guidance_interval=(0.3, 10.0),
                                             start="pure", grid="karras", sigma_min=0.002, sigma_max=80.0)
    three = resolve_sampling(loaded.sampling, steps=3)
    frames = list(loaded.sample([0, 9], three, seed=1))  # levels 80, 1.5, 0.002: one inside 0.3..10
    assert len(frames) == 4 and frames[-1].images.shape == (2, 1, 28, 28) and frames[-1].model_calls == 4
    plain = list(loaded.sample([0, 9], resolve_sampling(three, sampler="heun", guidance=1.0), seed=1))
    assert plain[-1].model_calls == 5


def test_original_model_defaults(tmp_path):
    path = ck.save_checkpoint(tmp_path / "o.pt", checkpoint_payload(TINY, TrainConfig(noise_levels=8)))
    loaded = load_model(path)
    assert not loaded.has_ema
    assert loaded.sampling == SamplingConfig(sampler="seed", steps=8, guidance=1.0, guidance_interval=None,
                                             start="pure", grid="linear", sigma_min=1 / 8, sigma_max=1.0)
    assert len(list(loaded.sample([3], seed=0))) == 9


def test_a_stored_sampling_config_wins_over_the_recipe(tmp_path):
    stored = SamplingConfig(sampler="heun", steps=3, guidance=1.0, sigma_min=0.01, sigma_max=5.0)
    path = ck.save_checkpoint(tmp_path / "s.pt", checkpoint_payload(sampling_config=stored.to_dict()))
    loaded = load_model(path)
    assert loaded.sampling == stored
    assert len(list(loaded.sample([1], seed=0))) == 4


def test_a_bad_stored_sampling_config_is_one_line(tmp_path):
    path = ck.save_checkpoint(tmp_path / "b.pt", checkpoint_payload(sampling_config={"sampler": "magic"}))
    with pytest.raises(CheckpointError, match="sampling config") as info:
        load_model(path)
    assert "\n" not in str(info.value)


def test_the_model_is_prepared_once_at_load_and_sampling_leaves_it_alone(tmp_path):
    loaded = load_model(ck.save_checkpoint(tmp_path / "m.pt", checkpoint_payload()))
    convs = [p for p in loaded.model.parameters() if p.ndim == 4]
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)  # CPU: channels-last
    before = [p.data_ptr() for p in loaded.model.parameters()]
    list(loaded.sample([0], seed=0))
    assert [p.data_ptr() for p in loaded.model.parameters()] == before


@pytest.mark.parametrize(("name", "description"), [
    ("original", "original · epoch 30"),
    ("distilled", "edm, distilled"),
    ("consistency", "edm, consistency"),
])
def test_short_description_names_the_recipe_and_how_it_trained(name, description):
    from tui_denoiser.core.paths import SHIPPED_MODELS

    assert load_model(SHIPPED_MODELS[name]).short_description == description
