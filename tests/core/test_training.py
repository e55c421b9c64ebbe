"""The trainer on tiny data: events and their JSON round trip, loss going down, pause, stop, exact resume, EMA."""

from __future__ import annotations

import json
import threading
import time

import pytest
import torch

from helpers.core import train_collecting

from tui_denoiser.core.runs import events as ev
from tui_denoiser.core.training import reporting
from tui_denoiser.core.checkpoint import load_checkpoint
from tui_denoiser.core.config import ModelConfig, TrainConfig
from tui_denoiser.core.data import load_split
from tui_denoiser.core.errors import UserError
from tui_denoiser.core.model import ConditionalDenoiser
from tui_denoiser.core.devices import pick_device
from tui_denoiser.core.training import EMA, Trainer, lr_schedule, resume_config

TINY = ModelConfig(channels=(8, 16, 16))
# 256 train images at batch 32: 8 steps an epoch.
BASE = TrainConfig(batch_size=32, epochs=2, lr=2e-3, device="cpu", preview=False, seed=3)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The exact-resume checks compare weights bit for bit: one thread throughout, whatever else runs
    on the machine (the thread policy would otherwise follow the load between two runs)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DENOISER_TUI_THREADS", "1")
        yield


@pytest.fixture(scope="module")
def tiny_tensors(tiny_data_dir):
    torch.set_num_threads(1)
    return (*load_split("mnist", tiny_data_dir, train=True), *load_split("mnist", tiny_data_dir, train=False))


@pytest.fixture
def every_step(monkeypatch):
    """Report a StepUpdate after every step (they are throttled to a few a second otherwise)."""
    monkeypatch.setattr(reporting, "UPDATE_INTERVAL_S", 0.0)


def _train(run_dir, tensors, cfg=BASE, model_config=TINY, **kwargs):
    return train_collecting(model_config, cfg, run_dir, tensors, **kwargs)


def _weights(path, key="model"):
    return load_checkpoint(path)[key]


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_events_files_and_json_round_trip(tmp_path, tiny_tensors, every_step):
    cfg = BASE.replace(epochs=3, step_size=1, gamma=0.5, preview=True)
    run_dir = tmp_path / "run"
    result, got = _train(run_dir, tiny_tensors, cfg)
    assert isinstance(result, ev.Finished) and not result.stopped
    assert result.epochs_done == 3 and result.global_step == 24
    assert got[-1] is result

    started = got[0]
    assert isinstance(started, ev.RunStarted)
    assert started.steps_per_epoch == 8 and started.epochs == 3 and started.start_epoch == 0
    assert started.lr_schedule == pytest.approx([2e-3, 1e-3, 5e-4]) == lr_schedule(cfg)
    assert started.model_config == TINY.to_dict() and started.train_config == cfg.to_dict()

    steps = [e for e in got if isinstance(e, ev.StepUpdate)]
    assert [s.global_step for s in steps] == list(range(1, 25))
    assert all(s.steps_per_epoch == 8 and 1 <= s.step_in_epoch <= 8 for s in steps)

    epochs = [e for e in got if isinstance(e, ev.EpochEnd)]
    assert [e.epoch for e in epochs] == [0, 1, 2]
    assert [e.lr for e in epochs] == pytest.approx(started.lr_schedule)
    for e in epochs:
        assert len(e.preview) == 10
        for image in e.preview:
            assert len(image) == 28 and all(len(row) == 28 for row in image)
            assert all(isinstance(v, int) and 0 <= v <= 255 for row in image for v in row)

    saved = [e for e in got if isinstance(e, ev.CheckpointSaved)]
    assert [(s.epoch, s.reason) for s in saved] == [(1, "epoch"), (2, "epoch"), (3, "epoch")]
    assert result.last_checkpoint == str(run_dir / "last.pt")
    assert sorted(p.name for p in run_dir.glob("*.pt")) == ["epoch-001.pt", "epoch-002.pt", "epoch-003.pt",
                                                            "last.pt"]
    assert load_checkpoint(run_dir / "last.pt")["history"][-1]["epoch"] == 3

    # Every event survives JSON, and metrics.jsonl holds exactly what the callback saw.
    for event in got:
        assert ev.event_from_json(json.loads(json.dumps(event.to_json()))) == event
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert [ev.event_from_json(json.loads(line)) for line in lines] == got

    # A few steps lower the loss (validation uses the same fixed noise every epoch).
    assert epochs[-1].val_loss < epochs[0].val_loss
    assert epochs[-1].train_loss < steps[0].loss


