"""The statistics every quality measurement shares; this module imports nothing else from the project.

- :func:`frechet_distance`: the Frechet distance between Gaussians fitted to two feature sets (the
  MNIST analogue of FID), through ``eigh`` (no scipy).
- :func:`within_class_spread`: the mean pairwise feature distance within each digit (diversity).
- :func:`balanced_indices` and :func:`reference_indices`: which real digits a measurement compares
  against (class-balanced test digits, the reference) and as many training digits (the floor).
- :func:`quantise_uint8`: samples as the app shows and saves them (uint8).
"""

from __future__ import annotations

import torch


def _sqrtm_psd(matrix: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix (float64) through ``eigh``."""
    sym = (matrix + matrix.T) / 2
    values, vectors = torch.linalg.eigh(sym)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def gaussian_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (unbiased) covariance of (N, D) features, in float64."""
    f = features.detach().to("cpu", torch.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need at least two feature rows, got shape {tuple(f.shape)}")
    mu = f.mean(0)
    centred = f - mu
    return mu, centred.T @ centred / (f.shape[0] - 1)


def frechet_distance_from_stats(mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor,
                                cov2: torch.Tensor) -> float:
    """``|mu1 - mu2|^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^(1/2))`` in float64.

    ``tr((C1 C2)^(1/2)) = tr((C1^(1/2) C2 C1^(1/2))^(1/2))``, and the inner matrix is symmetric PSD, so
    both roots come from ``eigh`` (no scipy).
    """
    mu1, mu2 = mu1.to(torch.float64), mu2.to(torch.float64)
    cov1, cov2 = cov1.to(torch.float64), cov2.to(torch.float64)
    root1 = _sqrtm_psd(cov1)
    inner = root1 @ cov2 @ root1
    inner = (inner + inner.T) / 2
    tr_covmean = torch.linalg.eigvalsh(inner).clamp_min(0).sqrt().sum()
    value = (mu1 - mu2).pow(2).sum() + torch.trace(cov1) + torch.trace(cov2) - 2 * tr_covmean
    return max(float(value), 0.0)


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to two (N, D) feature sets."""
    return frechet_distance_from_stats(*gaussian_stats(features_a), *gaussian_stats(features_b))


def mean_pairwise_distance(features: torch.Tensor) -> float:
    """Mean Euclidean distance over all pairs of distinct rows (0 for fewer than two rows)."""
    f = features.detach().to("cpu", torch.float64)
    n = f.shape[0]
    if n < 2:
        return 0.0
    d = torch.cdist(f, f)
    return float(d.sum() / (n * (n - 1)))


def within_class_spread(features: torch.Tensor, labels: torch.Tensor, num_classes: int = 10) -> float:
    """:func:`mean_pairwise_distance` within each class that has two or more rows, averaged over classes."""
    labels = labels.cpu()
    spreads = [mean_pairwise_distance(features[labels == c]) for c in range(num_classes)
               if int((labels == c).sum()) >= 2]
    return sum(spreads) / len(spreads) if spreads else 0.0


# -- which real digits --------------------------------------------------------------------------------

def balanced_indices(labels: torch.Tensor, per_class: int, *, seed: int, num_classes: int = 10) -> torch.Tensor:
    """Up to ``per_class`` random indices of each class; short classes are topped up from the rest.

    The result has ``min(num_classes * per_class, len(labels))`` indices, in a seeded order.
    """
    labels = labels.cpu()
    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(labels.shape[0], generator=gen)
    chosen: list[torch.Tensor] = []
    for c in range(num_classes):
        of_class = perm[labels[perm] == c]
        chosen.append(of_class[:per_class])
    picked = torch.cat(chosen) if chosen else torch.zeros(0, dtype=torch.long)
    want = min(num_classes * per_class, labels.shape[0])
    if picked.shape[0] < want:
        mask = torch.ones(labels.shape[0], dtype=torch.bool)
        mask[picked] = False
        rest = perm[mask[perm]]
        picked = torch.cat([picked, rest[:want - picked.shape[0]]])
    return picked


def reference_indices(test_labels: torch.Tensor, train_labels: torch.Tensor | None, train_count: int,
                      per_digit: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(test indices, training indices): ``per_digit`` real digits of each class on each side, cut to
    the same count. The test side (the reference) is drawn with ``seed``, the training side (the floor:
    what a perfect generator would score at this count) with ``seed + 1``, class-balanced only when its
    labels are known."""
    ref_idx = balanced_indices(test_labels.cpu(), per_digit, seed=seed)
    if train_labels is not None:
        floor_idx = balanced_indices(train_labels.cpu(), per_digit, seed=seed + 1)
    else:
        gen = torch.Generator().manual_seed(seed + 1)
        floor_idx = torch.randperm(train_count, generator=gen)[:ref_idx.shape[0]]
    count = min(ref_idx.shape[0], floor_idx.shape[0])
    return ref_idx[:count], floor_idx[:count]


# -- samples as shown ---------------------------------------------------------------------------------

def quantise_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float samples ((B,1,H,W) about [-1, 1]) -> uint8 (B,H,W) on the CPU, as the app shows and saves
    them; non-finite values become 0 (NaN), 1 (+inf) or -1 (-inf) first."""
    t = torch.nan_to_num(images.detach().float(), nan=0.0, posinf=1.0, neginf=-1.0).cpu()
    if t.ndim == 4:
        t = t[:, 0]
    return ((t + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
