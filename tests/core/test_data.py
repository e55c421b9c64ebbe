"""Data loading through torchvision's real IDX reader, on tiny files a fixture writes."""

from __future__ import annotations

import pytest
import torch

from helpers.idx import make_tiny_mnist, synthetic_digits, write_idx
from tui_denoiser.cli.args import flag_of
from tui_denoiser.core import data
from tui_denoiser.core.errors import DataError


def test_load_split_reads_tiny_idx_files(tiny_data_dir):
    images, labels = data.load_split("mnist", tiny_data_dir, train=True)
    assert images.shape == (256, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (256,) and labels.dtype == torch.int64
    assert set(labels.tolist()) == set(range(10))
    test_images, test_labels = data.load_split("mnist", tiny_data_dir, train=False)
    assert test_images.shape == (64, 28, 28) and test_labels.shape == (64,)
    assert int(images.max()) > 200 and int(images.min()) == 0


def test_fashion_mnist_folder(tmp_path):
    root = make_tiny_mnist(tmp_path, n_train=20, n_test=10, dataset_folder="FashionMNIST")
    images, labels = data.load_split("fashion-mnist", root, train=False)
    assert images.shape == (10, 28, 28) and labels.shape == (10,)


def test_to_model_range():
    u = torch.tensor([[[0, 255], [127, 128]]], dtype=torch.uint8).expand(2, 2, 2)
    x = data.to_model_range(u)
    assert x.shape == (2, 1, 2, 2) and x.dtype == torch.float32
    assert float(x.min()) == -1.0 and float(x.max()) == 1.0
    assert data.to_model_range(u[:, None]).shape == (2, 1, 2, 2)


def test_unknown_dataset_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="unknown dataset"):
        data.load_split("cifar", tmp_path, train=True)


def test_missing_data_without_download_names_data_dir(tmp_path):
    with pytest.raises(DataError) as info:
        data.load_split("mnist", tmp_path / "empty", train=True, download=False)
    message = info.value.worded(flag_of)  # as the CLI shows it
    assert info.value.field == "data_dir" and "data dir" in str(info.value)
    assert "--data-dir" in message and "train-images-idx3-ubyte.gz" in message and "\n" not in message


def test_offline_download_fails_fast_with_one_line_naming_data_dir(tmp_path, monkeypatch):
    from torchvision import datasets

    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(DataError) as info:
        data.load_split("mnist", tmp_path / "nothing-here", train=True)
    message = info.value.worded(flag_of)
    assert info.value.field == "data_dir" and "--data-dir" in message and "\n" not in message
    # Nothing half-downloaded was left where the data would go.
    raw = tmp_path / "nothing-here" / "MNIST" / "raw"
    assert not raw.exists() or not any(raw.iterdir())


def test_corrupt_files_are_a_data_error(tmp_path):
    root = make_tiny_mnist(tmp_path, n_train=20, n_test=10)
    (root / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    with pytest.raises(DataError) as info:
        data.load_split("mnist", root, train=True, download=False)
    assert info.value.field == "data_dir" and "--data-dir" in info.value.worded(flag_of)
    assert "\n" not in str(info.value)


def test_unwritable_data_folder_is_a_data_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DataError, match="data dir") as info:
        data.load_split("mnist", blocker / "data", train=True)
    assert "--data-dir" in info.value.worded(flag_of)


def test_archives_put_in_raw_by_hand_load_offline(tmp_path, monkeypatch):
    """The missing-data message says to put the .gz files in MNIST/raw: doing so must work without a network."""
    import hashlib

    from torchvision import datasets

    raw = tmp_path / "MNIST" / "raw"
    write_idx(raw, *synthetic_digits(30, seed=3), train=True, gz=True)
    write_idx(raw, *synthetic_digits(10, seed=4), train=False, gz=True)
    resources = [(p.name, hashlib.md5(p.read_bytes()).hexdigest()) for p in sorted(raw.glob("*.gz"))]
    monkeypatch.setattr(datasets.MNIST, "resources", resources)
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    images, labels = data.load_split("mnist", tmp_path, train=True)
    assert images.shape == (30, 28, 28) and labels.shape == (30,)
    assert data.load_split("mnist", tmp_path, train=False)[0].shape == (10, 28, 28)
    assert not list(tmp_path.glob(".download-*"))
