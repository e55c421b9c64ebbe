"""Score a set of samples on every judge, plus the artefacts that need no judge.

:func:`score_samples` is what ``eval`` reports per judge and what the sampler sweeps use, so a setting
is measured the same way wherever it is measured: the samples are uint8 (N, 28, 28), labels (N,) the
digit each was asked to be; the real digits are class-balanced test digits (the reference) and as many
training digits (the floor). Each judge gives accuracy (where it reads digits), the Frechet distance
beside its floor at this count, and diversity (within-digit feature spread over the real digits').
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

from tui_denoiser.core.data import to_model_range
from tui_denoiser.core.quality import artefacts
from tui_denoiser.core.quality.stats import frechet_distance, reference_indices, within_class_spread


@dataclass
class JudgeScore:
    """One judge's reading of the samples; ``accuracy`` is None for a judge that reads no digits."""

    judge: str
    held_out: bool
    accuracy: float | None
    per_digit_accuracy: list[float] | None
    frechet: float
    frechet_floor: float
    diversity: float
    real_accuracy: float | None = None  # the judge's own accuracy on the real test digits it was given
    stored_floor: float | None = None  # the floor in the judge's file (1,000 a digit)

    @property
    def frechet_ratio(self) -> float:
        return self.frechet / self.frechet_floor if self.frechet_floor > 0 else float("inf")

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["frechet_ratio"] = self.frechet_ratio
        return out


@dataclass
class QualityScores:
    """Every judge's score, the speck rate and the ink ratio of one set of samples."""

    judges: list[JudgeScore] = field(default_factory=list)
    speck_rate: float = 0.0
    speck_rate_real: float = 0.0
    ink_ratio: float = 1.0
    reference_count: int = 0

    @property
    def speck_ratio(self) -> float:
        return self.speck_rate / self.speck_rate_real if self.speck_rate_real > 0 else float("inf")

    def to_json(self) -> dict[str, Any]:
        return {"judges": [j.to_json() for j in self.judges], "speck_rate": self.speck_rate,
                "speck_rate_real": self.speck_rate_real, "speck_ratio": self.speck_ratio,
                "ink_ratio": self.ink_ratio, "reference_count": self.reference_count}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "QualityScores":
        judges = []
        for j in data.get("judges") or []:
            j = {k: v for k, v in j.items() if k != "frechet_ratio"}
            judges.append(JudgeScore(**j))
        return cls(judges=judges, speck_rate=data.get("speck_rate", 0.0),
                   speck_rate_real=data.get("speck_rate_real", 0.0), ink_ratio=data.get("ink_ratio", 1.0),
                   reference_count=data.get("reference_count", 0))


@dataclass
class JudgeReading:
    """One judge's score and the two within-digit spreads its diversity divides (``eval`` reports them)."""

    score: JudgeScore
    spread_samples: float
    spread_real: float


def read_judge(judge, samples: torch.Tensor, labels: torch.Tensor, reference: torch.Tensor,
               reference_labels: torch.Tensor, floor_images: torch.Tensor, batch_size: int = 500,
               progress: Callable[[int, int], None] | None = None) -> JudgeReading:
    """One judge on uint8 ``samples``; ``reference`` (test) and ``floor_images`` (training) are uint8.
    ``progress(done, total)`` counts the images read so far, over all three sets."""
    labels = torch.as_tensor(labels).cpu()
    reference_labels = torch.as_tensor(reference_labels).cpu()
    total = samples.shape[0] + reference.shape[0] + floor_images.shape[0]

    def outputs(images: torch.Tensor, offset: int):
        tick = None if progress is None else (lambda done, _n: progress(offset + done, total))
        return judge.outputs(to_model_range(images.cpu()), batch_size, tick)

    s_feats, s_pred = outputs(samples, 0)
    r_feats, r_pred = outputs(reference, samples.shape[0])
    f_feats, _ = outputs(floor_images, samples.shape[0] + reference.shape[0])
    accuracy = per_digit = real_acc = None
    if s_pred is not None:
        correct = s_pred == labels
        accuracy = float(correct.float().mean())
        per_digit = [float(correct[labels == d].float().mean()) if bool((labels == d).any()) else 0.0
                     for d in range(10)]
        real_acc = float((r_pred == reference_labels).float().mean())
    spread_samples = within_class_spread(s_feats, labels)
    spread_real = within_class_spread(r_feats, reference_labels)
    diversity = spread_samples / spread_real if spread_real > 0 else 0.0
    score = JudgeScore(judge.name, bool(judge.held_out), accuracy, per_digit, frechet_distance(s_feats, r_feats),
                       frechet_distance(f_feats, r_feats), float(diversity), real_accuracy=real_acc,
                       stored_floor=getattr(judge, "stored_floor", None))
    return JudgeReading(score, float(spread_samples), float(spread_real))


