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


def shipped_dir() -> Path:
    """The package's ``tui_denoiser/assets/`` folder: the shipped models and judges. Found through
    ``importlib.resources``, so an editable install, a wheel, pipx and an sdist all read it the same way."""
    from importlib.resources import files

    return Path(str(files("tui_denoiser.assets")))


def shipped_file(name: str) -> Path:
    """The path of one shipped file (it may be missing from a damaged install: check before use)."""
    return shipped_dir() / name


def missing_shipped_line(path: Path) -> str:
    """One line naming a missing shipped file and how to get it back."""
    return (f"the shipped file {path.name} is missing from this install ({path.parent}); get it back by "
            f"reinstalling (python3 -m pip install --force-reinstall WHEEL_OR_REPO)")


def require_shipped(path: Path) -> Path:
    """``path`` if the shipped file is there, else a one-line :class:`CheckpointError` saying how to get it back."""
    if not path.is_file():
        from tui_denoiser.core.errors import CheckpointError

        raise CheckpointError(missing_shipped_line(path))
    return path


DEFAULT_MODEL = shipped_file("denoiser-edm.pt")
ORIGINAL_MODEL = shipped_file("denoiser-original.pt")
SEED_MODEL = shipped_file("denoiser-seed.pt")
GUIDE_MODEL = shipped_file("denoiser-guide.pt")  # autoguidance for the default model: a narrow EDM net, 4 epochs
DISTILLED_MODEL = shipped_file("denoiser-distilled.pt")  # the default model with its guidance distilled in
CONSISTENCY_MODEL = shipped_file("denoiser-consistency.pt")  # the default model distilled to one or two calls
# The models a --checkpoint of ``shipped:NAME`` names, in the order the app lists them.
SHIPPED_MODELS = {"edm": DEFAULT_MODEL, "distilled": DISTILLED_MODEL, "consistency": CONSISTENCY_MODEL,
                  "original": ORIGINAL_MODEL, "seed": SEED_MODEL}
SHIPPED_PREFIX = "shipped:"


def model_path(given: str | Path) -> Path:
    """A ``--checkpoint`` value as a path: ``shipped:NAME`` names a model of :data:`SHIPPED_MODELS`
    (checked to be installed), anything else is a path. Errors are one line."""
    text = str(given)
    if not text.startswith(SHIPPED_PREFIX):
        return Path(text).expanduser()
    name = text[len(SHIPPED_PREFIX):]
    if name not in SHIPPED_MODELS:
        from tui_denoiser.core.errors import CheckpointError

        raise CheckpointError(f"no shipped model {name!r}: choose one of "
                              + ", ".join(SHIPPED_PREFIX + n for n in SHIPPED_MODELS))
    return require_shipped(SHIPPED_MODELS[name])
CLASSIFIER_PATH = shipped_file("mnist-classifier.pt")
