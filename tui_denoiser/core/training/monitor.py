"""The in-training quality monitor: what the model is learning while it trains, beside the loss per noise
level (:mod:`.sigma_bins`).

:class:`QualityMonitor`: accuracy and Frechet distance of generated digits, read by the shipped
  classifier with :mod:`tui_denoiser.core.quality.stats` (the same statistics ``denoiser-tui eval``
  reports), but small (``eval_per_digit`` samples a digit) and with the real digits' statistics
  computed once per run. Fixed seeds, so what changes between evaluations is the model. A run that
  trains in bf16 samples its evaluations under the same autocast (on a CPU it halves their cost;
  benchmarks/eval_overhead.py), so the figures can differ slightly from an fp32 ``denoiser-tui eval``.

It touches neither the training RNGs or the training module, so a run learns exactly the same weights with
the evaluation on or off (a test checks it).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import torch

from tui_denoiser.core.config import ModelConfig, TrainConfig
from tui_denoiser.core.data import to_model_range
from tui_denoiser.core.quality.stats import (frechet_distance_from_stats, gaussian_stats, quantise_uint8,
                                             reference_indices)
from tui_denoiser.core.runs import events as ev

EVAL_SEED = 0  # every evaluation samples from the same starting noise
EVAL_BATCH = 500


def eval_settings(cfg: TrainConfig) -> dict[str, Any]:
    """The evaluation fields of ``cfg``: the part of a config that a resumed run may change."""
    return {"quality_eval": cfg.quality_eval, "eval_every": cfg.eval_every, "eval_per_digit": cfg.eval_per_digit}


def quality_unavailable(cfg: TrainConfig, model_config: ModelConfig) -> str | None:
    """Why the in-training evaluation cannot run for this run (one line), or None when it can."""
    from tui_denoiser.core import paths

    if cfg.dataset != "mnist":
        return f"quality evaluation judges MNIST digits; it is off for {cfg.dataset}"
    if model_config.num_classes != 10:
        return f"quality evaluation judges the ten MNIST digits; this model has {model_config.num_classes} classes"
    if not paths.CLASSIFIER_PATH.is_file():
        return f"quality evaluation is off: {paths.missing_shipped_line(paths.CLASSIFIER_PATH)}"
    return None


class QualityMonitor:
    """Small, repeated sample-quality evaluations of one run (see the module docstring).

    ``prepare`` loads the classifier and computes the real digits' statistics once; ``evaluate`` then
    samples ``per_digit`` digits of each class from a :class:`LoadedModel`-like object (``sample(labels,
    seed=)``) and compares. A set ``stop_event`` abandons an evaluation within one sampler step.
    """

    def __init__(self, cfg: TrainConfig, device: torch.device | str, stop_event: threading.Event | None = None):
        self.per_digit = cfg.eval_per_digit
        self.every = cfg.eval_every
        self.device = torch.device(device)
        self.autocast = bool(cfg.bf16) and self.device.type != "mps"
        self.stop_event = stop_event or threading.Event()
        self.last_step: int | None = None
        self.classifier = None
        self.tuning: Any = None  # the classifier as a judge
        self.reference: tuple[torch.Tensor, torch.Tensor] | None = None  # (mu, cov) of real test digits
        self.floor = math.nan
        self.judges: list[Any] = []  # further shipped judges, each with its own reference statistics

    def due_after_step(self, global_step: int) -> bool:
        return self.every is not None and global_step % self.every == 0

    @property
    def at_epoch_end(self) -> bool:
        return self.every is None

    def prepare(self, test_x: torch.Tensor, test_y: torch.Tensor, train_x: torch.Tensor,
                train_y: torch.Tensor, classifier_path=None) -> None:
        """Load the classifier and fit the real digits once: class-balanced test digits (the reference)
        and as many training digits (the floor: a perfect model's distance at this count)."""
        from tui_denoiser.core import paths
        from tui_denoiser.core.quality.classifier import load_classifier
        from tui_denoiser.core.quality.judges import classifier_judge

        self.classifier = load_classifier(classifier_path or paths.require_shipped(paths.CLASSIFIER_PATH), self.device)
        self.tuning = classifier_judge(self.classifier)
        ref_idx, floor_idx = reference_indices(test_y, train_y, int(train_x.shape[0]), self.per_digit, EVAL_SEED)
        reference = to_model_range(test_x.cpu()[ref_idx])
        floor_images = to_model_range(train_x.cpu()[floor_idx])
        ref_feats, _ = self.tuning.outputs(reference, EVAL_BATCH)
        floor_feats, _ = self.tuning.outputs(floor_images, EVAL_BATCH)
        self.reference = gaussian_stats(ref_feats)
        self.floor = frechet_distance_from_stats(*gaussian_stats(floor_feats), *self.reference)
        self.judges = []
        for judge in _extra_judges(self.classifier, self.device):
            feats, _ = judge.outputs(reference, EVAL_BATCH)
            self.judges.append((judge, gaussian_stats(feats)))

    def evaluate(self, loaded: Any, epoch: int, global_step: int, at: str) -> ev.QualityEval | None:
        """Sample, read and compare; None when the stop event came first."""
        assert self.reference is not None, "prepare() first"
        t0 = time.perf_counter()
        labels = torch.arange(10).repeat(self.per_digit)
        batches, calls = [], 0
        for b, start in enumerate(range(0, labels.shape[0], EVAL_BATCH)):
            if self.stop_event.is_set():
                return None
            last = None
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
                for last in loaded.sample(labels[start:start + EVAL_BATCH], seed=EVAL_SEED + b):
                    if self.stop_event.is_set():  # Stop or a signal: end within one sampler step
                        return None
            assert last is not None
            batches.append(to_model_range(quantise_uint8(last.images)))  # uint8 as shown, back to [-1, 1]
            calls = last.model_calls
        samples = torch.cat(batches)
        feats, preds = self.tuning.outputs(samples, EVAL_BATCH)
        accuracy = float((preds == labels).float().mean())
        frechet = frechet_distance_from_stats(*gaussian_stats(feats), *self.reference)
        judges = None
        if self.judges:
            judges = {}
            for judge, ref_stats in self.judges:
                j_feats, j_preds = judge.outputs(samples, EVAL_BATCH)
                judges[judge.name] = {
                    "accuracy": float((j_preds == labels).float().mean()) if j_preds is not None else None,
                    "frechet": frechet_distance_from_stats(*gaussian_stats(j_feats), *ref_stats)}
        self.last_step = global_step
        sampling = getattr(loaded, "sampling", None)
        sampler = sampling.sampler if sampling is not None else str(getattr(loaded, "default_sampler", ""))
        return ev.QualityEval(epoch, global_step, accuracy, frechet, self.floor, self.per_digit,
                              time.perf_counter() - t0, sampler, int(calls), at, judges)


def _extra_judges(classifier, device: torch.device) -> list[Any]:
    """The shipped held-out judges beside the classifier, where this install has them (optional)."""
    from tui_denoiser.core.quality.judges import shipped_judges

    try:
        return list(shipped_judges(classifier, device))[1:]  # the first is the classifier itself
    except Exception:  # noqa: BLE001 - an optional extra: a damaged judge file must not stop training
        return []
