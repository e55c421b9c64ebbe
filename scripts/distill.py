"""Distil a student from the shipped default model (issue 20): guidance or consistency distillation.

    python scripts/distill.py guidance --data-dir DATA --run-dir runs/distilled --steps 2000 --lr 2e-4
    python scripts/distill.py consistency --data-dir DATA --run-dir runs/consistency --steps 2000
    python scripts/distill.py guidance --data-dir DATA --run-dir runs/distilled --resume     # go on
    denoiser-tui eval --checkpoint runs/distilled/last.pt --per-digit 200                    # score it
    denoiser-tui export runs/distilled/last.pt tui_denoiser/assets/denoiser-distilled.pt     # ship it

The teacher defaults to the shipped default model. bf16 is what ``train`` would choose for the
teacher's model on this machine (core/precision.py), unless forced; core/training/distill.py has the
methods.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tui_denoiser.core import paths
from tui_denoiser.core.training.distill import (ConsistencyDistiller, DistillConfig, GuidanceDistiller,
                                                run_distillation)

KINDS = {"guidance": GuidanceDistiller, "consistency": ConsistencyDistiller}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("--teacher", default=str(paths.DEFAULT_MODEL))
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    defaults = DistillConfig()
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--guidance-max", type=float, default=defaults.guidance_max)
    parser.add_argument("--levels", type=int, default=defaults.levels)
    parser.add_argument("--ema", type=float, default=defaults.ema_decay)
    parser.add_argument("--save-every", type=int, default=defaults.save_every)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args()

    config = DistillConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, guidance_max=args.guidance_max,
                           levels=args.levels, ema_decay=args.ema, save_every=args.save_every, seed=args.seed)
    distiller = KINDS[args.kind](args.teacher, args.data_dir, config, bf16=args.bf16)
    print(distiller.precision_line, flush=True)
    run_dir = Path(args.run_dir)
    if args.resume:
        distiller.resume(run_dir / "last.pt")
        print(f"resumed at step {distiller.step_done}", flush=True)
    run_distillation(distiller, run_dir, report=lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
