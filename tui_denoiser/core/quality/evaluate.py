"""Sample quality, measured: how well a checkpoint draws the digit it is asked for, and how well it denoises.

``evaluate`` judges a :class:`~tui_denoiser.core.inference.LoadedModel` with the MNIST classifier of
:mod:`tui_denoiser.core.quality.classifier` (shipped as ``assets/mnist-classifier.pt``):

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
- **Denoising PSNR** on real test digits, one model call per noise level, beside the noisy input and
  the best Gaussian blur (:mod:`tui_denoiser.core.quality.denoising`).
- **Every judge** (the classifier first, then the held-out ones of :mod:`~tui_denoiser.core.quality.judges`),
  the speck rate and the ink ratio (:mod:`~tui_denoiser.core.quality.scores`).

Samples are quantised to uint8 (what the app shows and saves) before the classifier sees them.
Everything is seeded, so a checkpoint, sampler and seed give the same report on the same machine.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from tui_denoiser.core.errors import ConfigError, UserError
from tui_denoiser.core.quality.classifier import MnistClassifier, load_classifier
from tui_denoiser.core.quality.denoising import PSNR_LEVELS, PsnrRow, denoising_psnr
from tui_denoiser.core.quality.judges import classifier_judge
from tui_denoiser.core.quality.scores import QualityScores, format_quality, read_judge, score_samples
from tui_denoiser.core.quality.stats import quantise_uint8, reference_indices
from tui_denoiser.core.sampling_policy import KEEP, resolve_sampling, within_budget

MAX_PER_DIGIT = 10_000


@dataclass
class EvalProgress:
    """Handed to ``callback``: ``stage`` is "sampling", "features" or "denoising"; ``done`` of ``total``."""

    stage: str
    done: int
    total: int


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
    guide: str | None = None  # autoguidance: the guide checkpoint; None = the null label (CFG)
    # Every judge (the classifier first, then the held-out ones), specks and ink: QualityScores.to_json()
    quality: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "EvalReport":
        values = dict(data)
        values["psnr"] = [PsnrRow(**row) for row in values.get("psnr") or []]
        return cls(**values)


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

    ``judges`` (:class:`~tui_denoiser.core.quality.judges.Judge`, e.g. the held-out ones) score the same samples
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
    base = (loaded.sampling if max_calls is None
            else within_budget(loaded.sampling, max_calls, one_call_guidance=loaded.one_call_guidance))
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
        samples.append(quantise_uint8(last.images))  # uint8, as the app shows and saves them
        calls = last.model_calls
        report("sampling", min(start + batch_size, n), n)
    sampling_seconds = time.perf_counter() - t_sample
    samples_u8 = torch.cat(samples)

    # 2. The classifier on the samples and on class-balanced real digits (the same count on each side).
    test_labels = test_labels.cpu()
    ref_idx, floor_idx = reference_indices(test_labels, train_labels, int(train_images.shape[0]), per_digit, seed)
    count = int(ref_idx.shape[0])
    tuning = read_judge(classifier_judge(classifier), samples_u8, labels, test_images[ref_idx].cpu(),
                        test_labels[ref_idx], train_images[floor_idx].cpu(), batch_size,
                        progress=lambda done, total: report("features", done, total))
    score = tuning.score

    # 3. The held-out judges, specks and ink on the same samples and the same real digits.
    quality = score_samples(samples_u8, labels, judges, test_images, test_labels, train_images, train_labels,
                            per_digit=per_digit, seed=seed, batch_size=batch_size)
    quality.judges.insert(0, score)

    # 4. Denoising PSNR on real test digits, one model call per level.
    rows = denoising_psnr(loaded.model, test_images, test_labels, count=psnr_images, levels=psnr_levels, seed=seed,
                          batch_size=batch_size, progress=lambda d, t: report("denoising", d, t))

    classifier_acc = getattr(classifier, "test_accuracy", None)
    return EvalReport(
        checkpoint=str(getattr(loaded, "path", "")), epoch=int(getattr(loaded, "epoch", 0)),
        sampler=sampling.sampler, steps=sampling.steps, guidance=float(sampling.guidance), seed=int(seed),
        per_digit=int(per_digit), num_samples=n,
        guidance_interval=list(sampling.guidance_interval) if sampling.guidance_interval else None,
        guide=str(loaded.guide_path) if getattr(loaded, "guide_path", None) else None,
        accuracy=float(score.accuracy), per_digit_accuracy=list(score.per_digit_accuracy), frechet=score.frechet,
        frechet_floor=score.frechet_floor, reference_count=count, diversity=score.diversity,
        diversity_samples=tuning.spread_samples, diversity_real=tuning.spread_real, psnr=rows,
        psnr_images=min(psnr_images, int(test_images.shape[0])), model_calls_per_sample=int(calls),
        sampling_seconds=sampling_seconds, wall_seconds=time.perf_counter() - t_start,
        classifier_accuracy=None if classifier_acc is None else float(classifier_acc),
        device=str(next(loaded.model.parameters()).device), quality=quality.to_json())


def run_eval(checkpoint_path: str | Path, data_dir: str | Path | None = None, *,
             classifier_path: str | Path | None = None, per_digit: int = 100, sampler: str | None = None,
             steps: int | None = None, guidance: float | None = None, guidance_interval: Any = KEEP, seed: int = 0,
             device: str = "cpu", psnr_images: int = 1000, callback: Callable[[EvalProgress], None] | None = None,
             download: bool = True, held_out: bool = True, max_calls: int | None = None,
             guide: str | Path | None = None) -> EvalReport:
    """Load the checkpoint, the classifier and MNIST (``data_dir``, default the cache), then :func:`evaluate`.

    ``guide``: a weaker checkpoint for autoguidance (see :func:`core.inference.load_model`).

    ``held_out``: also score on every shipped held-out judge (``core/quality/judges.py``) that is installed.

    ``download=False`` never touches the network (missing data is a DataError). Bad input raises one-line :class:`UserError` subclasses (CheckpointError, DataError, ConfigError).
    """
    from tui_denoiser.core import paths
    from tui_denoiser.core.data import load_split
    from tui_denoiser.core.devices import pick_device
    from tui_denoiser.core.inference import load_model
    from tui_denoiser.core.quality.judges import shipped_judges

    if device not in ("auto", "cpu", "cuda", "mps"):
        raise ConfigError(f"device must be one of auto, cpu, cuda, mps, got {device!r}")
    dev = pick_device(device)
    _check_int("per_digit", per_digit, 1, MAX_PER_DIGIT)
    loaded = load_model(checkpoint_path, dev, guide=guide)
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
        f"{' at noise %g..%g' % tuple(r.guidance_interval) if r.guidance_interval and r.guidance != 1 else ''}"
        f"{' from the guide ' + r.guide if r.guide and r.guidance != 1 else ''}, "
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
        lines += [""] + format_quality(QualityScores.from_json(r.quality))
    if r.psnr:
        lines += ["", f"  Denoising PSNR (dB) on {r.psnr_images} real test digits, one model call:",
                  f"    {'sigma':>5}  {'noisy':>6}  {'blur':>6}  {'(blur σ)':>8}  {'model':>6}  {'gain':>6}"]
        for row in r.psnr:
            lines.append(f"    {row.sigma:5.2f}  {row.noisy_db:6.2f}  {row.blur_db:6.2f}  {row.blur_sigma:8.1f}  "
                         f"{row.model_db:6.2f}  {row.model_db - max(row.blur_db, row.noisy_db):+6.2f}")
        lines.append("    gain = model minus the better of noisy input and blur")
    return "\n".join(lines)
