"""Measure the playground's targets (issue 12) on real MNIST test digits with the shipped model.

    python scripts/playground_targets.py --data-dir DIR [--count 1000] [--seed 0]

DIR/MNIST/raw/ holds t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz. ``--count`` test digits
are drawn at random (numpy seed ``--seed``); each "other digit" is a random digit other than its own.
Prints: SDEdit at sigma 0.3 to its own label (mean PSNR to the original), SDEdit at sigma 5 to another
digit (share the shipped classifier reads as asked), inpainting the lower half for its own label
(upper half bit-identical, share read as asked), and whether morph ends equal plain samples.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

import numpy as np


def read_test_split(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = data_dir / "MNIST" / "raw"
    with gzip.open(raw / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(raw / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return images, labels


def pick(images: np.ndarray, labels: np.ndarray, count: int, seed: int):
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(images), count, replace=False)
    x, y = images[idx], labels[idx]
    other = (y + 1 + rng.integers(0, 9, count)) % 10
    return x, y, other


def measure(loaded, x: np.ndarray, y: np.ndarray, other: np.ndarray, *, seed: int = 0, batch: int = 500,
            log=print) -> dict[str, float]:
    import torch

    from tui_denoiser.core import playground as pg
    from tui_denoiser.core.quality.denoising import psnr
    from tui_denoiser.core.sampling import final_images, sample

    def run(fn, *args):
        out = [pg.frames_uint8(fn(*[a[i:i + batch] if isinstance(a, np.ndarray) and a.ndim and len(a) == len(x)
                                     else a for a in args]))[-1] for i in range(0, len(x), batch)]
        return np.concatenate(out)

    results: dict[str, float] = {}
    t = time.time()
    edited = run(lambda im, lab: pg.edit(loaded, im, 0.3, lab.tolist(), seed=seed), x, y)
    results["edit_0.3_psnr_db"] = float(psnr(pg.to_model(edited), pg.to_model(x)).mean())
    log(f"edit --sigma 0.3, own label: mean PSNR {results['edit_0.3_psnr_db']:.2f} dB ({time.time() - t:.0f} s)")
    t = time.time()
    edited = run(lambda im, lab: pg.edit(loaded, im, 5.0, lab.tolist(), seed=seed), x, other)
    results["edit_5_read_as_asked"] = float((pg.read_digits(edited).argmax(1) == other).mean())
    log(f"edit --sigma 5, another digit: read as asked {results['edit_5_read_as_asked'] * 100:.1f} % "
        f"({time.time() - t:.0f} s)")
    t = time.time()
    mask = np.zeros((28, 28), dtype=bool)
    mask[14:] = True
    filled = run(lambda im, lab: pg.inpaint(loaded, im, mask, lab.tolist(), seed=seed), x, y)
    results["inpaint_upper_identical"] = float(np.array_equal(filled[:, :14], x[:, :14]))
    results["inpaint_read_as_asked"] = float((pg.read_digits(filled).argmax(1) == y).mean())
    log(f"inpaint the lower half, own label: upper half bit-identical {bool(results['inpaint_upper_identical'])}, "
        f"read as asked {results['inpaint_read_as_asked'] * 100:.1f} % ({time.time() - t:.0f} s)")
    equal = 0
    pairs = [(a, b, s) for s, (a, b) in enumerate(zip(range(10), [7, 3, 8, 5, 9, 6, 0, 1, 2, 4]))]
    for a, b, s in pairs:
        row = list(pg.morph_digits(loaded, a, b, 5, seed=s))[-1].images
        ends = [final_images(sample(loaded.model, [d], loaded.sampling, seed=s))[0] for d in (a, b)]
        equal += int(torch.equal(row[0], ends[0]) and torch.equal(row[-1], ends[1]))
    results["morph_ends_equal"] = equal / len(pairs)
    log(f"morph --digit A --to B: both ends equal sample --count 1 in {equal} of {len(pairs)} pairs")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", help="default: the shipped model")
    args = parser.parse_args(argv)
    from tui_denoiser.core.inference import load_model
    from tui_denoiser.core.paths import DEFAULT_MODEL

    loaded = load_model(args.checkpoint or DEFAULT_MODEL)
    x, y, other = pick(*read_test_split(args.data_dir), args.count, args.seed)
    print(f"{args.count} real test digits, model {Path(str(loaded.path)).name}, "
          f"editing with {loaded.sampling.steps} steps of the stochastic sampler, morphs with {loaded.sampling.sampler}")
    measure(loaded, x, y, other, seed=args.seed, log=lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
