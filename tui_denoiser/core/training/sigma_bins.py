"""The training loss per noise level: a diffusion model's mean loss barely moves after the first epochs
while its samples keep improving, so the trainer also reports the loss binned by noise level.

:class:`SigmaBins` holds the per-sample training loss (EDM-weighted where the recipe weights it) binned
by noise level. The bins are fixed for a run, from its config: one bin per level for the original
recipe's T discrete levels t/T, else log-spaced bins over the config's sigma range. Sums and counts stay
on the training device (no host sync per step); they are read once per epoch.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from tui_denoiser.core.config import TrainConfig
from tui_denoiser.core.runs import events as ev

MAX_LEVEL_BINS = 40  # discrete recipes with more levels than this get log-spaced bins instead
LOG_BINS = 20
CONTINUOUS_LOW = 0.01  # continuous noise: bins from sigma_max/100 (the 1 % below share the first bin)


def sigma_bins(cfg: TrainConfig) -> tuple[list[float], list[float]]:
    """(centres, edges) of the run's noise-level bins, ascending; ``len(edges) == len(centres) + 1``.

    Discrete or geometric levels (the seed and original recipes): a bin per level, edges at the
    geometric midpoints. Else
    ``LOG_BINS`` log-spaced bins over the config's range (edm: sigma_min..sigma_max; continuous:
    sigma_max/100..sigma_max). Samples outside the range fall into the end bins.
    """
    levels = cfg.noise_levels
    if cfg.levels() is not None and levels <= MAX_LEVEL_BINS:
        centres = cfg.levels()
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
