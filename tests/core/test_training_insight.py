"""Issue 13's core: the per-sigma loss bins and the in-training quality evaluation."""

from __future__ import annotations

import json
import math
import threading

import pytest
import torch

from helpers.core import train_collecting

from tui_denoiser.core.checkpoint import load_checkpoint
from tui_denoiser.core.config import ModelConfig, TrainConfig
from tui_denoiser.core.data import load_split
from tui_denoiser.core.errors import ConfigError
from tui_denoiser.core.recipes import RECIPES
from tui_denoiser.core.runs import events as ev
from tui_denoiser.core.runs.folder import METRICS_FILE
from tui_denoiser.core.training import Trainer
from tui_denoiser.core.training.sigma_bins import LOG_BINS, SigmaBins, sigma_bins


def test_original_recipe_has_one_bin_per_level():
    centres, edges = sigma_bins(TrainConfig())
    assert centres == pytest.approx([t / 10 for t in range(1, 11)])
    assert len(edges) == 11
    assert all(lo < c < hi for lo, c, hi in zip(edges, centres, edges[1:]))


def test_edm_bins_are_log_spaced_over_the_configured_range():
    cfg = RECIPES["edm"].train
    centres, edges = sigma_bins(cfg)
    assert len(centres) == LOG_BINS and edges[0] == pytest.approx(cfg.sigma_min) and edges[-1] == pytest.approx(80)
    ratios = [b / a for a, b in zip(edges, edges[1:])]
    assert max(ratios) == pytest.approx(min(ratios))


def test_many_discrete_levels_fall_back_to_log_bins():
    centres, _ = sigma_bins(TrainConfig(noise_levels=1000))
    assert len(centres) == LOG_BINS


@pytest.mark.parametrize("cfg", [TrainConfig(), TrainConfig(noise="discrete", noise_levels=7),
                                 RECIPES["edm"].train, TrainConfig(noise="continuous")])
def test_binning_recovers_a_loss_that_is_a_known_function_of_sigma(cfg):
    """A stub 'model' whose per-sample loss is exactly log(sigma)^2 + 1: each bin's mean must be that
    function averaged over the sigmas that fell in it, and every sample must land in the bin whose
    edges hold its sigma (or an end bin when outside the range)."""
    from tui_denoiser.core.noise import training_sigmas

    bins = SigmaBins.for_config(cfg)
    gen = torch.Generator().manual_seed(0)
    seen = []
    for _ in range(200):
        sigma = training_sigmas(cfg, 64, device="cpu", generator=gen)
        bins.add(sigma, sigma.log().pow(2) + 1)
        seen.append(sigma.clone())
    loss, count = bins.means()
    sigmas = torch.cat(seen).double()
    assert sum(count) == sigmas.numel()
    edges = torch.tensor(bins.edges, dtype=torch.float64)
    which = torch.bucketize(sigmas, edges[1:-1])
    for i, (mean, n) in enumerate(zip(loss, count)):
        inside = sigmas[which == i]
        assert n == inside.numel()
        if n == 0:
            assert mean is None
            continue
        assert mean == pytest.approx(float((inside.log().pow(2) + 1).mean()), rel=1e-4)
        lo, hi = float(edges[i]), float(edges[i + 1])
        if 0 < i < len(count) - 1:
            assert float(inside.min()) >= lo * (1 - 1e-6) and float(inside.max()) <= hi * (1 + 1e-6)
    if cfg.noise == "discrete-batch":
        # one level per bin: the mean is the function at that level exactly
        for c, mean in zip(bins.centres, loss):
            if mean is not None:
                assert mean == pytest.approx(math.log(c) ** 2 + 1, rel=1e-5)


def test_add_batch_weights_the_per_sample_error():
    bins = SigmaBins([0.5, 2.0], [0.25, 1.0, 4.0])
    x0 = torch.zeros(2, 1, 28, 28)
    pred = torch.stack([torch.full((1, 28, 28), 1.0), torch.full((1, 28, 28), 2.0)])
    bins.add_batch(torch.tensor([0.5, 2.0]), pred, x0, torch.tensor([3.0, 0.5]))
    loss, count = bins.means()
    assert loss == pytest.approx([3.0, 2.0]) and count == [1, 1]


