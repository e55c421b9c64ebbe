"""Where things live: the per-user cache (data, runs) and the shipped assets. No torch here."""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV_HOME = "DENOISER_TUI_HOME"


def cache_dir() -> Path:
    """The per-user folder for data and runs (``$DENOISER_TUI_HOME`` overrides it)."""
    override = os.environ.get(ENV_HOME)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("denoiser-tui", appauthor=False))


def default_data_dir() -> Path:
    return cache_dir() / "data"


def default_runs_root() -> Path:
    return cache_dir() / "runs"


def new_run_dir(root: str | Path | None = None) -> Path:
    """A fresh, not yet existing run folder named after the local time (suffixed if taken)."""
    base = Path(root) if root is not None else default_runs_root()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = base / stamp
    n = 1
    while candidate.exists():
        n += 1
        candidate = base / f"{stamp}-{n}"
    return candidate


def assets_dir() -> Path:
    """The repository's ``assets/`` folder (the package is installed editable from the repo)."""
    return Path(__file__).resolve().parents[2] / "assets"


DEFAULT_MODEL = assets_dir() / "denoiser-edm.pt"
ORIGINAL_MODEL = assets_dir() / "denoiser-original.pt"
CLASSIFIER_PATH = assets_dir() / "mnist-classifier.pt"
