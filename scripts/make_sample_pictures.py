"""Draws the README's pictures from a checkpoint with its default sampler:
assets/samples.png (8 samples of each digit, one digit per column) and assets/denoising.gif
(digits 0-9 denoised step by step).

    python scripts/make_sample_pictures.py [--checkpoint assets/denoiser-edm.pt] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_denoiser.core.inference import load_model  # noqa: E402
from tui_denoiser.core.imaging import make_grid, save_gif, to_uint8  # noqa: E402
from tui_denoiser.core.paths import DEFAULT_MODEL  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(DEFAULT_MODEL))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", default=str(Path(__file__).resolve().parents[1] / "assets"))
    args = parser.parse_args()
    loaded = load_model(args.checkpoint)
    out = Path(args.out_dir)
    rows = 8
    labels = [digit for _ in range(rows) for digit in range(10)]
    frames = [to_uint8(step.images) for step in loaded.sample(labels, seed=args.seed)]
    make_grid(frames[-1], nrow=10, scale=2).save(out / "samples.png")
    save_gif([np.asarray(f[:10]) for f in frames], out / "denoising.gif", scale=3)
    print(f"wrote {out / 'samples.png'} and {out / 'denoising.gif'} "
          f"({loaded.sampling.sampler}, {loaded.sampling.steps} steps, guidance {loaded.sampling.guidance:g})")


if __name__ == "__main__":
    main()
