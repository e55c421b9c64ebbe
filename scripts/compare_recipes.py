"""Seed, original and edm side by side: what each draws from pure noise, and how each denoises in one call.

For each checkpoint: a row of samples (digits 0-9, twice, with the model's own default sampler and a
fixed seed), then one real test digit noised at sigma 0.1, 0.5, 1 and 2 next to the model's one-call
denoising of it. Prints the one-call PSNR table on the first ``--count`` test digits (the same figures
as ``eval``'s PSNR table) and writes one picture.

    python scripts/compare_recipes.py --data-dir DATA --out assets/recipes.png \\
        seed=RUNS/seed/last.pt original=tui_denoiser/assets/denoiser-original.pt edm=tui_denoiser/assets/denoiser-edm.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_denoiser.core.data import load_split, to_model_range  # noqa: E402
from tui_denoiser.core.imaging import to_uint8  # noqa: E402
from tui_denoiser.core.inference import load_model  # noqa: E402
from tui_denoiser.core.quality.denoising import PSNR_LEVELS, denoising_psnr  # noqa: E402

LEVELS = (0.1, 0.5, 1.0, 2.0)
SCALE = 2
LABEL_W = 70


def _row(images: list[np.ndarray]) -> np.ndarray:
    gap = np.zeros((28, 4), dtype=np.uint8)
    parts: list[np.ndarray] = []
    for image in images:
        parts += [image, gap]
    return np.concatenate(parts[:-1], axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="NAME=CHECKPOINT")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=1000, help="test digits in the PSNR table")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    test_x, test_y = load_split("mnist", args.data_dir, train=False)
    digit = 3  # test digit index 3 is a 0 with a clear shape
    clean = to_model_range(test_x[digit:digit + 1])
    gen = torch.Generator().manual_seed(args.seed)
    noise = torch.randn(clean.shape, generator=gen)
    rows, names, table = [], [], []
    for spec in args.models:
        name, _, path = spec.partition("=")
        loaded = load_model(path)
        samples = to_uint8(list(loaded.sample(list(range(10)) * 2, seed=args.seed))[-1].images)
        noisy, denoised = [], []
        with torch.inference_mode():
            for sigma in LEVELS:
                x = clean + sigma * noise
                noisy.append(to_uint8(x)[0])
                denoised.append(to_uint8(loaded.model(x, torch.full((1,), sigma), test_y[digit:digit + 1]))[0])
        # Measured over eval's levels first: each level's noise draw is seeded by its place in the list, so
        # this way the figures at 0.1 .. 1 are eval's own, draw for draw.
        measured = denoising_psnr(loaded.model, test_x, test_y, count=args.count, seed=args.seed,
                                  levels=PSNR_LEVELS + tuple(s for s in LEVELS if s not in PSNR_LEVELS))
        psnr_rows = [next(r for r in measured if r.sigma == s) for s in LEVELS]
        table.append((name, loaded.sampling, psnr_rows))
        rows.append(_row(list(samples[:10])))
        rows.append(_row(list(samples[10:])))
        rows.append(_row([v for pair in zip(noisy, denoised) for v in pair] + [np.zeros((28, 28), np.uint8)] * 2))
        names.append(name)
    width = rows[0].shape[1]
    height = sum(r.shape[0] + 6 for r in rows)
    sheet = Image.new("L", (LABEL_W + width * SCALE, height * SCALE), 0)
    draw = ImageDraw.Draw(sheet)
    y = 0
    for i, row in enumerate(rows):
        sheet.paste(Image.fromarray(row).resize((row.shape[1] * SCALE, row.shape[0] * SCALE), Image.NEAREST),
                    (LABEL_W, y))
        if i % 3 == 0:
            draw.text((4, y + 20), names[i // 3], fill=255)
        if i % 3 == 2:
            draw.text((4, y + 8), "noisy|one call", fill=160)
            draw.text((4, y + 22), "s " + " ".join(f"{s:g}" for s in LEVELS), fill=160)
        y += (row.shape[0] + 6) * SCALE
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"one-call denoising PSNR (dB) on the first {args.count} test digits; noisy input first")
    print(f"{'model':<10} {'sampler':<22} " + " ".join(f"{'s=' + format(s, 'g'):>14}" for s in LEVELS))
    for name, sampling, psnr_rows in table:
        cells = " ".join(f"{r.model_db:6.2f} ({r.noisy_db:5.2f})" for r in psnr_rows)
        print(f"{name:<10} {sampling.sampler + ' x' + str(sampling.steps):<22} {cells}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
