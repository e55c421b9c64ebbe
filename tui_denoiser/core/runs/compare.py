"""Earlier runs to compare with: each run folder's loss and quality curves, read from its metrics.jsonl.

Plain Python (no torch), so the app lists and reads runs in a worker without loading torch. Every way a
folder can be unusable (missing, unreadable, no metrics, no training records, another dataset) is one
line: a :class:`UserError` from :func:`read_run_curves`, or :func:`compare_problem`'s string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tui_denoiser.core.errors import UserError
from tui_denoiser.core.runs.folder import METRICS_FILE, run_folder_problem


@dataclass
class RunCurves:
    """What an overlay draws of one run. ``epochs``: (epochs done, train loss, val loss); ``quality``:
    (global step, accuracy, Frechet distance)."""

    name: str
    path: Path
    dataset: str | None = None
    epochs: list[tuple[int, float, float]] = field(default_factory=list)
    quality: list[tuple[int, float, float]] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """A few words for a picker: dataset, epochs done, the latest accuracy."""
        words = [self.dataset or "?", f"{len(self.epochs)} epochs"]
        if self.quality:
            words.append(f"acc {100 * self.quality[-1][1]:.0f}%")
        return ", ".join(words)


def list_runs(runs_root: str | Path) -> list[Path]:
    """Run folders (with a metrics.jsonl) under ``runs_root``, most recently written first."""
    root = Path(runs_root).expanduser()
    try:
        found = [p for p in root.iterdir() if (p / METRICS_FILE).is_file()]
        return sorted(found, key=lambda p: (p / METRICS_FILE).stat().st_mtime, reverse=True)
    except OSError:
        return []


def read_run_curves(run_dir: str | Path) -> RunCurves:
    """The curves of the run in ``run_dir``; one-line :class:`UserError` when there are none to read.

    Half-written and foreign lines are skipped; an epoch recorded twice (a killed run resumed from an
    earlier checkpoint) keeps its last record.
    """
    run_dir = Path(run_dir).expanduser()
    problem = run_folder_problem(run_dir)
    if problem is not None:
        raise UserError(problem)
    metrics = run_dir / METRICS_FILE
    try:
        text = metrics.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise UserError(f"{run_dir} has no {METRICS_FILE}: nothing to compare") from None
    except OSError as exc:
        raise UserError(f"cannot read {metrics} ({exc.strerror or exc})") from None
    curves = RunCurves(run_dir.name, run_dir)
    epochs: dict[int, tuple[int, float, float]] = {}
    quality: dict[int, tuple[int, float, float]] = {}
    started = False
    for line in text.splitlines():
        try:
            record = json.loads(line)
            kind = record.get("kind")
            if kind == "started":
                started = True
                curves.dataset = (record.get("train_config") or {}).get("dataset", curves.dataset)
            elif kind == "epoch":
                done = int(record["epoch"]) + 1
                epochs[done] = (done, float(record["train_loss"]), float(record["val_loss"]))
            elif kind == "quality":
                step = int(record["global_step"])
                quality[step] = (step, float(record["accuracy"]), float(record["frechet"]))
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
    if not started and not epochs:
        raise UserError(f"{metrics} holds no training records: nothing to compare")
    curves.epochs = [epochs[k] for k in sorted(epochs)]
    curves.quality = [quality[k] for k in sorted(quality)]
    return curves


def compare_problem(curves: RunCurves, dataset: str | None) -> str | None:
    """Why ``curves`` cannot be drawn beside a run on ``dataset`` (one line), or None."""
    if dataset and curves.dataset and curves.dataset != dataset:
        return f"run {curves.name} trained on {curves.dataset}, this one on {dataset}: not compared"
    if not curves.epochs and not curves.quality:
        return f"run {curves.name} has no finished epoch yet: nothing to compare"
    return None
