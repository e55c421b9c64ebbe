"""What the model is learning while it trains: the loss per noise level and a small quality evaluation.

A diffusion model's mean loss barely moves after the first epochs while its samples keep improving, so
the trainer reports two more things (issue 13):

- :class:`SigmaBins`: the per-sample training loss (EDM-weighted where the recipe weights it) binned by
  noise level. The bins are fixed for a run, from its config: one bin per level for the original
  recipe's T discrete levels t/T, else log-spaced bins over the config's sigma range. Sums and counts
  stay on the training device (no host sync per step); they are read once per epoch.
- :class:`QualityMonitor`: accuracy and Frechet distance of generated digits, read by the shipped
  classifier with :mod:`tui_denoiser.core.evaluation`'s statistics (the same ones ``denoiser-tui eval``
  reports), but small (``eval_per_digit`` samples a digit) and with the real digits' statistics
  computed once per run. Fixed seeds, so what changes between evaluations is the model. A run that
  trains in bf16 samples its evaluations under the same autocast (on a CPU it halves their cost;
  benchmarks/eval_overhead.py), so the figures can differ slightly from an fp32 ``denoiser-tui eval``.

Neither touches the training RNGs or the training module, so a run learns exactly the same weights with
the evaluation on or off (a test checks it).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import torch

from tui_denoiser.core import events as ev
from tui_denoiser.core.config import ModelConfig, TrainConfig
from tui_denoiser.core.data import to_model_range

MAX_LEVEL_BINS = 40  # discrete recipes with more levels than this get log-spaced bins instead
LOG_BINS = 20
CONTINUOUS_LOW = 0.01  # continuous noise: bins from sigma_max/100 (the 1 % below share the first bin)
EVAL_SEED = 0  # every evaluation samples from the same starting noise
EVAL_BATCH = 500


# -- loss per noise level ---------------------------------------------------------------------------

def sigma_bins(cfg: TrainConfig) -> tuple[list[float], list[float]]:
    """(centres, edges) of the run's noise-level bins, ascending; ``len(edges) == len(centres) + 1``.

    Discrete noise (the original recipe): a bin per level t/T, edges at the geometric midpoints. Else
    ``LOG_BINS`` log-spaced bins over the config's range (edm: sigma_min..sigma_max; continuous:
    sigma_max/100..sigma_max). Samples outside the range fall into the end bins.
    """
    levels = cfg.noise_levels
    if cfg.noise in ("discrete-batch", "discrete") and levels <= MAX_LEVEL_BINS:
        centres = [cfg.sigma_max * t / levels for t in range(1, levels + 1)]
        if levels == 1:
            return centres, [centres[0] / math.sqrt(2), centres[0] * math.sqrt(2)]
        inner = [math.sqrt(a * b) for a, b in zip(centres, centres[1:])]
        return centres, [centres[0] ** 2 / inner[0], *inner, centres[-1] ** 2 / inner[-1]]
    if cfg.noise == "edm":
        lo, hi = cfg.sigma_min, cfg.sigma_max
    elif cfg.noise == "continuous":
        lo, hi = cfg.sigma_max * CONTINUOUS_LOW, cfg.sigma_max
    else:
        lo, hi = cfg.sigma_max / levels, cfg.sigma_max
    step = (math.log(hi) - math.log(lo)) / LOG_BINS
    edges = [math.exp(math.log(lo) + i * step) for i in range(LOG_BINS + 1)]
    return [math.sqrt(a * b) for a, b in zip(edges, edges[1:])], edges


class SigmaBins:
    """Per-bin sums and counts of the per-sample training loss, on the training device."""

    def __init__(self, centres: list[float], edges: list[float], device: torch.device | str = "cpu"):
        self.centres, self.edges = list(centres), list(edges)
        self._inner = torch.tensor(self.edges[1:-1], dtype=torch.float32, device=device)
        self.sums = torch.zeros(len(centres), dtype=torch.float32, device=device)
        self.counts = torch.zeros(len(centres), dtype=torch.float32, device=device)

    @classmethod
    def for_config(cls, cfg: TrainConfig, device: torch.device | str = "cpu") -> "SigmaBins":
        return cls(*sigma_bins(cfg), device=device)

    def add(self, sigma: torch.Tensor, per_sample_loss: torch.Tensor) -> None:
        """Accumulate one batch: ``sigma`` and ``per_sample_loss`` are (B,) (no host sync)."""
        idx = torch.bucketize(sigma.detach().float().contiguous(), self._inner)
        loss = per_sample_loss.detach().float()
        self.sums.index_add_(0, idx, loss)
        self.counts.index_add_(0, idx, torch.ones_like(loss))

    def add_batch(self, sigma: torch.Tensor, pred: torch.Tensor, x0: torch.Tensor,
                  weights: torch.Tensor | None) -> None:
        """The trainer's step: per-sample MSE of ``pred`` to ``x0``, times the loss ``weights`` if any."""
        with torch.no_grad():
            err = (pred.detach().float() - x0).pow(2).mean(dim=(1, 2, 3))
            self.add(sigma, err * weights if weights is not None else err)

    def means(self) -> tuple[list[float | None], list[int]]:
        """(mean loss per bin, None where empty; count per bin): one host sync."""
        sums, counts = self.sums.cpu().tolist(), self.counts.cpu().tolist()
        means = [s / c if c > 0 and math.isfinite(s / c) else None for s, c in zip(sums, counts)]
        return means, [int(c) for c in counts]

    @property
    def empty(self) -> bool:
        return not bool(self.counts.sum() > 0)

    def reset(self) -> None:
        self.sums.zero_()
        self.counts.zero_()

    def event(self, epoch: int, global_step: int, partial: bool = False) -> ev.LossBySigma:
        loss, count = self.means()
        return ev.LossBySigma(epoch, global_step, self.centres, self.edges, loss, count, partial)

    def state(self) -> dict[str, list[float]]:
        """Plain lists for a checkpoint's in-epoch position, so a resumed epoch keeps its bins."""
        return {"sigma_sums": self.sums.cpu().tolist(), "sigma_counts": self.counts.cpu().tolist()}

    def load_state(self, state: dict[str, Any] | None) -> None:
        """Restore :meth:`state`; a missing or differently shaped state (older checkpoint) starts empty."""
        if not state:
            return
        sums, counts = state.get("sigma_sums"), state.get("sigma_counts")
        if isinstance(sums, list) and isinstance(counts, list) and len(sums) == len(counts) == len(self.centres):
            self.sums.copy_(torch.tensor(sums, dtype=torch.float32))
            self.counts.copy_(torch.tensor(counts, dtype=torch.float32))


