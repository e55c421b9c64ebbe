"""Sample-quality evaluation: the statistics against closed forms, and a whole run on tiny data."""

from __future__ import annotations

import json
import math

import pytest
import torch

from tui_denoiser.core.quality import denoising as dn
from tui_denoiser.core.quality import evaluate as evl
from tui_denoiser.core.quality import stats
from tui_denoiser.core.inference import load_model
from tui_denoiser.core.quality.classifier import MnistClassifier
from tui_denoiser.core.config import ModelConfig, TrainConfig
from tui_denoiser.core.data import load_split, to_model_range
from tui_denoiser.core.errors import CheckpointError, ConfigError, UserError
from tui_denoiser.core.training import Trainer


# -- statistics ---------------------------------------------------------------------------------------

def test_frechet_distance_of_a_set_with_itself_is_zero():
    feats = torch.randn(500, 16, generator=torch.Generator().manual_seed(0)) * 3 + 1
    assert stats.frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_matches_the_closed_form_for_gaussians():
    # N(mu1, diag(a)) vs N(mu2, diag(b)): |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2.
    d = 6
    mu1, mu2 = torch.zeros(d, dtype=torch.float64), torch.arange(d, dtype=torch.float64) / 2
    a = torch.linspace(0.5, 3.0, d, dtype=torch.float64)
    b = torch.linspace(2.0, 0.25, d, dtype=torch.float64)
    expected = float((mu1 - mu2).pow(2).sum() + (a.sqrt() - b.sqrt()).pow(2).sum())
    got = stats.frechet_distance_from_stats(mu1, torch.diag(a), mu2, torch.diag(b))
    assert got == pytest.approx(expected, rel=1e-9)
    # A rotated, non-diagonal pair: rotating both covariances changes nothing.
    q, _ = torch.linalg.qr(torch.randn(d, d, dtype=torch.float64, generator=torch.Generator().manual_seed(1)))
    rotated = stats.frechet_distance_from_stats(q @ mu1, q @ torch.diag(a) @ q.T, q @ mu2, q @ torch.diag(b) @ q.T)
    assert rotated == pytest.approx(expected, rel=1e-8)
    # And from samples: a shift of 2 in every one of 4 dimensions of unit Gaussians gives 16.
    gen = torch.Generator().manual_seed(2)
    x, y = torch.randn(20_000, 4, generator=gen), torch.randn(20_000, 4, generator=gen) + 2
    assert stats.frechet_distance(x, y) == pytest.approx(16.0, rel=0.02)