def test_event_from_json_refuses_unknown_kind():
    with pytest.raises(ValueError, match="unknown event kind"):
        ev.event_from_json({"kind": "party"})
    assert ev.event_from_json({"kind": "warning", "message": "m", "extra": 1}) == ev.WarningEvent("m")


def test_stop_event_stops_at_the_next_step_and_saves(tmp_path, tiny_tensors, every_step):
    stop = threading.Event()

    def on_event(event):
        if isinstance(event, ev.StepUpdate) and event.global_step == 3:
            stop.set()

    result, got = _train(tmp_path / "run", tiny_tensors, callback=on_event, stop_event=stop)
    assert isinstance(result, ev.Finished) and result.stopped
    assert result.global_step == 3 and result.epochs_done == 0
    assert [e.global_step for e in got if isinstance(e, ev.StepUpdate)] == [1, 2, 3]
    saved = [e for e in got if isinstance(e, ev.CheckpointSaved)]
    assert len(saved) == 1 and saved[0].reason == "stop" and saved[0].global_step == 3
    payload = load_checkpoint(tmp_path / "run" / "last.pt")
    assert payload["position"]["step_in_epoch"] == 3 and payload["global_step"] == 3
    assert not list((tmp_path / "run").glob("epoch-*.pt"))


def test_pause_event_holds_training_until_cleared(tmp_path, tiny_tensors, every_step):
    pause = threading.Event()
    times: dict[int, float] = {}
    timers = []

    def on_event(event):
        if isinstance(event, ev.StepUpdate):
            times[event.global_step] = time.perf_counter()
            if event.global_step == 1:
                pause.set()
                timer = threading.Timer(0.4, pause.clear)
                timers.append(timer)
                timer.start()

    result, _ = _train(tmp_path / "run", tiny_tensors, cfg=BASE.replace(epochs=1), callback=on_event,
                       pause_event=pause)
    assert isinstance(result, ev.Finished) and not result.stopped and result.global_step == 8
    assert times[2] - times[1] >= 0.35  # held while paused
    assert not pause.is_set()
    timers[0].join()


def test_stop_while_paused_ends_the_run(tmp_path, tiny_tensors, every_step):
    pause, stop = threading.Event(), threading.Event()

    def on_event(event):
        if isinstance(event, ev.StepUpdate) and event.global_step == 2:
            pause.set()
            threading.Timer(0.1, stop.set).start()

    result, _ = _train(tmp_path / "run", tiny_tensors, callback=on_event, pause_event=pause, stop_event=stop)
    assert result.stopped and result.global_step == 2


RESUME_CFG = BASE.replace(noise="continuous", label_dropout=0.2, ema_decay=0.9, step_size=1, gamma=0.5)


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory, tiny_tensors):
    run_dir = tmp_path_factory.mktemp("straight")
    result, _ = _train(run_dir, tiny_tensors, RESUME_CFG)
    assert isinstance(result, ev.Finished) and result.global_step == 16
    return run_dir


def test_exact_resume_after_max_steps(tmp_path, tiny_tensors, straight_run):
    run_dir = tmp_path / "run"
    first, _ = _train(run_dir, tiny_tensors, RESUME_CFG.replace(max_steps=5))
    assert first.stopped and first.global_step == 5
    result, got = _train(run_dir, tiny_tensors, RESUME_CFG, resume=True)
    assert isinstance(result, ev.Finished) and not result.stopped and result.global_step == 16
    started = got[0]
    assert isinstance(started, ev.RunStarted) and started.global_step == 5 and started.start_epoch == 0
    _assert_same_weights(_weights(run_dir / "last.pt"), _weights(straight_run / "last.pt"))
    _assert_same_weights(_weights(run_dir / "last.pt", "ema"), _weights(straight_run / "last.pt", "ema"))


