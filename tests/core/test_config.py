"""Config dataclasses: defaults and recipes validate, bad values are one-line ConfigErrors, dict round trips."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_denoiser.core.config import ModelConfig, TrainConfig
from tui_denoiser.core.errors import ConfigError, UserError
from tui_denoiser.core.recipes import RECIPES


def test_defaults_and_recipes_validate():
    ModelConfig().validate()
    TrainConfig().validate()
    assert {"original", "seed", "edm"} <= set(RECIPES)
    for recipe in RECIPES.values():
        recipe.model.validate()
        recipe.train.validate()
    # The dataclass defaults are the seed's literal reading; the original recipe keeps what the seed fixes
    # (label embedding, BatchNorm conv encoder and transposed-conv decoder, one level a batch, Adam 1e-4,
    # StepLR(10, 0.5), batch 128, 30 epochs) and chooses what it leaves open.
    assert RECIPES["seed"].train == TrainConfig()
    assert RECIPES["seed"].model == ModelConfig(conditioning="planes")
    original = RECIPES["original"]
    assert (original.train.batch_size, original.train.lr, original.train.epochs) == (128, 1e-4, 30)
    assert (original.train.step_size, original.train.gamma) == (10, 0.5)
    assert original.train.noise == "geometric-batch" and original.model.norm == "batch"
    assert original.model.embed_dim == 64 and original.model.res_blocks == 0


def test_config_error_is_a_user_error():
    assert issubclass(ConfigError, UserError) and issubclass(ConfigError, ValueError)


@pytest.mark.parametrize("changes, field_word", [
    ({"epochs": 0}, "epochs"),
    ({"epochs": 10_001}, "epochs"),
    ({"epochs": 2.5}, "epochs"),
    ({"epochs": True}, "epochs"),
    ({"batch_size": 0}, "batch size"),
    ({"lr": 0.0}, "lr"),
    ({"lr": 1.5}, "lr"),
    ({"lr": float("nan")}, "lr"),
    ({"lr": float("inf")}, "lr"),
    ({"lr": "0.1"}, "lr"),
    ({"noise_levels": 0}, "noise levels"),
    ({"noise_levels": 1001}, "noise levels"),
    ({"step_size": 0}, "step size"),
    ({"gamma": 0}, "gamma"),
    ({"gamma": 1.01}, "gamma"),
    ({"seed": -1}, "seed"),
    ({"device": "tpu"}, "device"),
    ({"dataset": "cifar"}, "dataset"),
    ({"bf16": 1}, "bf16"),
    ({"max_steps": 0}, "max steps"),
    ({"noise": "gaussian"}, "noise"),
    ({"sigma_max": 0}, "sigma_max"),
    ({"sigma_max": 1001}, "sigma_max"),
    ({"sigma_min": 1.0}, "sigma_min"),  # not below sigma_max = 1
    ({"p_std": 0}, "p_std"),
    ({"label_dropout": 1.0}, "label dropout"),
    ({"label_dropout": -0.1}, "label dropout"),
    ({"ema_decay": 1.0}, "ema decay"),
    ({"preview": "yes"}, "preview"),
])
def test_train_config_out_of_range(changes, field_word):
    with pytest.raises(ConfigError) as info:
        dataclasses.replace(TrainConfig(), **changes).validate()
    message = str(info.value)
    assert field_word in message and "\n" not in message
    # replace() validates too
    with pytest.raises(ConfigError):
        TrainConfig().replace(**changes)


@pytest.mark.parametrize("changes, field_word", [
    ({"num_classes": 1}, "num_classes"),
    ({"embed_dim": 0}, "embed_dim"),
    ({"channels": (8, 16)}, "channels"),
    ({"channels": (8, 0, 16)}, "channels"),
    ({"channels": [8, 16, 16]}, "channels"),
    ({"norm": "layer"}, "norm"),
    ({"norm": "group", "channels": (8, 12, 16)}, "group norm"),
    ({"skip_connections": "no"}, "skip_connections"),
    ({"res_blocks": 9}, "res_blocks"),
    ({"parameterization": "eps"}, "parameterization"),
    ({"sigma_data": 0}, "sigma_data"),
])
def test_model_config_out_of_range(changes, field_word):
    with pytest.raises(ConfigError) as info:
        dataclasses.replace(ModelConfig(), **changes).validate()
    assert field_word in str(info.value) and "\n" not in str(info.value)


def test_dict_round_trip():
    for recipe in RECIPES.values():
        model_dict = recipe.model.to_dict()
        assert isinstance(model_dict["channels"], list)  # plain types for checkpoints and JSON
        assert ModelConfig.from_dict(model_dict) == recipe.model
        assert TrainConfig.from_dict(recipe.train.to_dict()) == recipe.train


def test_from_dict_refuses_unknown_field_and_non_mapping():
    with pytest.raises(ConfigError, match="no field 'colour'"):
        ModelConfig.from_dict({**ModelConfig().to_dict(), "colour": "red"})
    with pytest.raises(ConfigError, match="no field"):
        TrainConfig.from_dict({"epochs": 3, "warmup": 1})
    with pytest.raises(ConfigError, match="mapping"):
        TrainConfig.from_dict([("epochs", 3)])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="epochs"):
        TrainConfig.from_dict({"epochs": -3})
    assert TrainConfig.from_dict({}) == TrainConfig()


def test_train_config_reads_the_legacy_name_of_noise_levels():
    """Checkpoints written before the rename store T as "steps"; they keep loading."""
    legacy = {**TrainConfig().to_dict(), "steps": 8}
    del legacy["noise_levels"]
    assert TrainConfig.from_dict(legacy).noise_levels == 8
    with pytest.raises(ConfigError, match="noise levels"):
        TrainConfig.from_dict({"steps": 0})


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().epochs = 3  # type: ignore[misc]


# -- property-based: any value either validates or is a ConfigError, never another exception ----------
_anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["mnist", "fashion-mnist", "cpu", "auto", "edm", "discrete", "group", "batch", "direct"]),
    st.lists(st.integers(min_value=-5, max_value=300), max_size=4),
    st.tuples(st.integers(min_value=-5, max_value=300), st.integers(min_value=-5, max_value=300),
              st.integers(min_value=-5, max_value=300)),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _validates_or_config_error(cls, changes):
    config = dataclasses.replace(cls(), **changes)
    try:
        config.validate()
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([f.name for f in dataclasses.fields(TrainConfig)]), _anything, max_size=4))
def test_train_config_validation_property(changes):
    if _validates_or_config_error(TrainConfig, changes):
        config = dataclasses.replace(TrainConfig(), **changes)
        # A valid config survives its dict round trip.
        assert TrainConfig.from_dict(config.to_dict()) == config
        assert math.isfinite(config.lr)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([f.name for f in dataclasses.fields(ModelConfig)]), _anything, max_size=4))
def test_model_config_validation_property(changes):
    if _validates_or_config_error(ModelConfig, changes):
        config = dataclasses.replace(ModelConfig(), **changes)
        assert ModelConfig.from_dict(config.to_dict()) == config


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=12), _anything, max_size=4))
def test_from_dict_property(data):
    for cls in (TrainConfig, ModelConfig):
        try:
            cls.from_dict(data)
        except ConfigError as exc:
            assert "\n" not in str(exc)