def test_diversity_of_identical_samples_is_zero_and_of_real_ones_positive():
    same = torch.ones(30, 8)
    labels = torch.arange(10).repeat(3)
    assert stats.within_class_spread(same, labels) == pytest.approx(0.0, abs=1e-12)
    spread = stats.within_class_spread(torch.randn(30, 8, generator=torch.Generator().manual_seed(0)), labels)
    assert spread > 1.0
    assert stats.mean_pairwise_distance(torch.tensor([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)


def test_psnr_convention_and_a_perfect_denoiser():
    clean = torch.full((2, 1, 28, 28), -1.0)
    assert dn.psnr(clean, clean).tolist() == [dn.MAX_PIXEL_PSNR_DB] * 2
    # A constant error of 0.2 in [-1, 1] is 0.1 in [0, 1]: MSE 0.01, 20 dB.
    assert dn.psnr(clean + 0.2, clean)[0].item() == pytest.approx(20.0, abs=1e-4)

    class Oracle(torch.nn.Module):
        """Knows the clean images: returns them whatever the noise."""

        def __init__(self, clean):
            super().__init__()
            self.clean = clean
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, noisy, level, labels):
            return self.clean[: noisy.shape[0]]

    gen = torch.Generator().manual_seed(0)
    images = (torch.rand(40, 28, 28, generator=gen) * 255).to(torch.uint8)
    labels = torch.arange(40) % 10
    oracle = Oracle(to_model_range(images)).eval()
    rows = dn.denoising_psnr(oracle, images, labels, count=40, levels=(0.1, 0.5), batch_size=64)
    assert [r.sigma for r in rows] == [0.1, 0.5]
    for r in rows:
        assert r.model_db > 90
        assert r.noisy_db < r.model_db
    assert rows[0].noisy_db > rows[1].noisy_db


@pytest.mark.real_data
def test_noisy_psnr_at_sigma_0_1_matches_the_original_projects_figure(real_mnist_extracted):
    images, labels = load_split("mnist", real_mnist_extracted, train=False, download=False)

    class Identity(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, noisy, level, labels):
            return noisy

    rows = dn.denoising_psnr(Identity().eval(), images, labels, count=1000, levels=(0.1,))
    assert rows[0].noisy_db == pytest.approx(28.6, abs=0.2)
    assert rows[0].model_db == pytest.approx(rows[0].noisy_db, abs=1e-6)
    assert rows[0].blur_db > 20


def test_balanced_indices_take_each_class_equally_and_top_up():
    labels = torch.tensor([0] * 50 + [1] * 50 + [2] * 3)
    idx = stats.balanced_indices(labels, 5, seed=0, num_classes=3)
    assert len(idx) == 15 and len(set(idx.tolist())) == 15
    counts = torch.bincount(labels[idx], minlength=3).tolist()
    assert counts[2] == 3 and sum(counts) == 15
    assert stats.balanced_indices(labels, 5, seed=0, num_classes=3).tolist() == idx.tolist()


# -- a whole run on tiny data -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_checkpoint(tiny_data_dir, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("eval-run")
    cfg = TrainConfig(epochs=1, batch_size=64, max_steps=3, device="cpu", preview=False)
    event = Trainer(ModelConfig(channels=(8, 16, 16), embed_dim=8), cfg, run_dir=run_dir, data_dir=tiny_data_dir,
                    write_metrics=False).run()
    assert event.kind == "finished", event
    return run_dir / "last.pt"


def test_evaluate_runs_end_to_end_on_tiny_data(tiny_checkpoint, tiny_data_dir):
    loaded = load_model(tiny_checkpoint)
    classifier = MnistClassifier({"channels": [4, 8, 8], "feature_dim": 16}).eval()
    test_x, test_y = load_split("mnist", tiny_data_dir, train=False)
    train_x, train_y = load_split("mnist", tiny_data_dir, train=True)
    progress = []
    report = evl.evaluate(loaded, classifier, test_x, test_y, train_x, train_y, per_digit=4, seed=3,
                          batch_size=16, psnr_images=32, callback=progress.append)
    assert report.num_samples == 40 and report.per_digit == 4
    assert report.sampler == "seed" and report.steps == 10 and report.model_calls_per_sample == 10
    assert 0 <= report.accuracy <= 1 and len(report.per_digit_accuracy) == 10
    assert report.reference_count == 40
    assert math.isfinite(report.frechet) and report.frechet >= 0 and report.frechet_floor >= 0
    assert report.diversity >= 0 and report.diversity_real > 0
    assert [round(r.sigma, 2) for r in report.psnr] == [round(0.1 * t, 2) for t in range(1, 11)]
    assert all(r.blur_sigma in dn.BLUR_SIGMAS for r in report.psnr)
    assert report.psnr_images == 32
    assert {p.stage for p in progress} == {"sampling", "features", "denoising"}
    assert progress[-1].done == progress[-1].total
    # JSON round trip and plain-text table.
    data = json.loads(json.dumps(report.to_json()))
    assert evl.EvalReport.from_json(data) == report
    text = evl.format_report(report)
    assert "Conditional accuracy" in text and "Frechet" in text and "PSNR" in text
    assert "[" not in text.splitlines()[4]  # no rich markup
    # Same seed, same numbers; the heun sampler counts its model calls.
    again = evl.evaluate(loaded, classifier, test_x, test_y, train_x, train_y, per_digit=4, seed=3,
                         batch_size=16, psnr_images=0)
    assert again.accuracy == report.accuracy and again.frechet == pytest.approx(report.frechet)
    heun = evl.evaluate(loaded, classifier, test_x, test_y, train_x, per_digit=1, sampler="heun", steps=3,
                        psnr_images=0)
    assert heun.model_calls_per_sample == 5 and heun.psnr == []


def test_a_sampler_that_ignores_the_seed_scores_low_diversity(tiny_checkpoint, tiny_data_dir):
    loaded = load_model(tiny_checkpoint)
    classifier = MnistClassifier({"channels": [4, 8, 8], "feature_dim": 16}).eval()
    test_x, test_y = load_split("mnist", tiny_data_dir, train=False)
    train_x, _ = load_split("mnist", tiny_data_dir, train=True)
    real_sample = loaded.sample

    def same_noise(labels, config=None, **kw):  # every sample starts from the same noise: one drawing per digit
        kw["seed"] = 0
        steps = list(real_sample(labels[:1].repeat(len(labels)), config, **kw))
        for s in steps:
            s.images = s.images[:1].repeat(len(labels), 1, 1, 1)
        return iter(steps)

    loaded.sample = same_noise
    report = evl.evaluate(loaded, classifier, test_x, test_y, train_x, per_digit=4, batch_size=40, psnr_images=0)
    assert report.diversity_samples == pytest.approx(0.0, abs=1e-9)
    assert report.diversity < 0.01


def test_evaluate_refuses_bad_arguments(tiny_checkpoint, tiny_data_dir):
    loaded = load_model(tiny_checkpoint)
    classifier = MnistClassifier({"channels": [4, 8, 8], "feature_dim": 16})
    x, y = load_split("mnist", tiny_data_dir, train=False)
    with pytest.raises(ConfigError, match="per digit must be") as info:
        evl.evaluate(loaded, classifier, x, y, x, per_digit=0)
    assert info.value.field == "per_digit"  # the core names the setting; the CLI words it as --per-digit
    with pytest.raises(ConfigError, match="sampler"):
        evl.evaluate(loaded, classifier, x, y, x, per_digit=1, sampler="magic")


def test_run_eval_loads_everything_and_names_a_missing_classifier(tiny_checkpoint, tiny_data_dir, tmp_path):
    from tui_denoiser.core.quality.classifier import save_classifier

    with pytest.raises(CheckpointError, match="classifier not found") as info:
        evl.run_eval(tiny_checkpoint, tiny_data_dir, classifier_path=tmp_path / "none.pt", per_digit=1)
    assert "\n" not in str(info.value)
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        evl.run_eval(tmp_path / "missing.pt", tiny_data_dir, classifier_path=tmp_path / "none.pt")
    cls_path = save_classifier(tmp_path / "cls.pt", MnistClassifier({"channels": [4, 8, 8], "feature_dim": 16}),
                               test_accuracy=0.5)
    report = evl.run_eval(tiny_checkpoint, tiny_data_dir, classifier_path=cls_path, per_digit=2, steps=2,
                          psnr_images=16)
    assert report.num_samples == 20 and report.classifier_accuracy == 0.5 and report.steps == 2
    assert isinstance(report, evl.EvalReport)
    with pytest.raises(UserError, match="data dir") as info:
        evl.run_eval(tiny_checkpoint, tmp_path / "no-data", classifier_path=cls_path, per_digit=1, download=False)
    assert info.value.field == "data_dir"


def test_separable_blur_equals_torchvisions_gaussian_blur():
    from torchvision.transforms.functional import gaussian_blur as tv_blur

    x = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    for sigma in dn.BLUR_SIGMAS:
        k = dn.blur_kernel_size(sigma)
        assert torch.allclose(dn.gaussian_blur(x, sigma), tv_blur(x, [k, k], [sigma, sigma]), atol=1e-5)


def test_evaluate_reports_every_judge_the_speck_rate_and_the_ink_ratio(tiny_checkpoint, tiny_data_dir):
    from tui_denoiser.core.quality import artefacts
    from tui_denoiser.core.quality.judges import AutoencoderJudge, Judge, MlpJudge
    from tui_denoiser.core.quality.scores import QualityScores

    loaded = load_model(tiny_checkpoint)
    torch.manual_seed(0)
    classifier = MnistClassifier({"channels": [4, 8, 8], "feature_dim": 16}).eval()
    judges = [Judge("mlp", MlpJudge().eval(), held_out=True), Judge("autoencoder", AutoencoderJudge().eval(),
                                                                    held_out=True)]
    test_x, test_y = load_split("mnist", tiny_data_dir, train=False)
    train_x, train_y = load_split("mnist", tiny_data_dir, train=True)
    real_sample = loaded.sample

    def one_dot(labels, config=None, **kw):  # every sample: blank but for one full pixel, a speck
        steps = list(real_sample(labels, config, **kw))
        dot = torch.full_like(steps[-1].images, -1.0)
        dot[:, :, 3, 3] = 1.0
        steps[-1].images = dot
        return iter(steps)

    loaded.sample = one_dot
    report = evl.evaluate(loaded, classifier, test_x, test_y, train_x, train_y, per_digit=3, psnr_images=0,
                          judges=judges)
    q = QualityScores.from_json(json.loads(json.dumps(report.to_json()))["quality"])
    assert [j.judge for j in q.judges] == ["classifier", "mlp", "autoencoder"]
    assert [j.held_out for j in q.judges] == [False, True, True]
    first = q.judges[0]
    assert (first.accuracy, first.frechet, first.frechet_floor, first.diversity) == \
        (report.accuracy, report.frechet, report.frechet_floor, report.diversity)
    assert q.judges[1].accuracy is not None and q.judges[2].accuracy is None
    for j in q.judges:
        assert j.diversity == pytest.approx(0.0, abs=1e-9) and j.frechet > 0 and j.frechet_floor > 0
    assert q.speck_rate == 1.0
    assert q.speck_rate_real == pytest.approx(artefacts.speck_rate(test_x))
    assert q.ink_ratio == pytest.approx(1.0 / artefacts.mean_ink(test_x, test_y), rel=1e-6)
    text = evl.format_report(report)
    for word in ("classifier", "mlp", "autoencoder", "Specks", "Ink", "held out"):
        assert word in text
    # Every line fits 80 columns but the header, which names the checkpoint's path (as long as it is).
    assert max(len(line) for line in text.splitlines()[1:]) <= 80, text
