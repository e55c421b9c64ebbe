"""Checkpoints: atomic round trip, export, and every kind of bad file refused with one line."""

from __future__ import annotations

import os

import pytest
import torch

from helpers.core import checkpoint_payload

from tui_denoiser.core import checkpoint as ck
from tui_denoiser.core.config import ModelConfig, TrainConfig
from tui_denoiser.core.errors import CheckpointError, UserError
from tui_denoiser.core.inference import load_model
from tui_denoiser.core.model import ConditionalDenoiser

TINY = ModelConfig(channels=(8, 16, 16))
TINY_EDM = ModelConfig(channels=(8, 16, 16), norm="group", parameterization="edm")


def _refused(path) -> str:
    with pytest.raises(CheckpointError) as info:
        ck.load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and message.strip() == message
    assert isinstance(info.value, UserError)
    return message


def test_round_trip(tmp_path):
    payload = checkpoint_payload()
    path = ck.save_checkpoint(tmp_path / "sub" / "a.pt", payload)
    assert path == tmp_path / "sub" / "a.pt"
    assert not list(path.parent.glob(".*.tmp"))  # the temp file was renamed, not left
    loaded = ck.load_checkpoint(path)
    assert loaded["format"] == ck.FORMAT and loaded["version"] == ck.VERSION
    assert loaded["model_config"] == TINY.to_dict() and loaded["history"] == payload["history"]
    for name, tensor in payload["model"].items():
        assert torch.equal(loaded["model"][name], tensor)
    # Overwriting keeps one file, atomically replaced.
    ck.save_checkpoint(path, checkpoint_payload(seed=5))
    assert not torch.equal(ck.load_checkpoint(path)["model"]["out.weight"], payload["model"]["out.weight"])


def test_export_keeps_ema_weights_and_drops_training_state(tmp_path):
    payload = checkpoint_payload(ema=True, optimizer={"state": {}, "param_groups": []})
    src = ck.save_checkpoint(tmp_path / "full.pt", payload)
    dst = ck.export_for_inference(src, tmp_path / "small.pt")
    slim = ck.load_checkpoint(dst)
    assert "optimizer" not in slim and slim["ema"] is None and slim["exported_from_ema"] is True
    for name, tensor in payload["ema"].items():
        assert torch.equal(slim["model"][name], tensor)
    assert slim["history"] == payload["history"] and slim["epoch"] == 2


def test_export_keeps_the_sampling_config(tmp_path):
    stored = {"sampler": "heun", "steps": 7, "guidance": 1.0, "guidance_interval": None, "start": "pure",
              "grid": "karras", "sigma_min": 0.01, "sigma_max": 5.0}
    src = ck.save_checkpoint(tmp_path / "full.pt", checkpoint_payload(sampling_config=stored))
    slim = ck.load_checkpoint(ck.export_for_inference(src, tmp_path / "small.pt"))
    assert slim["sampling_config"] == stored


def test_find_checkpoints_newest_first(tmp_path):
    assert ck.find_checkpoints(tmp_path / "none") == []
    old = ck.save_checkpoint(tmp_path / "runs" / "a" / "last.pt", checkpoint_payload())
    new = ck.save_checkpoint(tmp_path / "runs" / "b" / "epoch-001.pt", checkpoint_payload())
    os.utime(old, (1_000_000, 1_000_000))
    (tmp_path / "runs" / "b" / "notes.txt").write_text("x")
    assert ck.find_checkpoints(tmp_path / "runs") == [new, old]


def test_pickled_code_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __init__(self, target):
            self.target = target

        def __reduce__(self):
            return (open, (str(self.target), "w"))  # unpickling would create the marker file

    path = tmp_path / "evil.pt"
    torch.save({"format": ck.FORMAT, "version": 1, "model_config": TINY.to_dict(),
                "train_config": TrainConfig().to_dict(), "model": {}, "gift": Evil(marker)}, path)
    message = _refused(path)
    assert "refused" in message
    assert not marker.exists()
    with pytest.raises(CheckpointError):
        load_model(path)
    assert not marker.exists()
    # The payload is armed: an unsafe load would have run it.
    armed_marker = tmp_path / "armed"
    armed = tmp_path / "armed.pt"
    torch.save({"gift": Evil(armed_marker)}, armed)
    torch.load(armed, weights_only=False)
    assert armed_marker.exists()


@pytest.mark.parametrize("cut", [0, 1, 10, 100, 0.5, -1, -30])
def test_truncated_file_is_refused(tmp_path, cut):
    good = ck.save_checkpoint(tmp_path / "good.pt", checkpoint_payload())
    blob = good.read_bytes()
    n = int(len(blob) * cut) if isinstance(cut, float) else (cut if cut >= 0 else len(blob) + cut)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(blob[:n])
    assert "truncated" in _refused(bad)


def test_foreign_torch_file_is_refused(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"state_dict": ConditionalDenoiser(TINY).state_dict()}, path)
    assert "not a denoiser-tui checkpoint" in _refused(path)
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    assert "not a denoiser-tui checkpoint" in _refused(tmp_path / "tensor.pt")


def test_text_file_and_folder_and_missing_file_are_refused(tmp_path):
    (tmp_path / "notes.pt").write_text("hello, I am not a checkpoint\n" * 20)
    _refused(tmp_path / "notes.pt")
    assert "folder" in _refused(tmp_path)
    assert "not found" in _refused(tmp_path / "missing.pt")


def test_newer_format_is_refused(tmp_path):
    path = ck.save_checkpoint(tmp_path / "new.pt", checkpoint_payload(version=ck.VERSION + 1))
    assert "newer" in _refused(path)
    bad = ck.save_checkpoint(tmp_path / "bad.pt", checkpoint_payload(version="one"))
    assert "version" in _refused(bad)


def test_incomplete_payload_is_refused(tmp_path):
    payload = checkpoint_payload()
    del payload["model"]
    assert "model" in _refused(ck.save_checkpoint(tmp_path / "inc.pt", payload))


def test_wrong_shape_weights_are_refused_with_one_line(tmp_path):
    payload = checkpoint_payload(TINY)
    payload["model_config"] = ModelConfig().to_dict()  # weights of another ModelConfig
    path = ck.save_checkpoint(tmp_path / "shape.pt", payload)
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    assert "\n" not in str(info.value) and "shape" in str(info.value)


def test_invalid_config_in_file_is_refused_with_one_line(tmp_path):
    payload = checkpoint_payload()
    payload["model_config"] = {**TINY.to_dict(), "channels": [8, 16]}
    path = ck.save_checkpoint(tmp_path / "cfg.pt", payload)
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    assert "\n" not in str(info.value) and "config" in str(info.value)
