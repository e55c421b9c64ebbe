"""Exporting a trajectory: the names say what was sampled, and both files are real pictures."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tui_denoiser.core.trajectory_export import export_stem, export_trajectory


def test_export_names_and_writes_a_strip_and_an_animation(tmp_path):
    frames = [np.full((2, 28, 28), 40 * k, dtype=np.uint8) for k in range(4)]
    png, gif = export_trajectory(frames, tmp_path / "new", digit=7, seed=3, sampler="dpm2m")
    stem = export_stem(digit=7, seed=3, sampler="dpm2m", steps=3)
    assert stem == "digit7-seed3-dpm2m-3steps"
    assert (png.name, gif.name) == (f"{stem}-strip.png", f"{stem}.gif")
    with Image.open(png) as strip:
        assert strip.format == "PNG" and strip.width > strip.height
    with Image.open(gif) as animation:
        assert animation.format == "GIF" and animation.n_frames == len(frames)
