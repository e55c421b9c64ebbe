"""Sample quality, measured: how well a checkpoint draws the digit it is asked for, and how well it denoises.

``evaluate`` judges a :class:`~tui_denoiser.core.inference.LoadedModel` with the MNIST classifier of
:mod:`tui_denoiser.core.classifier` (shipped as ``assets/mnist-classifier.pt``):

- **Conditional accuracy**: ``per_digit`` samples of each digit, drawn with the model's sampler; the
  share the classifier reads as the digit asked for, per digit and overall.
- **Frechet distance** between the classifier's penultimate features of the samples and of as many
  real test digits (class-balanced): the MNIST analogue of FID (lower is better). Its **floor** is the
  same distance between as many real *training* digits and the same test digits: what a perfect
  generator would score at this sample count (the statistic is biased upwards at small counts).
- **Diversity**: the mean pairwise feature distance between samples of the same digit, averaged over
  digits, divided by the same statistic on real test digits (1 = as varied as real digits; a model
  that draws the same 7 whatever the seed scores near 0). Read it beside the accuracy and the Frechet
  distance: shapeless blobs are "diverse" too, and score above 1.
- **Denoising PSNR** on real test digits at noise levels 0.1 .. 1.0 with one model call
  ``model(clean + sigma * n, sigma, label)``, beside the noisy input and the best Gaussian blur (blur
  sigma picked per level from a small grid on the same images). PSNR: clamp to [-1, 1], map to [0, 1],
  ``10 log10(1 / MSE)`` per image, averaged over images.

Samples are quantised to uint8 (what the app shows and saves) before the classifier sees them.
Everything is seeded, so a checkpoint, sampler and seed give the same report on the same machine.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch.nn import functional as F

from tui_denoiser.core.classifier import MnistClassifier, load_classifier
from tui_denoiser.core.data import to_model_range
from tui_denoiser.core.errors import ConfigError, UserError
from tui_denoiser.core.imaging import to_uint8
from tui_denoiser.core.sampling_policy import KEEP, resolve_sampling, within_budget

PSNR_LEVELS: tuple[float, ...] = tuple(t / 10 for t in range(1, 11))  # sigma = t/T, T = 10
BLUR_SIGMAS: tuple[float, ...] = (0.3, 0.5, 0.7, 0.9, 1.1, 1.4, 1.8, 2.3, 3.0)
MAX_PER_DIGIT = 10_000
MAX_PIXEL_PSNR_DB = 100.0  # a perfect reconstruction (MSE 0) counts as 100 dB


@dataclass
class EvalProgress:
    """Handed to ``callback``: ``stage`` is "sampling", "features" or "denoising"; ``done`` of ``total``."""

    stage: str
    done: int
    total: int


@dataclass
class PsnrRow:
    """Mean PSNR (dB) at one noise level: the noisy input, the best Gaussian blur and the model."""

    sigma: float
    noisy_db: float
    blur_db: float
    blur_sigma: float
    model_db: float


@dataclass
class EvalReport:
    """Everything ``evaluate`` measured; ``to_json()`` gives plain JSON types."""

    checkpoint: str
    epoch: int
    sampler: str
    steps: int
    guidance: float
    seed: int
    per_digit: int
    num_samples: int
    accuracy: float  # share of samples read as the asked digit
    per_digit_accuracy: list[float]  # index = digit
    frechet: float  # samples vs real test digits
    frechet_floor: float  # real training digits vs the same test digits, same count
    reference_count: int  # real digits on each side of the Frechet distances
    diversity: float  # within-digit spread of the samples / that of real test digits
    diversity_samples: float  # mean within-digit pairwise feature distance, samples
    diversity_real: float  # the same on real test digits
    psnr: list[PsnrRow] = field(default_factory=list)
    psnr_images: int = 0
    model_calls_per_sample: int = 0
    sampling_seconds: float = 0.0
    wall_seconds: float = 0.0
    classifier_accuracy: float | None = None  # the classifier's own test accuracy, from its file
    device: str = "cpu"
    guidance_interval: list[float] | None = None  # noise levels where guidance applied; None = all
    # Every judge (the classifier first, then the held-out ones), specks and ink: QualityScores.to_json()
    quality: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "EvalReport":
        values = dict(data)
        values["psnr"] = [PsnrRow(**row) for row in values.get("psnr") or []]
        return cls(**values)


# -- statistics ---------------------------------------------------------------------------------------

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


def psnr(images: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR (dB) of [-1, 1] images against ``clean``: clamp, map to [0, 1], ``10 log10(1/MSE)``."""
    a = (images.detach().float().clamp(-1, 1) + 1) / 2
    b = (clean.detach().float().clamp(-1, 1) + 1) / 2
    mse = (a - b).pow(2).flatten(1).mean(1)
    floor = 10 ** (-MAX_PIXEL_PSNR_DB / 10)
    return -10 * torch.log10(mse.clamp_min(floor))


