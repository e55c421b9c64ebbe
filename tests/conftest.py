from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers.idx import make_tiny_mnist

REAL_MNIST_RAW = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "MNIST" / "raw"


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    """A data folder with tiny MNIST IDX files (256 train, 64 test images) that torchvision reads."""
    return make_tiny_mnist(tmp_path_factory.mktemp("tiny-data"))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Keep every test's cache (data, runs) out of the user's real cache folder."""
    monkeypatch.setenv("DENOISER_TUI_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="session")
def real_mnist_dir(tmp_path_factory) -> Path:
    """A writable copy of the real MNIST raw files, or skip where they are absent."""
    if not REAL_MNIST_RAW.is_dir() or not any(REAL_MNIST_RAW.glob("*.gz")):
        pytest.skip(f"real MNIST not found at {REAL_MNIST_RAW}")
    root = tmp_path_factory.mktemp("real-mnist")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in REAL_MNIST_RAW.iterdir():
        os.symlink(f, raw / f.name)
    return root


@pytest.fixture(scope="session")
def real_mnist_extracted(real_mnist_dir, tmp_path_factory) -> Path:
    """The real MNIST test split as extracted IDX files, so ``load_split(download=False)`` reads it
    without ever reaching for the network (whatever the download logic does with bare .gz files)."""
    import gzip
    import shutil

    root = tmp_path_factory.mktemp("real-mnist-extracted")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in sorted((real_mnist_dir / "MNIST" / "raw").glob("t10k-*.gz")):
        with gzip.open(gz, "rb") as src, open(raw / gz.name[:-3], "wb") as dst:
            shutil.copyfileobj(src, dst)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"")  # torchvision checks that all four exist; only the test split is read
    return root
