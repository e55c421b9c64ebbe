"""The MNIST classifier that judges samples: shapes, augmentation, its file format, training, and the shipped asset."""

from __future__ import annotations

import pytest
import torch

from tui_denoiser.core.quality import classifier as clf
from tui_denoiser.core.checkpoint import save_checkpoint
from tui_denoiser.core.data import load_split, to_model_range
from tui_denoiser.core.errors import CheckpointError, ConfigError
from tui_denoiser.core.paths import CLASSIFIER_PATH

SMALL = {"channels": [4, 8, 8], "feature_dim": 16}


def test_features_and_logits_shapes():
    model = clf.MnistClassifier().eval()
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    assert model.features(x).shape == (3, 128) and model.feature_dim == 128
    assert model(x).shape == (3, 10)
    assert model.predict(x, batch_size=2).shape == (3,)


def test_config_is_checked():
    with pytest.raises(ConfigError, match="channels"):
        clf.MnistClassifier({"channels": [4, 8]})
    with pytest.raises(ConfigError, match="no field"):
        clf.MnistClassifier({"colour": 3})


def test_augment_keeps_shape_range_and_is_seeded():
    x = to_model_range((torch.rand(8, 28, 28) * 255).to(torch.uint8))
    a = clf.augment(x, torch.Generator().manual_seed(0))
    b = clf.augment(x, torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b)
    assert a.min() >= -1 - 1e-5 and a.max() <= 1 + 1e-5
    # A pure shift moves a single lit pixel by at most two pixels, and the border fills with background.
    dot = torch.full((1, 1, 28, 28), -1.0)
    dot[0, 0, 14, 14] = 1.0
    shifted = clf.augment(dot, torch.Generator().manual_seed(3), max_degrees=0, max_scale=0)
    ys, xs = torch.nonzero(shifted[0, 0] > 0, as_tuple=True)
    assert len(ys) == 1 and abs(int(ys[0]) - 14) <= 2 and abs(int(xs[0]) - 14) <= 2
    assert float(shifted.min()) == -1.0


def test_round_trip_and_refusals(tmp_path):
    model = clf.MnistClassifier(SMALL).eval()
    path = clf.save_classifier(tmp_path / "c.pt", model, test_accuracy=0.875)
    assert not list(tmp_path.glob(".*.tmp"))
    loaded = clf.load_classifier(path)
    assert not loaded.training and loaded.test_accuracy == 0.875 and loaded.config == model.config
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    assert torch.allclose(loaded(x), model(x))

    def refused(p, match):
        with pytest.raises(CheckpointError, match=match) as info:
            clf.load_classifier(p)
        assert "\n" not in str(info.value)

    refused(tmp_path / "missing.pt", "not found")
    refused(tmp_path, "folder")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": {}}, foreign)
    refused(foreign, "not a denoiser-tui classifier")
    denoiser = save_checkpoint(tmp_path / "denoiser.pt", {"model_config": {}, "train_config": {}, "model": {}})
    refused(denoiser, "denoiser checkpoint")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:1000])
    refused(truncated, "truncated or corrupt")
    pickled = tmp_path / "pickled.pt"
    torch.save({"format": clf.FORMAT, "version": 1, "config": SMALL, "weights": {}, "x": object()}, pickled)
    refused(pickled, "could run code")
    newer = tmp_path / "newer.pt"
    torch.save({"format": clf.FORMAT, "version": 99, "config": SMALL, "weights": {}}, newer)
    refused(newer, "newer")
    wrong = tmp_path / "wrong.pt"
    torch.save({"format": clf.FORMAT, "version": 1, "config": {"channels": [8, 8, 8], "feature_dim": 16},
                "weights": model.state_dict()}, wrong)
    refused(wrong, "do not fit")


def test_train_classifier_on_tiny_data(tiny_data_dir, tmp_path):
    events = []
    out = tmp_path / "tiny-classifier.pt"
    result = clf.train_classifier(tiny_data_dir, out, epochs=2, seed=0, callback=events.append, batch_size=64,
                                  config=SMALL)
    assert 0 <= result["test_accuracy"] <= 1 and result["path"] == str(out)
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2] and epochs[-1]["test_accuracy"] == result["test_accuracy"]
    loaded = clf.load_classifier(out)
    assert loaded.test_accuracy == pytest.approx(result["test_accuracy"])
    test_x, test_y = load_split("mnist", tiny_data_dir, train=False)
    assert clf.accuracy(loaded, test_x, test_y) == pytest.approx(result["test_accuracy"])
    with pytest.raises(ConfigError, match="epochs"):
        clf.train_classifier(tiny_data_dir, None, epochs=0)


def test_command_line_entry_point(tiny_data_dir, tmp_path, capsys):
    out = tmp_path / "cli.pt"
    assert clf._main(["--data-dir", str(tiny_data_dir), "--out", str(out), "--epochs", "1", "--seed", "1"]) == 0
    assert out.is_file() and "test accuracy" in capsys.readouterr().out
    assert clf._main(["--data-dir", str(tmp_path / "nothing"), "--out", str(out), "--epochs", "1",
                      "--no-download"]) == 2


@pytest.mark.real_data
def test_shipped_classifier_reads_real_mnist(real_mnist_extracted):
    assert CLASSIFIER_PATH.is_file(), f"{CLASSIFIER_PATH} is missing: rebuild it (see assets/README.md)"
    assert CLASSIFIER_PATH.stat().st_size < 10 * 2**20
    model = clf.load_classifier(CLASSIFIER_PATH)
    test_x, test_y = load_split("mnist", real_mnist_extracted, train=False, download=False)
    acc = clf.accuracy(model, test_x, test_y)
    assert acc >= 0.99
    assert model.test_accuracy == pytest.approx(acc, abs=1e-3)