def blur_kernel_size(sigma: float) -> int:
    """``2 ceil(3 sigma) + 1`` pixels, at most 27 (the reflect padding must stay inside a 28-pixel image)."""
    return min(2 * math.ceil(3 * sigma) + 1, 27)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of (B,1,H,W) images, equal to torchvision's ``gaussian_blur`` with a kernel of
    :func:`blur_kernel_size` pixels (same 1-D kernel, reflect padding), done as two 1-D convolutions:
    torchvision convolves with the full 2-D kernel, ten times the work at the larger sigmas."""
    size = blur_kernel_size(sigma)
    half = (size - 1) * 0.5
    x = torch.linspace(-half, half, steps=size, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma).pow(2))
    k = (k / k.sum()).to(images.device, images.dtype)
    pad = size // 2
    out = F.pad(images, (pad, pad, pad, pad), mode="reflect")
    out = F.conv2d(out, k.view(1, 1, 1, size))
    return F.conv2d(out, k.view(1, 1, size, 1))


# -- helpers ------------------------------------------------------------------------------------------

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


@torch.no_grad()
def classifier_outputs(classifier: MnistClassifier, images: torch.Tensor, batch_size: int = 500,
                       progress: Callable[[int, int], None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(features float64 (N, D), predicted labels (N,)) on the CPU for [-1, 1] float images."""
    device = next(classifier.parameters()).device
    feats, preds = [], []
    n = images.shape[0]
    for i in range(0, n, batch_size):
        x = images[i:i + batch_size].to(device, torch.float32)
        f = classifier.features(x)
        feats.append(f.to("cpu", torch.float64))
        preds.append(classifier.fc(f).argmax(1).cpu())
        if progress is not None:
            progress(min(i + batch_size, n), n)
    if not feats:
        return torch.zeros(0, classifier.feature_dim, dtype=torch.float64), torch.zeros(0, dtype=torch.long)
    return torch.cat(feats), torch.cat(preds)


def _quantise(images: torch.Tensor) -> torch.Tensor:
    """Float samples -> uint8 as the app shows them -> back to [-1, 1] (non-finite values become 0)."""
    clean = torch.nan_to_num(images.float(), nan=0.0, posinf=1.0, neginf=-1.0)
    return to_model_range(torch.from_numpy(to_uint8(clean)))


