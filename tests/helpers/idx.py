"""Writes tiny MNIST-format IDX files so tests run torchvision's real reader without the network."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def synthetic_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class-dependent strokes (a bar whose position and angle depend on the label) plus noise."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    yy, xx = np.mgrid[0:28, 0:28]
    images = np.zeros((n, 28, 28), dtype=np.float32)
    for i, k in enumerate(labels):
        angle = np.pi * k / 10 + rng.normal(0, 0.05)
        cx, cy = 14 + rng.normal(0, 1), 14 + rng.normal(0, 1)
        dist = np.abs((xx - cx) * np.sin(angle) - (yy - cy) * np.cos(angle))
        along = np.abs((xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle))
        images[i] = np.clip(2.0 - dist, 0, 1) * (along < 6 + k % 3)
    return (images * 255).astype(np.uint8), labels


def write_idx(folder: Path, images: np.ndarray, labels: np.ndarray, *, train: bool, gz: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    img_name, lbl_name = FILES[train]
    img = struct.pack(">IIII", 2051, len(images), 28, 28) + images.astype(np.uint8).tobytes()
    lbl = struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes()
    for name, blob in ((img_name, img), (lbl_name, lbl)):
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(blob))
        else:
            (folder / name).write_bytes(blob)


def make_tiny_mnist(root: Path, n_train: int = 256, n_test: int = 64, dataset_folder: str = "MNIST") -> Path:
    """Create ``root/<dataset_folder>/raw/`` with extracted IDX files; returns ``root``."""
    raw = root / dataset_folder / "raw"
    write_idx(raw, *synthetic_digits(n_train, seed=1), train=True)
    write_idx(raw, *synthetic_digits(n_test, seed=2), train=False)
    return root
