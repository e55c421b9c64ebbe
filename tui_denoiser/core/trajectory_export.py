"""Exporting one sampled trajectory as images: how its files are named and writing them (PNG strip + GIF).

Not the ``export`` command (that one slims a checkpoint: ``checkpoint.export_for_inference``). The
sampling and playground screens' ``e`` key call :func:`export_trajectory` and :func:`write_trajectory`
from a worker; the names say what was sampled, so two exports of different requests never overwrite
each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

STRIP_SCALE = 2  # the PNG strip's pixels per MNIST pixel


def default_export_dir() -> Path:
    """Where exports go when the caller names no folder: ``exports/`` in the per-user cache folder."""
    from tui_denoiser.core.paths import cache_dir

    return cache_dir() / "exports"


def export_stem(*, digit: int, seed: int, sampler: str, steps: int) -> str:
    """The shared start of an export's file names: ``digit7-seed0-dpm2m-14steps``."""
    return f"digit{digit}-seed{seed}-{sampler}-{steps}steps"


def export_trajectory(frames: Sequence[np.ndarray], folder: str | Path | None, *, digit: int, seed: int,
                      sampler: str) -> list[Path]:
    """Write the first sample's steps as a PNG strip and the batch's animation as a GIF; return their
    paths. ``frames[k]`` is uint8 (B, 28, 28) at step k (K + 1 frames). Raises OSError when the folder
    cannot be written."""
    stem = export_stem(digit=digit, seed=seed, sampler=sampler, steps=len(frames) - 1)
    return write_trajectory(frames, folder, stem)


def write_trajectory(frames: Sequence[np.ndarray], folder: str | Path | None, stem: str) -> list[Path]:
    """Write ``frames`` as ``{stem}-strip.png`` (the first image's steps) and ``{stem}.gif`` (the batch's
    animation) in ``folder`` (default: :func:`default_export_dir`); return their paths. Raises OSError
    when the folder cannot be written."""
    from tui_denoiser.core.imaging import save_gif, step_strip

    folder = Path(folder) if folder is not None else default_export_dir()
    folder.mkdir(parents=True, exist_ok=True)
    png, gif = folder / f"{stem}-strip.png", folder / f"{stem}.gif"
    step_strip(frames, scale=STRIP_SCALE).save(png)
    save_gif(frames, gif)
    return [png, gif]
