"""What the in-training quality evaluation costs: the same run with and without it, side by side.

The default budget evaluates once per epoch (``eval_per_digit`` 50: 500 samples) plus once at the end of
a run, so one epoch of training with its one evaluation is the unit that matters. Each round trains the
original recipe (at the precision core/precision.py chooses for this machine, as ``denoiser-tui train`` does) for
``--steps`` optimizer steps (default: one MNIST epoch, 469 steps at batch 128) with the evaluation off,
then on, in alternating order, and prints the wall time and the process's CPU time of each run, the
evaluation's own seconds, the medians and the extra time in per cent. On a machine shared with other
work the wall times swing with their load; the CPU time (both torch threads) is the steadier figure. The evaluation's one-off set-up (loading the classifier,
fitting the real digits) is counted inside every "on" run, as if a run were a single epoch (pessimistic:
a 30-epoch run pays it once).

    python benchmarks/eval_overhead.py --data-dir DATA [--steps 469] [--per-digit 50] [--rounds 1]
        [--device cpu|cuda] [--threads N] [--bf16|--no-bf16]

With ``--steps`` below an epoch it also prints the overhead extrapolated to a full epoch (eval seconds
over the measured seconds per training step times the steps of an epoch). Needs MNIST in DATA/MNIST/raw.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_denoiser.core.data import load_split  # noqa: E402
from tui_denoiser.core.precision import choose_for_training  # noqa: E402
from tui_denoiser.core.recipes import RECIPES  # noqa: E402
from tui_denoiser.core.runs import events as ev  # noqa: E402
from tui_denoiser.core.training import Trainer  # noqa: E402


def one_run(data, cfg, model_config, steps: int, root: Path, eval_on: bool) -> tuple[float, float, float]:
    """(wall seconds of ``Trainer.run``, its CPU seconds, wall seconds inside evaluations) for ``steps`` steps."""
    cfg = cfg.replace(max_steps=steps, quality_eval=eval_on, eval_every=None)
    eval_s = []

    def collect(event):
        if isinstance(event, ev.QualityEval):
            eval_s.append(event.seconds)
        elif isinstance(event, ev.Failed):
            raise SystemExit(f"run failed: {event.message}")

    run_dir = Path(tempfile.mkdtemp(dir=root))
    t0, c0 = time.perf_counter(), time.process_time()
    Trainer(model_config, cfg, run_dir=run_dir, data=data, callback=collect).run()
    return time.perf_counter() - t0, time.process_time() - c0, sum(eval_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--steps", type=int, default=None, help="steps per run (default: one epoch)")
    parser.add_argument("--per-digit", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--recipe", default="original", choices=sorted(RECIPES))
    parser.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                        help="force bf16 on or off (default: what train chooses on this machine)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = RECIPES[args.recipe]
    cfg = recipe.train.replace(device=args.device, seed=0, epochs=1, eval_per_digit=args.per_digit)
    cfg, choice = choose_for_training(recipe.model, cfg, args.bf16, None)
    device = torch.device("cuda" if args.device == "cuda" else "cpu")
    data = (*load_split("mnist", Path(args.data_dir), train=True, device=device),
            *load_split("mnist", Path(args.data_dir), train=False, device=device))
    steps_per_epoch = math.ceil(data[0].shape[0] / cfg.batch_size)
    steps = args.steps or steps_per_epoch
    print(f"{args.recipe} recipe on {args.device} ({torch.get_num_threads()} threads; {choice.line}), {steps} steps "
          f"a run (an epoch is {steps_per_epoch}), eval {args.per_digit} a digit at the run's end", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        one_run(data, cfg, recipe.model, min(steps, 20), root, eval_on=True)  # warm-up: allocator, classifier
        off, on, cpu_off, cpu_on, evals = [], [], [], [], []
        for r in range(args.rounds):
            order = (False, True) if r % 2 == 0 else (True, False)
            for eval_on in order:
                wall, cpu, eval_s = one_run(data, cfg, recipe.model, steps, root, eval_on)
                (on if eval_on else off).append(wall)
                (cpu_on if eval_on else cpu_off).append(cpu)
                if eval_on:
                    evals.append(eval_s)
                print(f"  round {r + 1} eval {'on ' if eval_on else 'off'}: wall {wall:7.1f} s, CPU {cpu:7.1f} s"
                      + (f" (evaluation {eval_s:.1f} s wall)" if eval_on else ""), flush=True)
    m_off, m_on, m_eval = statistics.median(off), statistics.median(on), statistics.median(evals)
    c_off, c_on = statistics.median(cpu_off), statistics.median(cpu_on)
    print(f"median without eval {m_off:.1f} s, with eval {m_on:.1f} s: {100 * (m_on / m_off - 1):+.1f} % wall time "
          f"(evaluation itself {m_eval:.1f} s, {100 * m_eval / m_off:.1f} % of the run without it)")
    print(f"CPU time without eval {c_off:.1f} s, with eval {c_on:.1f} s: {100 * (c_on / c_off - 1):+.1f} %")
    if steps < steps_per_epoch:
        per_step = m_off / steps
        print(f"extrapolated to one epoch ({steps_per_epoch} steps): {100 * m_eval / (per_step * steps_per_epoch):.1f} %"
              " extra (eval seconds over an epoch's training seconds)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