# -- quality during training -----------------------------------------------------------------------

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
        from tui_denoiser.core.classifier import load_classifier
        from tui_denoiser.core.evaluation import balanced_indices, frechet_distance_from_stats, gaussian_stats

        self.classifier = load_classifier(classifier_path or paths.require_shipped(paths.CLASSIFIER_PATH), self.device)
        ref_idx = balanced_indices(test_y.cpu(), self.per_digit, seed=EVAL_SEED)
        floor_idx = balanced_indices(train_y.cpu(), self.per_digit, seed=EVAL_SEED + 1)
        count = min(ref_idx.shape[0], floor_idx.shape[0])
        reference = to_model_range(test_x.cpu()[ref_idx[:count]])
        floor_images = to_model_range(train_x.cpu()[floor_idx[:count]])
        ref_feats, _ = self._features(reference)
        floor_feats, _ = self._features(floor_images)
        self.reference = gaussian_stats(ref_feats)
        self.floor = frechet_distance_from_stats(*gaussian_stats(floor_feats), *self.reference)
        self.judges = []
        for judge in _extra_judges(self.classifier, self.device):
            feats, _ = judge.outputs(reference, EVAL_BATCH)
            self.judges.append((judge, gaussian_stats(feats)))

    def _features(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from tui_denoiser.core.evaluation import classifier_outputs

        return classifier_outputs(self.classifier, images, EVAL_BATCH)

    def evaluate(self, loaded: Any, epoch: int, global_step: int, at: str) -> ev.QualityEval | None:
        """Sample, read and compare; None when the stop event came first."""
        from tui_denoiser.core.evaluation import _quantise, frechet_distance_from_stats, gaussian_stats

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
            batches.append(_quantise(last.images))  # uint8 as shown, back to [-1, 1]
            calls = last.model_calls
        samples = torch.cat(batches)
        feats, preds = self._features(samples)
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
    try:
        from tui_denoiser.core.judges import shipped_judges
    except ImportError:
        return []
    try:
        return list(shipped_judges(classifier, device))[1:]  # the first is the classifier itself
    except Exception:  # noqa: BLE001 - an optional extra: a damaged judge file must not stop training
        return []