def score_judge(judge, samples: torch.Tensor, labels: torch.Tensor, reference: torch.Tensor,
                reference_labels: torch.Tensor, floor_images: torch.Tensor, batch_size: int = 500) -> JudgeScore:
    """One judge on uint8 ``samples`` (see :func:`read_judge`)."""
    return read_judge(judge, samples, labels, reference, reference_labels, floor_images, batch_size).score


def score_samples(samples: torch.Tensor, labels: torch.Tensor, judges: Sequence, test_images: torch.Tensor,
                  test_labels: torch.Tensor, train_images: torch.Tensor, train_labels: torch.Tensor | None, *,
                  per_digit: int, seed: int = 0, batch_size: int = 500) -> QualityScores:
    """Every judge on uint8 ``samples`` against ``per_digit`` real digits a class, plus specks and ink
    (both against all of ``test_images``)."""
    ref_idx, floor_idx = reference_indices(test_labels, train_labels, int(train_images.shape[0]), per_digit, seed)
    reference, floor_images = test_images[ref_idx].cpu(), train_images[floor_idx].cpu()
    scores = [score_judge(j, samples, labels, reference, test_labels[ref_idx], floor_images, batch_size)
              for j in judges]
    return QualityScores(judges=scores, speck_rate=artefacts.speck_rate(samples),
                         speck_rate_real=artefacts.speck_rate(test_images.cpu()),
                         ink_ratio=artefacts.ink_ratio(samples, test_images.cpu(), labels, test_labels.cpu()),
                         reference_count=int(ref_idx.shape[0]))


def format_quality(q: QualityScores) -> list[str]:
    """The judges table, the speck rate and the ink ratio as plain lines of at most 80 columns."""
    lines = [f"  Judges (Frechet: samples vs {q.reference_count} real test digits; floor: real vs real)",
             f"    {'judge':<12} {'held out':<8} {'accuracy':>9} {'Frechet':>8} {'floor':>7} {'ratio':>6} "
             f"{'diversity':>9}"]
    for j in q.judges:
        acc = "-" if j.accuracy is None else f"{100 * j.accuracy:.2f} %"
        lines.append(f"    {j.judge:<12} {'yes' if j.held_out else 'no':<8} {acc:>9} {j.frechet:8.3f} "
                     f"{j.frechet_floor:7.3f} {j.frechet_ratio:5.2f}x {j.diversity:9.3f}")
    real_acc = [f"{j.judge} {100 * j.real_accuracy:.2f} %" for j in q.judges if j.real_accuracy is not None]
    if real_acc:
        lines.append("    (accuracy on the same real test digits: " + ", ".join(real_acc) + ")")
    lines.append(f"  Specks  {100 * q.speck_rate:.2f} % of samples, {100 * q.speck_rate_real:.2f} % of real "
                 f"digits ({q.speck_ratio:.2f}x)")
    lines.append(f"          an isolated 8-connected blob of <= {artefacts.SPECK_MAX_PIXELS} pixels above "
                 f"{artefacts.SPECK_THRESHOLD}/255")
    lines.append(f"  Ink     {q.ink_ratio:.3f}x real digits' (mean total intensity per digit, by class)")
    return lines