def _check_int(field: str, value: Any, lo: int, hi: int) -> None:
    """An integer setting in lo..hi, else a ConfigError on ``field`` (each front end names it its way)."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{{field}} must be an integer in {lo}..{hi}, got {value!r}", field=field, value=value)


# -- the evaluation -----------------------------------------------------------------------------------

def evaluate(loaded, classifier: MnistClassifier, test_images: torch.Tensor, test_labels: torch.Tensor,
             train_images: torch.Tensor, train_labels: torch.Tensor | None = None, *, per_digit: int = 100,
             sampler: str | None = None, steps: int | None = None, guidance: float | None = None,
             guidance_interval: Any = KEEP, seed: int = 0, batch_size: int = 500, psnr_images: int = 1000, psnr_levels: Sequence[float] = PSNR_LEVELS,
             callback: Callable[[EvalProgress], None] | None = None,
             judges: Sequence[Any] = (), max_calls: int | None = None) -> EvalReport:
    """Measure ``loaded`` (a :class:`LoadedModel`) with ``classifier``; see the module docstring.

    ``judges`` (:class:`~tui_denoiser.core.judges.Judge`, e.g. the held-out ones) score the same samples
    beside the classifier; the report's ``quality`` holds every judge, the speck rate and the ink ratio.
    ``max_calls``: start from the best measured setting within that many model calls per sample
    (:func:`~tui_denoiser.core.sampling_policy.within_budget`) instead of the model's own sampling.

    ``test_images``/``train_images`` are uint8 (N,28,28) real digits; ``train_labels`` (optional) makes
    the floor's training digits class-balanced too. The classifier is put in eval mode. Samples are
    drawn ``batch_size`` at a time, batch ``b`` with seed ``seed + b`` (so the same seed and batch size
    give the same samples); the PSNR noise is seeded from ``seed`` too. ``sampler`` .. ``guidance_interval``
    are what was asked for on top of the model's own sampling (see :func:`resolve_sampling`).
    """
    t_start = time.perf_counter()
    _check_int("per_digit", per_digit, 1, MAX_PER_DIGIT)
    _check_int("batch_size", batch_size, 1, 65_536)
    _check_int("psnr_images", psnr_images, 0, 1_000_000)
    _check_int("seed", seed, 0, 2**63 - 1)
    base = loaded.sampling if max_calls is None else within_budget(loaded.sampling, max_calls)
    sampling = resolve_sampling(base, sampler=sampler, steps=steps, guidance=guidance,
                                guidance_interval=guidance_interval)
    num_classes = int(loaded.model_config.num_classes)
    if num_classes != 10:
        raise UserError(f"evaluation judges the ten MNIST digits; this model has {num_classes} classes")
    if test_images.shape[0] < 2 or train_images.shape[0] < 2:
        raise UserError("evaluation needs at least two real test and two real training digits")
    classifier.eval()

    def report(stage: str, done: int, total: int) -> None:
        if callback is not None:
            callback(EvalProgress(stage, done, total))

    # 1. Samples: per_digit of each digit (labels 0..9 repeated, so every batch holds every digit).
    n = 10 * per_digit
    labels = torch.arange(10).repeat(per_digit)
    samples, calls = [], 0
    t_sample = time.perf_counter()
    report("sampling", 0, n)
    for b, start in enumerate(range(0, n, batch_size)):
        last = None
        for last in loaded.sample(labels[start:start + batch_size], sampling, seed=seed + b):
            pass
        assert last is not None
        samples.append(_quantise(last.images))
        calls = last.model_calls
        report("sampling", min(start + batch_size, n), n)
    sampling_seconds = time.perf_counter() - t_sample
    samples_t = torch.cat(samples)

    # 2. Classifier features of the samples and of class-balanced real digits (same count).
    test_labels = test_labels.cpu()
    ref_idx = balanced_indices(test_labels, per_digit, seed=seed)
    if train_labels is not None:
        floor_idx = balanced_indices(train_labels.cpu(), per_digit, seed=seed + 1)
    else:
        gen = torch.Generator().manual_seed(seed + 1)
        floor_idx = torch.randperm(train_images.shape[0], generator=gen)[:ref_idx.shape[0]]
    count = min(ref_idx.shape[0], floor_idx.shape[0])
    ref_idx, floor_idx = ref_idx[:count], floor_idx[:count]
    total_feat = n + 2 * count
    done = 0

    def feat_progress(offset: int):
        return lambda d, _t: report("features", offset + d, total_feat)

    sample_feats, preds = classifier_outputs(classifier, samples_t, batch_size, feat_progress(done))
    done += n
    ref_feats, ref_preds = classifier_outputs(classifier, to_model_range(test_images[ref_idx].cpu()), batch_size,
                                      feat_progress(done))
    done += count
    floor_feats, _ = classifier_outputs(classifier, to_model_range(train_images[floor_idx].cpu()), batch_size,
                                        feat_progress(done))

    correct = preds == labels
    per_digit_acc = [float(correct[labels == d].float().mean()) for d in range(10)]
    frechet = frechet_distance(sample_feats, ref_feats)
    frechet_floor = frechet_distance(floor_feats, ref_feats)
    spread_samples = within_class_spread(sample_feats, labels)
    spread_real = within_class_spread(ref_feats, test_labels[ref_idx])
    diversity = spread_samples / spread_real if spread_real > 0 else 0.0

    # 3. The held-out judges, specks and ink on the same samples and the same real digits.
    from tui_denoiser.core.judges import TUNING_JUDGE
    from tui_denoiser.core.quality import JudgeScore, score_samples

    samples_u8 = ((samples_t + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)[:, 0]
    quality = score_samples(samples_u8, labels, judges, test_images, test_labels, train_images, train_labels,
                            per_digit=per_digit, seed=seed, batch_size=batch_size)
    quality.judges.insert(0, JudgeScore(
        TUNING_JUDGE, False, float(correct.float().mean()), per_digit_acc, frechet, frechet_floor,
        float(diversity), real_accuracy=float((ref_preds == test_labels[ref_idx]).float().mean())))

    # 4. Denoising PSNR on real test digits, one model call per level.
    rows = denoising_psnr(loaded.model, test_images, test_labels, count=psnr_images, levels=psnr_levels, seed=seed,
                          batch_size=batch_size, progress=lambda d, t: report("denoising", d, t))

    classifier_acc = getattr(classifier, "test_accuracy", None)
    return EvalReport(
        checkpoint=str(getattr(loaded, "path", "")), epoch=int(getattr(loaded, "epoch", 0)),
        sampler=sampling.sampler, steps=sampling.steps, guidance=float(sampling.guidance), seed=int(seed),
        per_digit=int(per_digit), num_samples=n,
        guidance_interval=list(sampling.guidance_interval) if sampling.guidance_interval else None,
        accuracy=float(correct.float().mean()), per_digit_accuracy=per_digit_acc, frechet=frechet,
        frechet_floor=frechet_floor, reference_count=int(count), diversity=float(diversity),
        diversity_samples=float(spread_samples), diversity_real=float(spread_real), psnr=rows,
        psnr_images=min(psnr_images, int(test_images.shape[0])), model_calls_per_sample=int(calls),
        sampling_seconds=sampling_seconds, wall_seconds=time.perf_counter() - t_start,
        classifier_accuracy=None if classifier_acc is None else float(classifier_acc),
        device=str(next(loaded.model.parameters()).device), quality=quality.to_json())


@torch.no_grad()
def denoising_psnr(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, *, count: int = 1000,
                   levels: Sequence[float] = PSNR_LEVELS, seed: int = 0, batch_size: int = 500,
                   blur_sigmas: Sequence[float] = BLUR_SIGMAS,
                   progress: Callable[[int, int], None] | None = None) -> list[PsnrRow]:
    """Mean PSNR at each noise level of the noisy input, the best blur and one call of ``model``.

    Uses the first ``count`` of ``images`` (uint8) and a noise draw seeded with ``seed`` per level.
    ``model`` must be in eval mode.
    """
    if count <= 0 or not levels:
        return []
    if model.training:
        raise RuntimeError("denoising_psnr() needs a model in eval mode")
    device = next(model.parameters()).device
    clean_all = to_model_range(images[:count].cpu())
    labels_all = labels[:count].cpu().long()
    m = clean_all.shape[0]
    rows: list[PsnrRow] = []
    for i, sigma in enumerate(levels):
        gen = torch.Generator().manual_seed(int(seed) * 1000 + i)
        noisy_all = clean_all + float(sigma) * torch.randn(clean_all.shape, generator=gen)
        noisy_db = float(psnr(noisy_all, clean_all).mean())
        blur_best, blur_sigma = -math.inf, 0.0
        for bs in blur_sigmas:
            db = float(psnr(gaussian_blur(noisy_all, bs), clean_all).mean())
            if db > blur_best:
                blur_best, blur_sigma = db, float(bs)
        model_db = []
        level = torch.full((1, 1, 1, 1), float(sigma), device=device)
        with torch.inference_mode():
            for start in range(0, m, batch_size):
                noisy = noisy_all[start:start + batch_size].to(device)
                pred = model(noisy, level, labels_all[start:start + batch_size].to(device)).float().cpu()
                model_db.append(psnr(torch.nan_to_num(pred), clean_all[start:start + batch_size]))
        rows.append(PsnrRow(float(sigma), noisy_db, blur_best, blur_sigma, float(torch.cat(model_db).mean())))
        if progress is not None:
            progress(i + 1, len(levels))
    return rows


def run_eval(checkpoint_path: str | Path, data_dir: str | Path | None = None, *,
             classifier_path: str | Path | None = None, per_digit: int = 100, sampler: str | None = None,
             steps: int | None = None, guidance: float | None = None, guidance_interval: Any = KEEP, seed: int = 0,
             device: str = "cpu", psnr_images: int = 1000, callback: Callable[[EvalProgress], None] | None = None,
             download: bool = True, held_out: bool = True, max_calls: int | None = None) -> EvalReport:
    """Load the checkpoint, the classifier and MNIST (``data_dir``, default the cache), then :func:`evaluate`.

    ``held_out``: also score on every shipped held-out judge (``core/judges.py``) that is installed.

    ``download=False`` never touches the network (missing data is a DataError). Bad input raises one-line :class:`UserError` subclasses (CheckpointError, DataError, ConfigError).
    """
    from tui_denoiser.core import paths
    from tui_denoiser.core.data import load_split
    from tui_denoiser.core.devices import pick_device
    from tui_denoiser.core.inference import load_model
    from tui_denoiser.core.judges import shipped_judges

    if device not in ("auto", "cpu", "cuda", "mps"):
        raise ConfigError(f"device must be one of auto, cpu, cuda, mps, got {device!r}")
    dev = pick_device(device)
    _check_int("per_digit", per_digit, 1, MAX_PER_DIGIT)
    loaded = load_model(checkpoint_path, dev)
    if loaded.train_config.dataset != "mnist":
        raise UserError(f"{loaded.path} was trained on {loaded.train_config.dataset}; eval judges MNIST digits only")
    classifier = load_classifier(classifier_path if classifier_path is not None
                                 else paths.require_shipped(paths.CLASSIFIER_PATH), dev)
    root = Path(data_dir).expanduser() if data_dir is not None else paths.default_data_dir()
    test_x, test_y = load_split("mnist", root, train=False, download=download)
    train_x, train_y = load_split("mnist", root, train=True, download=download)
    return evaluate(loaded, classifier, test_x, test_y, train_x, train_y, per_digit=per_digit, sampler=sampler,
                    steps=steps, guidance=guidance, guidance_interval=guidance_interval, seed=seed,
                    psnr_images=psnr_images, callback=callback,
                    judges=shipped_judges(classifier, dev)[1:] if held_out else (), max_calls=max_calls)


# -- text ---------------------------------------------------------------------------------------------

def format_report(report: EvalReport) -> str:
    """The report as a plain-text table (no markup), for the terminal or a log."""
    r = report
    lines = [
        f"Sample quality of {r.checkpoint} (epoch {r.epoch})",
        f"  sampler {r.sampler}, {r.steps} steps, guidance {r.guidance:g}"
        f"{' at noise %g..%g' % tuple(r.guidance_interval) if r.guidance_interval and r.guidance != 1 else ''}, "
        f"{r.model_calls_per_sample} model calls per sample",
        f"  {r.num_samples} samples ({r.per_digit} per digit), seed {r.seed}, {r.device}; "
        f"sampling {r.sampling_seconds:.1f} s, total {r.wall_seconds:.1f} s",
        "",
        f"  Conditional accuracy  {100 * r.accuracy:6.2f} %   share the classifier reads as the asked digit",
    ]
    if r.classifier_accuracy is not None:
        lines.append(f"                                   (classifier: {100 * r.classifier_accuracy:.2f} % on real "
                     f"test digits)")
    lines += [
        "    digit     " + " ".join(f"{d:>5d}" for d in range(10)),
        "    accuracy  " + " ".join(f"{100 * a:5.1f}" for a in r.per_digit_accuracy),
        f"  Frechet distance      {r.frechet:8.3f}   classifier features vs {r.reference_count} real test",
        f"                                   digits; lower is better (floor {r.frechet_floor:.3f})",
        f"  Diversity             {r.diversity:8.3f}   within-digit feature spread / real digits'",
        f"                                   ({r.diversity_samples:.3f} / {r.diversity_real:.3f}); 1 = as varied",
    ]
    if r.quality:
        from tui_denoiser.core.quality import QualityScores, format_quality

        lines += [""] + format_quality(QualityScores.from_json(r.quality))
    if r.psnr:
        lines += ["", f"  Denoising PSNR (dB) on {r.psnr_images} real test digits, one model call:",
                  f"    {'sigma':>5}  {'noisy':>6}  {'blur':>6}  {'(blur σ)':>8}  {'model':>6}  {'gain':>6}"]
        for row in r.psnr:
            lines.append(f"    {row.sigma:5.2f}  {row.noisy_db:6.2f}  {row.blur_db:6.2f}  {row.blur_sigma:8.1f}  "
                         f"{row.model_db:6.2f}  {row.model_db - max(row.blur_db, row.noisy_db):+6.2f}")
        lines.append("    gain = model minus the better of noisy input and blur")
    return "\n".join(lines)
