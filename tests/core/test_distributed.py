"""The DDP helpers without a process group: each rank's share of a global batch, the loss weights that
make DDP's gradient average the global batch's mean, the batch-size check, and the single-process
identity (the multi-process runs themselves: tests/reliability/test_many_processes.py)."""

from __future__ import annotations

import pytest
import torch

from tui_denoiser.core.training.distributed import Dist, current, env_world, failure_line, under_torchrun
from tui_denoiser.core.errors import UserError


@pytest.mark.parametrize("world", [2, 3, 4])
@pytest.mark.parametrize("n", [4, 7, 32, 33])
def test_shares_cover_the_global_batch_once_in_order(world, n):
    parts = [Dist(rank=r, world=world).share(n) for r in range(world)]
    rows = [i for p in parts for i in range(n)[p]]
    assert rows == list(range(n))
    sizes = [p.stop - p.start for p in parts]
    assert max(sizes) - min(sizes) <= 1


def test_weighted_share_losses_average_to_the_global_mean():
    """DDP averages gradients over ranks; the weights make that the global batch's mean (uneven shares)."""
    per_sample = torch.arange(7, dtype=torch.float64)
    world = 3
    losses = []
    for r in range(world):
        d = Dist(rank=r, world=world)
        (share,) = d.take_share(per_sample)
        losses.append(d.weigh(share.mean(), share.shape[0], 7))
    assert torch.allclose(sum(losses) / world, per_sample.mean())


def test_single_process_is_the_identity():
    d = Dist()
    x = torch.ones(5, 2)
    assert not d.active and d.is_main
    assert d.take_share(x)[0] is x
    loss = torch.tensor(2.0)
    assert d.weigh(loss, 5, 5) is loss and d.mean(loss) is loss
    assert d.agree_stop(True, 3) and not d.agree_stop(False, 3)
    model = torch.nn.Linear(2, 2)
    assert d.wrap(model) is model
    d.check_batches(10, 3)  # no constraint on one process
    assert failure_line(RuntimeError("Connection closed by peer")) is None  # not under torchrun


def test_batches_too_small_for_the_processes_are_one_line():
    with pytest.raises(UserError, match="leaves a batch of 1 for 2 processes"):
        Dist(rank=0, world=2).check_batches(65, 32)  # the last batch: 1 sample
    with pytest.raises(UserError, match="leaves a batch of 2 for 4 processes"):
        Dist(rank=0, world=4).check_batches(64, 2)
    Dist(rank=0, world=2).check_batches(66, 32)  # a last batch of 2 is fine


def test_environment(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert env_world() == (0, 1, 0) and not under_torchrun()
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert env_world() == (1, 2, 1) and under_torchrun()
    assert not current().active  # nothing joined until init()


def test_nproc_is_not_handed_on_to_the_processes():
    from tui_denoiser.cli.train import _without_nproc

    assert _without_nproc(["train", "--nproc", "2", "--epochs", "3"]) == ["train", "--epochs", "3"]
    assert _without_nproc(["train", "--nproc=4", "--seed", "1"]) == ["train", "--seed", "1"]


def test_sync_batchnorm_keeps_the_models_parameters_and_checkpoint_keys():
    """On GPUs BatchNorm becomes SyncBatchNorm inside the model itself: the optimizer's and EMA's
    tensors stay the model's, and checkpoints keep their keys (they load into plain BatchNorm)."""
    from tui_denoiser.core.model import ConditionalDenoiser
    from tui_denoiser.core.recipes import RECIPES
    from tui_denoiser.core.training.distributed import _sync_batchnorm_in_place

    model = ConditionalDenoiser(RECIPES["seed"].model)
    params = [id(p) for p in model.parameters()]
    keys = list(model.state_dict())
    _sync_batchnorm_in_place(model)
    assert any(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())
    assert not any(type(m) is torch.nn.BatchNorm2d for m in model.modules())
    assert [id(p) for p in model.parameters()] == params
    assert list(model.state_dict()) == keys
    ConditionalDenoiser(RECIPES["seed"].model).load_state_dict(model.state_dict())
