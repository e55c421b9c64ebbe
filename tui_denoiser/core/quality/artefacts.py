"""Artefacts anyone can measure without a judge network: specks and ink.

Both read uint8 images (N, 28, 28) with 0 = background, as the app shows and saves them.

- **Speck rate**: the share of images holding at least one isolated 8-connected blob of at most
  ``SPECK_MAX_PIXELS`` pixels brighter than ``SPECK_THRESHOLD`` (a stray dot away from the strokes).
  Real digits have a few; a sampler that leaves noise behind has many more.
- **Ink**: the total intensity of a digit (sum of pixels / 255). ``ink_ratio`` is the samples' mean
  ink over the real digits' mean, class by class when labels are given (then averaged over classes),
  so a different mix of digits does not move it.

Connected components are found by label propagation (a 3x3 max-pool of pixel ids inside the mask,
repeated until nothing changes), batched over images in torch: no scipy.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

SPECK_THRESHOLD = 100  # pixels strictly above this (of 255) count as ink for specks
SPECK_MAX_PIXELS = 3


def _as_uint8(images) -> torch.Tensor:
    t = torch.as_tensor(images)
    if t.dtype != torch.uint8:
        raise TypeError(f"expected uint8 images, got {t.dtype}")
    if t.ndim == 4 and t.shape[1] == 1:
        t = t[:, 0]
    if t.ndim != 3:
        raise ValueError(f"expected images of shape (N, H, W), got {tuple(t.shape)}")
    return t


def _component_labels(mask: torch.Tensor) -> torch.Tensor:
    """(N, H*W) int64: for each pixel of a boolean (N, H, W) mask, the id of its 8-connected component
    (the largest pixel id in it, 1-based), 0 off the mask."""
    n, h, w = mask.shape
    ids = torch.arange(1, h * w + 1, dtype=torch.float32).view(1, 1, h, w).expand(n, 1, h, w)
    m = mask.unsqueeze(1)
    label = torch.where(m, ids, torch.zeros(()))
    while True:  # each pass spreads the largest id one pixel further inside each component
        grown = torch.where(m, F.max_pool2d(label, 3, stride=1, padding=1), torch.zeros(()))
        if torch.equal(grown, label):
            break
        label = grown
    return label.view(n, -1).long()


def _component_counts(mask: torch.Tensor) -> torch.Tensor:
    """(N, H*W) int64: pixels in the component with each id, per image (0 where no such component)."""
    n, h, w = mask.shape
    keys = _component_labels(mask) + torch.arange(n).unsqueeze(1) * (h * w + 1)  # bin per (image, id)
    return torch.bincount(keys.view(-1), minlength=n * (h * w + 1)).view(n, h * w + 1)[:, 1:]


def component_sizes(mask) -> list[list[int]]:
    """Sizes of the 8-connected components of each boolean (N, H, W) mask, sorted, one list per image."""
    mask = torch.as_tensor(mask, dtype=torch.bool)
    if mask.shape[0] == 0:
        return []
    return [sorted(int(c) for c in row[row > 0]) for row in _component_counts(mask)]


def has_speck(images, threshold: int = SPECK_THRESHOLD, max_pixels: int = SPECK_MAX_PIXELS) -> torch.Tensor:
    """(N,) bool: whether each uint8 image holds an 8-connected blob of at most ``max_pixels`` pixels
    above ``threshold``."""
    t = _as_uint8(images)
    mask = t > threshold
    if mask.shape[0] == 0:
        return torch.zeros(0, dtype=torch.bool)
    counts = _component_counts(mask)
    return ((counts > 0) & (counts <= max_pixels)).any(1)


def speck_rate(images, **kwargs) -> float:
    """Share of uint8 images with at least one speck (see :func:`has_speck`); 0 for no images."""
    flags = has_speck(images, **kwargs)
    return float(flags.float().mean()) if flags.numel() else 0.0


def ink(images) -> torch.Tensor:
    """(N,) float64: total intensity of each uint8 image, in units of one full pixel (sum / 255)."""
    t = _as_uint8(images)
    return t.flatten(1).to(torch.float64).sum(1) / 255.0


def mean_ink(images, labels=None, num_classes: int = 10) -> float:
    """Mean ink per image; with ``labels``, the mean of the per-class means over classes present."""
    values = ink(images)
    if values.numel() == 0:
        return 0.0
    if labels is None:
        return float(values.mean())
    labels = torch.as_tensor(labels).reshape(-1).cpu()
    means = [values[labels == c].mean() for c in range(num_classes) if bool((labels == c).any())]
    return float(torch.stack(means).mean())


def ink_ratio(samples, real, sample_labels=None, real_labels=None) -> float:
    """Mean ink of ``samples`` over that of ``real`` (1 = as much ink as real digits); class-balanced
    when both label sets are given."""
    balanced = sample_labels is not None and real_labels is not None
    s = mean_ink(samples, sample_labels if balanced else None)
    r = mean_ink(real, real_labels if balanced else None)
    return s / r if r > 0 else float("inf")
