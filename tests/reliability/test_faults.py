"""Faults inside a run: NaN loss, a full disk while saving, CUDA out of memory. Each stops the run with
one clear line and keeps the last good checkpoint."""

from __future__ import annotations

import errno
import math

import pytest
import torch

from tui_denoiser.cli.args import flag_of
from tui_denoiser.cli.main import main
from tui_denoiser.core import checkpoint as ck
from tui_denoiser.core.checkpoint import load_checkpoint
from tui_denoiser.core.config import ModelConfig, TrainConfig
from tui_denoiser.core.data import load_split
from tui_denoiser.core.model import ConditionalDenoiser
from tui_denoiser.core.training import Trainer

SMALL = ModelConfig(channels=(8, 8, 8))


@pytest.fixture(scope="module")
def tiny_tensors(tiny_data_dir):
    return (*load_split("mnist", tiny_data_dir, train=True), *load_split("mnist", tiny_data_dir, train=False))


def _train(run_dir, data, **changes):
    cfg = TrainConfig(epochs=3, batch_size=64, preview=False, device="cpu").replace(**changes)
    return Trainer(SMALL, cfg, run_dir=run_dir, data=data).run()


def _nan_after(monkeypatch, calls: int):
    """The model's output becomes NaN after ``calls`` forward passes in training mode."""
    original = ConditionalDenoiser.forward
    seen = {"n": 0}

    def forward(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        if self.training:
            seen["n"] += 1
            if seen["n"] > calls:
                return out * float("nan")
        return out

    monkeypatch.setattr(ConditionalDenoiser, "forward", forward)


def test_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path, tiny_tensors, monkeypatch):
    _nan_after(monkeypatch, calls=4 + 2)  # 4 steps per epoch: NaN in the middle of the second epoch
    result = _train(tmp_path, tiny_tensors)
    assert result.kind == "failed"
    assert "loss became nan" in result.message and "lower lr" in result.message
    assert "lower --lr" in result.worded(flag_of)  # as the CLI shows it
    assert "\n" not in result.message
    payload = load_checkpoint(tmp_path / "last.pt")
    assert payload["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in payload["model"].values() if t.is_floating_point())


def test_nan_then_stop_never_saves_nan_weights(tmp_path, tiny_tensors, monkeypatch):
    """A stop request that lands before the throttled NaN check must not overwrite last.pt."""
    import threading

    stop = threading.Event()
    _nan_after(monkeypatch, calls=4 + 1)
    original = ConditionalDenoiser.forward

    def forward(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        if self.training and torch.isnan(out).any():
            stop.set()  # the user presses Stop right as the loss goes NaN
        return out

    monkeypatch.setattr(ConditionalDenoiser, "forward", forward)
    cfg = TrainConfig(epochs=3, batch_size=64, preview=False, device="cpu")
    result = Trainer(SMALL, cfg, run_dir=tmp_path, data=tiny_tensors, stop_event=stop).run()
    assert result.kind == "failed" and "loss became nan" in result.message
    payload = load_checkpoint(tmp_path / "last.pt")
    assert payload["epoch"] == 1 and payload["position"] is None


def test_lr_of_one_is_caught_the_same_way(tmp_path, tiny_tensors):
    result = _train(tmp_path, tiny_tensors, lr=1.0, epochs=2)
    if result.kind == "finished":  # some seeds survive even this; then the losses must be finite
        assert math.isfinite(result.final_train_loss)
    else:
        assert "loss became" in result.message


def test_full_disk_while_saving(tmp_path, tiny_tensors, monkeypatch, capsys):
    real_save = torch.save
    saves = {"n": 0}

    def save(obj, f, *args, **kwargs):
        saves["n"] += 1
        if saves["n"] > 2:  # epoch 1 (last.pt, epoch-001.pt) saved; then the disk is full
            f.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(ck.torch, "save", save)
    result = _train(tmp_path, tiny_tensors)
    assert result.kind == "failed"
    assert result.message.startswith("disk full while saving") and "previous checkpoint is intact" in result.message
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")], "the partial temp file is removed"


def test_full_disk_on_rename_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    ck.save_checkpoint(path, {"model_config": {}, "train_config": {}, "model": {}, "n": 1})

    def replace(*_):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ck.os, "replace", replace)
    with pytest.raises(ck.TrainingError, match="disk full"):
        ck.save_checkpoint(path, {"model_config": {}, "train_config": {}, "model": {}, "n": 2})
    assert load_checkpoint(path)["n"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_out_of_memory_suggests_a_smaller_batch(tmp_path, tiny_tensors, monkeypatch):
    def forward(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(ConditionalDenoiser, "forward", forward)
    result = _train(tmp_path, tiny_tensors)
    assert result.kind == "failed"
    assert result.message == "out of memory at batch size 64: try batch size 32"
    assert result.error["field"] == "batch_size" and result.error["value"] == 32
    assert result.worded(flag_of) == "out of memory at batch size 64: try --batch-size 32"


def test_cli_prints_one_line_for_a_fault(tmp_path, tiny_data_dir, monkeypatch, capsys):
    def forward(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(ConditionalDenoiser, "forward", forward)
    rc = main(["train", "--run-dir", str(tmp_path / "run"), "--data-dir", str(tiny_data_dir),
                   "--channels", "8,8,8", "--batch-size", "64", "--device", "cpu"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "out of memory at batch size 64: try --batch-size 32" in err
