"""How varied a set of samples is in plain handwriting terms, against real test digits.

A judge's diversity figure says that samples are too alike, not how. This measures simple features of
each digit (ink, centre, height, width, stroke amount, share of grey edge pixels, slant) and prints, per
feature, the spread of the samples over the spread of real digits of the same class, averaged over the
ten classes: 1 is as varied as real digits, below 1 narrower. It reads the ``.npy`` files that
``scripts/quality_sweep.py --cache DIR`` writes (uint8, sample i drawn as digit i % 10).

    python scripts/style_spread.py --data-dir DATA [NAME=]CACHE/KEY.npy [[NAME=]CACHE/KEY.npy ...]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from tui_denoiser.core.data import load_split


def features(images: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image features of (N, 28, 28) images in [0, 1]."""
    ys, xs = np.mgrid[0:28, 0:28]
    mass = images.sum((1, 2)) + 1e-6
    cy = (images * ys).sum((1, 2)) / mass
    cx = (images * xs).sum((1, 2)) / mass
    on = images > 0.5
    height = np.array([np.ptp(r.nonzero()[0]) if r.any() else 0 for r in on.any(2)])
    width = np.array([np.ptp(c.nonzero()[0]) if c.any() else 0 for c in on.any(1)])
    inked = images > 0.1
    dx, dy = xs - cx[:, None, None], ys - cy[:, None, None]
    return {
        "ink": images.sum((1, 2)),
        "centre x": cx,
        "centre y": cy,
        "height": height,
        "width": width,
        "stroke": on.sum((1, 2)) / np.maximum(height, 1),  # inked pixels per row of height: stroke thickness
        "grey edge": (inked & (images < 0.9)).sum((1, 2)) / np.maximum(inked.sum((1, 2)), 1),
        "slant": (images * dx * dy).sum((1, 2)) / (images * dy**2).sum((1, 2)).clip(1e-6),
    }


def spread_ratios(samples: np.ndarray, sample_labels: np.ndarray, real: dict[str, np.ndarray],
                  real_labels: np.ndarray) -> dict[str, float]:
    """Per feature: the samples' standard deviation over real digits', averaged over the classes."""
    got = features(samples)
    return {name: float(np.mean([got[name][sample_labels == d].std() / real[name][real_labels == d].std()
                                 for d in range(10)])) for name in real}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("samples", nargs="+", help="[NAME=]PATH: .npy files from quality_sweep.py --cache, each named")
    args = p.parse_args(argv)
    images, labels = load_split("mnist", args.data_dir, train=False)
    real_labels = labels.numpy()
    real = features(images.numpy().astype(np.float32) / 255)
    rows = []
    for given in args.samples:
        name, _, path = given.rpartition("=")
        samples = np.load(path).astype(np.float32).reshape(-1, 28, 28) / 255
        rows.append((name or path.rsplit("/", 1)[-1], spread_ratios(samples, np.arange(len(samples)) % 10, real,
                                                                      real_labels)))
    names = list(real)
    width = max(len(name) for name, _ in rows)
    print("spread / real digits' spread, mean over the classes")
    print(f"{'':>{width}} " + " ".join(f"{name:>9}" for name in names))
    for name, ratios in rows:
        print(f"{name:>{width}} " + " ".join(f"{ratios[feature]:9.2f}" for feature in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
