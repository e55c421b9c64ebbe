"""Held-out judges: their files, a tiny training run, and scoring samples on several judges at once."""

from __future__ import annotations

import pytest
import torch

from tui_denoiser.core.quality import judges as jd
from tui_denoiser.core.checkpoint import atomic_save
from tui_denoiser.core.quality.classifier import MnistClassifier
from tui_denoiser.core.data import load_split
from tui_denoiser.core.errors import CheckpointError, ConfigError
from tui_denoiser.core.quality.scores import QualityScores, score_samples


@pytest.mark.parametrize("kind", jd.KINDS)
def test_a_judge_file_round_trips_and_gives_the_same_features(tmp_path, kind):
    torch.manual_seed(0)
    net = jd._ARCHS[kind]().eval()
    path = jd.save_judge(tmp_path / f"{kind}.pt", kind, net, test_accuracy=0.9, frechet_floor=0.25)
    judge = jd.load_judge(path)
    assert judge.name == kind and judge.held_out and judge.stored_floor == pytest.approx(0.25)
    x = torch.rand(7, 1, 28, 28) * 2 - 1
    feats, preds = judge.outputs(x, batch_size=3)
    assert feats.shape == (7, net.feature_dim) and feats.dtype == torch.float64
    assert torch.allclose(feats, net.features(x).double(), atol=1e-6)
    assert (preds is None) == (kind == "autoencoder")


def test_a_foreign_or_broken_judge_file_is_one_line(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        jd.load_judge(tmp_path / "missing.pt")
    atomic_save(tmp_path / "other.pt", {"format": "denoiser-tui-classifier", "version": 1})
    with pytest.raises(CheckpointError, match="not a denoiser-tui judge"):
        jd.load_judge(tmp_path / "other.pt")
    atomic_save(tmp_path / "kind.pt", {"format": jd.FORMAT, "version": 1, "kind": "vae", "weights": {}})
    with pytest.raises(CheckpointError, match="unknown judge kind"):
        jd.load_judge(tmp_path / "kind.pt")
    wrong = {k: v[:1] for k, v in jd.MlpJudge().state_dict().items()}
    atomic_save(tmp_path / "shape.pt", {"format": jd.FORMAT, "version": 1, "kind": "mlp", "config": {},
                                        "weights": wrong})
    with pytest.raises(CheckpointError, match="do not fit"):
        jd.load_judge(tmp_path / "shape.pt")


def test_train_judge_on_tiny_data_writes_a_loadable_file_with_its_floor(tiny_data_dir, tmp_path):
    with pytest.raises(ConfigError):
        jd.train_judge("resnet", tiny_data_dir, None)
    result = jd.train_judge("autoencoder", tiny_data_dir, tmp_path / "ae.pt", epochs=1, download=False)
    judge = jd.load_judge(result["path"])
    assert judge.test_accuracy is None and not judge.reads_digits
    assert judge.stored_floor == pytest.approx(result["frechet_floor"]) and result["frechet_floor"] > 0


def test_the_shipped_judges_load_and_are_held_out():
    judges = jd.shipped_judges(MnistClassifier().eval())
    names = [j.name for j in judges]
    assert names[0] == jd.TUNING_JUDGE and not judges[0].held_out
    assert set(names[1:]) == set(jd.KINDS), "a shipped judge file is missing from tui_denoiser/assets/"
    for j in judges[1:]:
        assert j.held_out and j.stored_floor is not None and j.stored_floor > 0
        assert sum(p.numel() for p in j.net.parameters()) * 4 < 5 * 2**20


def test_score_samples_of_real_digits_sits_at_the_floor_and_a_blank_set_far_from_it(tiny_data_dir):
    test_x, test_y = load_split("mnist", tiny_data_dir, train=False, download=False)
    train_x, train_y = load_split("mnist", tiny_data_dir, train=True, download=False)
    torch.manual_seed(0)
    judges = [jd.classifier_judge(MnistClassifier().eval()), jd.Judge("autoencoder", jd.AutoencoderJudge().eval(),
                                                                     held_out=True)]
    same = score_samples(test_x, test_y, judges, test_x, test_y, train_x, train_y, per_digit=6)
    assert same.ink_ratio == pytest.approx(1.0)
    assert same.speck_ratio == pytest.approx(1.0) or same.speck_rate_real == 0
    for score in same.judges:
        assert score.diversity > 0.5
    assert same.judges[0].accuracy == pytest.approx(same.judges[0].real_accuracy, abs=0.2)
    assert same.judges[1].accuracy is None
    blank = torch.zeros_like(test_x)
    empty = score_samples(blank, test_y, judges, test_x, test_y, train_x, train_y, per_digit=6)
    assert empty.ink_ratio == 0.0
    for got, real in zip(empty.judges, same.judges):
        assert got.diversity == pytest.approx(0.0, abs=1e-9)
        assert got.frechet > real.frechet
    assert QualityScores.from_json(empty.to_json()).to_json() == empty.to_json()
