"""Core errors carry the setting at fault; each front end words it (the CLI as a flag, the app as a field)."""

from __future__ import annotations

import pytest

from tui_denoiser.core.config import TrainConfig
from tui_denoiser.core.errors import ConfigError, TrainingError, UserError


def test_an_error_names_its_field_plainly_and_as_a_front_end_asks():
    err = UserError("out of memory at batch size 64", field="batch_size", value=32, hint="try {field} 32")
    assert str(err) == "out of memory at batch size 64: try batch size 32"
    assert err.worded(lambda f: "--" + f.replace("_", "-")) == "out of memory at batch size 64: try --batch-size 32"
    assert (err.field, err.value, err.hint) == ("batch_size", 32, "try {field} 32")
    assert UserError(**err.to_json()).worded() == str(err)


def test_an_error_without_a_field_is_its_message():
    err = TrainingError("disk full")
    assert str(err) == "disk full" and err.field is None and err.value is None and err.hint is None


def test_config_errors_carry_field_and_value():
    with pytest.raises(ConfigError) as info:
        TrainConfig().replace(batch_size=0)
    assert info.value.field == "batch_size" and info.value.value == 0
    assert str(info.value) == "batch size must be an integer in 1..65536, got 0"