def test_state_round_trip_and_reset():
    bins = SigmaBins.for_config(TrainConfig())
    bins.add(torch.tensor([0.1, 0.1, 1.0]), torch.tensor([1.0, 3.0, 5.0]))
    other = SigmaBins.for_config(TrainConfig())
    other.load_state(bins.state())
    assert other.means() == bins.means()
    other.load_state({"sigma_sums": [1.0], "sigma_counts": [1.0]})  # another shape: ignored
    assert other.means() == bins.means()
    event = bins.event(2, 40)
    assert isinstance(event, ev.LossBySigma) and event.loss[0] == pytest.approx(2.0) and event.loss[1] is None
    assert ev.event_from_json(event.to_json()) == event
    bins.reset()
    assert bins.empty and bins.means()[0] == [None] * 10


@pytest.mark.parametrize("changes, words", [
    ({"eval_every": 0}, "eval every must be a positive number of steps, got 0"),
    ({"eval_every": -5}, "eval every must be a positive number of steps, got -5"),
    ({"eval_per_digit": -1}, "eval per digit must be an integer in 1..1000, got -1"),
    ({"eval_per_digit": 0}, "eval per digit must be an integer in 1..1000, got 0"),
])
def test_bad_eval_settings_are_one_line(changes, words):
    with pytest.raises(ConfigError) as info:
        TrainConfig().replace(**changes)
    assert str(info.value) == words and "\n" not in str(info.value)


def test_old_train_configs_without_eval_fields_still_load():
    data = TrainConfig().to_dict()
    for key in ("quality_eval", "eval_every", "eval_per_digit"):
        data.pop(key)
    assert TrainConfig.from_dict(data) == TrainConfig()


# -- wired into the trainer (tiny IDX data, no network) ------------------------------------------------


TINY = ModelConfig(channels=(8, 16, 16))
# 256 train images at batch 32: 8 steps an epoch; 5 samples a digit keeps each evaluation quick.
BASE = TrainConfig(batch_size=32, epochs=2, lr=2e-3, device="cpu", preview=False, seed=3, eval_per_digit=5)


@pytest.fixture(scope="module")
def tiny_tensors(tiny_data_dir):
    torch.set_num_threads(1)
    return (*load_split("mnist", tiny_data_dir, train=True), *load_split("mnist", tiny_data_dir, train=False))


def _train(run_dir, tensors, cfg=BASE, **kwargs):
    return train_collecting(TINY, cfg, run_dir, tensors, **kwargs)


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / METRICS_FILE).read_text().splitlines()]


def test_a_tiny_run_writes_eval_and_loss_by_sigma_records(tmp_path, tiny_tensors):
    run_dir = tmp_path / "run"
    result, got = _train(run_dir, tiny_tensors)
    assert result.kind == "finished"
    records = _records(run_dir)
    quality = [r for r in records if r["kind"] == "quality"]
    by_sigma = [r for r in records if r["kind"] == "loss_by_sigma"]
    # default: one evaluation at each epoch end (the run's end is the last epoch's end: not repeated)
    assert [(q["epoch"], q["global_step"], q["at"]) for q in quality] == [(0, 8, "epoch"), (1, 16, "epoch")]
    for q in quality:
        assert 0 <= q["accuracy"] <= 1 and q["frechet"] >= 0 and q["frechet_floor"] >= 0
        assert q["per_digit"] == 5 and q["sampler"] == "seed" and q["model_calls"] == 10
    assert [(r["epoch"], r["partial"]) for r in by_sigma] == [(0, False), (1, False)]
    for r in by_sigma:
        assert r["sigma"] == pytest.approx([t / 10 for t in range(1, 11)]) and len(r["edges"]) == 11
        assert sum(r["count"]) == 256  # every training sample of the epoch, once
        assert all((m is None) == (n == 0) for m, n in zip(r["loss"], r["count"]))
    # the event order of an epoch end: epoch, loss by sigma, quality, then its checkpoint
    kinds = [e.kind for e in got]
    first_end = kinds.index("epoch")
    assert kinds[first_end:first_end + 4] == ["epoch", "loss_by_sigma", "quality", "checkpoint"]
    # the checkpoint's history carries the figures too (the app's resume and info read it)
    history = load_checkpoint(run_dir / "last.pt")["history"]
    assert history[-1]["accuracy"] == pytest.approx(quality[-1]["accuracy"])
    assert all(ev.event_from_json(r).to_json() == r for r in records if r["kind"] in ("quality", "loss_by_sigma"))