def test_exact_resume_after_stop_event_without_passing_configs(tmp_path, tiny_tensors, straight_run, every_step):
    """Trainer(resume=True) with no configs continues the saved run to its own end."""
    run_dir = tmp_path / "run"
    stop = threading.Event()

    def on_event(event):
        if isinstance(event, ev.StepUpdate) and event.global_step == 11:  # in the second epoch
            stop.set()

    first, _ = _train(run_dir, tiny_tensors, RESUME_CFG, callback=on_event, stop_event=stop)
    assert first.stopped and first.global_step == 11 and first.epochs_done == 1
    result = Trainer(run_dir=run_dir, data=tiny_tensors, resume=True).run()
    assert isinstance(result, ev.Finished), result
    assert not result.stopped and result.epochs_done == 2 and result.global_step == 16
    _assert_same_weights(_weights(run_dir / "last.pt"), _weights(straight_run / "last.pt"))
    _assert_same_weights(_weights(run_dir / "last.pt", "ema"), _weights(straight_run / "last.pt", "ema"))
    history = load_checkpoint(run_dir / "last.pt")["history"]
    assert [h["epoch"] for h in history] == [1, 2]


def test_resume_without_a_checkpoint_fails_with_one_line(tmp_path, tiny_tensors):
    result, got = _train(tmp_path / "empty", tiny_tensors, resume=True)
    assert isinstance(result, ev.Failed) and "not found" in result.message and "\n" not in result.message
    assert got == [result]


def test_missing_data_offline_fails_with_one_line(tmp_path, monkeypatch):
    from torchvision import datasets

    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    result = Trainer(TINY, BASE, run_dir=tmp_path / "run", data_dir=tmp_path / "no-data").run()
    assert isinstance(result, ev.Failed)
    assert "data dir" in result.message and "\n" not in result.message
    assert result.error["field"] == "data_dir"


def test_ema_update_arithmetic():
    torch.manual_seed(0)
    model = ConditionalDenoiser(TINY)
    ema = EMA(model, 0.75)
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):  # values exact in float32, so the check can be exact
            p.copy_(torch.randint(-64, 64, p.shape).float() / 8 + i)
        for p in ema.model.parameters():
            p.copy_(torch.randint(-64, 64, p.shape).float() / 16)
    before = [p.clone() for p in ema.model.parameters()]
    ema.update(model)
    for old, new, w in zip(before, ema.model.parameters(), model.parameters()):
        assert torch.equal(new, 0.75 * old + 0.25 * w)
        assert not new.requires_grad
    for b_ema, b in zip(ema.model.buffers(), model.buffers()):
        assert torch.equal(b_ema, b)
    # A typical decay, arbitrary values: equal up to float rounding.
    ema = EMA(model, 0.999)
    before = [p.clone() for p in ema.model.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    ema.update(model)
    for old, new, w in zip(before, ema.model.parameters(), model.parameters()):
        assert torch.allclose(new, 0.999 * old + 0.001 * w, rtol=1e-6, atol=1e-6)


def test_lr_schedule_and_devices():
    assert lr_schedule(TrainConfig(lr=1.0, epochs=5, step_size=2, gamma=0.1)) == pytest.approx(
        [1.0, 1.0, 0.1, 0.1, 0.01])
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="cuda") as info:
            pick_device("cuda")
        assert info.value.field == "device" and info.value.value == "cuda"


def test_resume_config_changes_only_what_a_resume_may_and_runs_on():
    saved = BASE.replace(epochs=3, max_steps=5, device="cpu")
    # max_steps budgets one invocation: a resume without one runs on to the run's end.
    assert resume_config(saved) == saved.replace(max_steps=None)
    assert resume_config(saved, epochs=9, max_steps=7, device="auto") == saved.replace(epochs=9, max_steps=7,
                                                                                      device="auto")
    # The precision is how this machine runs the steps, not the recipe: a resume may decide it again.
    assert resume_config(saved, bf16=True, channels_last=True) == saved.replace(max_steps=None, bf16=True,
                                                                                channels_last=True)
