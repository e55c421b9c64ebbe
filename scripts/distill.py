"""Distil classifier-free guidance into a student that takes the weight w as an input (issue 20, item 2).

    python scripts/distill_guidance.py --data-dir DATA --run-dir runs/distilled --steps 3000
    python scripts/distill_guidance.py --data-dir DATA --run-dir runs/distilled --resume   # go on
    denoiser-tui eval --checkpoint runs/distilled/last.pt --per-digit 200                  # score it
    denoiser-tui export runs/distilled/last.pt tui_denoiser/assets/denoiser-distilled.pt   # ship it

The teacher defaults to the shipped default model. bf16 and channels-last are what ``train`` would
choose for the teacher's model on this machine (core/precision.py), unless forced.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from tui_denoiser.core import paths
from tui_denoiser.core.precision import choose_precision
from tui_denoiser.core.training.distill import DistillConfig, GuidanceDistiller, distill_guidance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default=str(paths.DEFAULT_MODEL))
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    parser.add_argument("--steps", type=int, default=DistillConfig.steps)
    parser.add_argument("--batch-size", type=int, default=DistillConfig.batch_size)
    parser.add_argument("--lr", type=float, default=DistillConfig.lr)
    parser.add_argument("--guidance-max", type=float, default=DistillConfig.guidance_max)
    parser.add_argument("--save-every", type=int, default=DistillConfig.save_every)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args()

    config = DistillConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                           guidance_max=args.guidance_max, save_every=args.save_every, seed=args.seed)
    from tui_denoiser.core.checkpoint import configs_from, load_checkpoint

    teacher_config, _ = configs_from(load_checkpoint(args.teacher), args.teacher)
    choice = choose_precision("cpu", teacher_config, args.batch_size, args.bf16, False)
    print(choice.line, flush=True)
    distiller = GuidanceDistiller(args.teacher, args.data_dir, config, bf16=choice.bf16)
    run_dir = Path(args.run_dir)
    if args.resume:
        distiller.resume(run_dir / "last.pt")
        print(f"resumed at step {distiller.step_done}", flush=True)
    torch.manual_seed(args.seed)
    distill_guidance(distiller, run_dir, report=lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