def test_the_evaluation_does_not_change_what_the_model_learns(tmp_path, tiny_tensors):
    _train(tmp_path / "on", tiny_tensors, BASE.replace(epochs=1))
    _train(tmp_path / "off", tiny_tensors, BASE.replace(epochs=1, quality_eval=False))
    on, off = load_checkpoint(tmp_path / "on" / "last.pt"), load_checkpoint(tmp_path / "off" / "last.pt")
    for key in on["model"]:
        assert torch.equal(on["model"][key], off["model"][key]), key
    assert not any(r["kind"] == "quality" for r in _records(tmp_path / "off"))


def test_eval_every_n_steps_and_once_at_the_end(tmp_path, tiny_tensors):
    run_dir = tmp_path / "run"
    _train(run_dir, tiny_tensors, BASE.replace(eval_every=5, max_steps=12))
    quality = [r for r in _records(run_dir) if r["kind"] == "quality"]
    assert [(q["global_step"], q["at"]) for q in quality] == [(5, "step"), (10, "step"), (12, "end")]
    partial = [r for r in _records(run_dir) if r["kind"] == "loss_by_sigma" and r["partial"]]
    assert len(partial) == 1 and partial[0]["epoch"] == 1 and sum(partial[0]["count"]) == 4 * 32


def test_a_stopped_run_skips_the_last_evaluation_and_keeps_its_bins_on_resume(tmp_path, tiny_tensors, monkeypatch):
    run_dir = tmp_path / "run"
    stop = threading.Event()

    def stop_at_step_3(event):
        if isinstance(event, ev.StepUpdate) and event.global_step >= 3:
            stop.set()

    monkeypatch.setattr("tui_denoiser.core.training.reporting.UPDATE_INTERVAL_S", 0.0)
    _train(run_dir, tiny_tensors, BASE.replace(epochs=1), stop_event=stop, callback=stop_at_step_3)
    records = _records(run_dir)
    assert not any(r["kind"] == "quality" for r in records)
    partial = [r for r in records if r["kind"] == "loss_by_sigma"]
    assert len(partial) == 1 and partial[0]["partial"] and sum(partial[0]["count"]) == 3 * 32
    Trainer(TINY, BASE.replace(epochs=1), run_dir=run_dir, data=tiny_tensors, resume=True).run()
    whole = [r for r in _records(run_dir) if r["kind"] == "loss_by_sigma"][-1]
    assert not whole["partial"] and sum(whole["count"]) == 256  # the 3 steps before the stop still count


def test_another_dataset_trains_on_without_the_evaluation(tmp_path, tiny_tensors):
    result, got = _train(tmp_path / "run", tiny_tensors, BASE.replace(dataset="fashion-mnist", epochs=1))
    assert result.kind == "finished"
    warnings = [e.message for e in got if isinstance(e, ev.WarningEvent)]
    assert warnings == ["quality evaluation judges MNIST digits; it is off for fashion-mnist"]
    assert not any(isinstance(e, ev.QualityEval) for e in got)


def test_a_failing_evaluation_is_one_warning_and_training_goes_on(tmp_path, tiny_tensors, monkeypatch):
    from tui_denoiser.core.training import monitor

    def broken(self, *args, **kwargs):
        raise RuntimeError("sampler exploded\nwith a traceback-like second line")

    monkeypatch.setattr(monitor.QualityMonitor, "evaluate", broken)
    result, got = _train(tmp_path / "run", tiny_tensors)
    assert result.kind == "finished" and result.epochs_done == 2
    warnings = [e.message for e in got if isinstance(e, ev.WarningEvent)]
    assert warnings == ["quality evaluation failed and is off for this run: sampler exploded"]



def test_a_stop_during_an_evaluation_ends_it_within_a_sampler_step(tiny_tensors):
    from tui_denoiser.core.inference import LoadedModel, prepare_for_inference
    from tui_denoiser.core.model import ConditionalDenoiser
    from tui_denoiser.core.training.monitor import QualityMonitor

    stop = threading.Event()
    monitor = QualityMonitor(BASE, "cpu", stop)
    monitor.prepare(*tiny_tensors[2:], *tiny_tensors[:2])
    loaded = LoadedModel(prepare_for_inference(ConditionalDenoiser(TINY).eval()), TINY, BASE, "x")
    assert monitor.evaluate(loaded, 0, 1, "step") is not None
    calls = []
    original = loaded.sample

    def counting(*args, **kwargs):
        for step in original(*args, **kwargs):
            calls.append(step.index)
            stop.set()
            yield step

    loaded.sample = counting
    assert monitor.evaluate(loaded, 0, 2, "step") is None and calls == [0]
    assert monitor.last_step == 1
