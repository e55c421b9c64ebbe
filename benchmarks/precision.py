"""The default precision choice beside fp32 contiguous (and the bf16 / channels-last variants), in one run.

    python benchmarks/precision.py [--recipe original|seed|edm] [--device auto|cpu|cuda] [--batch-size 128]
        [--steps 10] [--rounds 3] [--fresh]

Trains the recipe's model (the original's by default, the model ``train`` decides for: fwd + bwd + Adam
on random images, as the trainer steps) and prints images/s of every variant, the choice
``core/precision.py`` makes for this machine (the line ``train`` and the app print) and a verdict: the
default must not be slower than fp32 contiguous. Variants step in turn within each round
(A B C D A B C D ...) so that load from other processes falls on all alike; each round's figure is a variant's median
step and the table gives the median of the rounds. A variant over 3x slower than fp32 stops being timed
after its warm-up (an emulated bf16 can be 10x slower). ``--fresh`` probes again instead of reading the
cached probe. Exits 1 when the default is slower than fp32 beyond the noise tolerance.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_denoiser.core import precision, precision_probe  # noqa: E402
from tui_denoiser.core.devices import device_name, pick_device  # noqa: E402
from tui_denoiser.core.recipes import RECIPES  # noqa: E402

TOLERANCE = 0.03  # the default may read up to 3 % below fp32 from timing noise alone


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="original")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10, help="timed steps of each variant per round")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fresh", action="store_true", help="probe again, ignoring the cached probe")
    args = parser.parse_args()
    device = pick_device(args.device)
    if device.type == "cpu":
        from tui_denoiser.core.threads import cpu_threads

        cpu_threads(refresh=True)
    model_config = RECIPES[args.recipe].model
    caps = precision.detect_capabilities(device)
    t0 = time.perf_counter()
    choice = precision.choose_precision(device, model_config, args.batch_size, cache=False if args.fresh else True)
    probe_s = time.perf_counter() - t0
    where = f"{device_name(device)} ({caps.machine}, {caps.cores} cores"
    where += f", {torch.get_num_threads()} threads)" if device.type == "cpu" else ")"
    print(f"recipe {args.recipe}; device: {where}; torch {torch.__version__}; native bf16: {caps.native_bf16}; "
          f"flags: {' '.join(caps.flags) or '-'}")
    print(f"choice: {choice.line}  [{'cached probe' if choice.cached else f'probed in {probe_s:.1f}s'}]", flush=True)

    default = (choice.bf16, choice.channels_last)
    variants = [precision.BASELINE, (False, True)]
    if device.type != "mps":
        variants += [(True, False), (True, True)]
    rates: dict[tuple[bool, bool], list[float]] = {v: [] for v in variants}
    gave_up: set[tuple[bool, bool]] = set()
    for r in range(args.rounds):
        # All variants step in turn within the round (the probe's own interleaving), median per variant.
        timed = [v for v in variants if v not in gave_up]
        seconds = precision_probe.probe_timings(device, model_config, args.batch_size, timed, warmup=args.warmup,
                                          steps=args.steps, max_seconds=None)
        line = []
        for variant in timed:
            s = seconds[precision_probe.variant_name(variant)]
            if s > precision_probe.GIVE_UP_RATIO * seconds[precision_probe.variant_name(precision.BASELINE)]:
                gave_up.add(variant)
            rates[variant].append(args.batch_size / s)
            line.append(f"{precision_probe.variant_name(variant)} {rates[variant][-1]:.0f}")
        print(f"round {r + 1}: " + ", ".join(line) + " images/s", flush=True)

    base = statistics.median(rates[precision.BASELINE])
    print(f"\n{'variant':24} {'images/s':>10} {'vs fp32':>8}")
    for variant in variants:
        rate = statistics.median(rates[variant])
        mark = "  <- default" if variant == default else ""
        slow = f"  (over {precision_probe.GIVE_UP_RATIO:g}x slower: stopped timing)" if variant in gave_up else ""
        print(f"{precision_probe.variant_name(variant):24} {rate:10.0f} {rate / base:7.2f}x{mark}{slow}")
    if default not in rates:
        print(f"verdict: the default {precision_probe.variant_name(default)} was not timed here")
        return 1
    ratio = statistics.median(rates[default]) / base
    if default == precision.BASELINE:
        print("verdict: OK, the default is fp32 contiguous itself")
        return 0
    if ratio >= 1 - TOLERANCE:
        print(f"verdict: OK, the default ({precision_probe.variant_name(default)}) runs at {ratio:.2f}x fp32 contiguous")
        return 0
    print(f"verdict: SLOWER, the default ({precision_probe.variant_name(default)}) runs at {ratio:.2f}x fp32 contiguous")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
