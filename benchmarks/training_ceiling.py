"""Training's compute ceiling: how close the seed's loop and the default run come to this machine's limit,
and what a given speed-up over the seed's loop would ask of a model.

A training step of either loop is mostly convolutions, and a convolution cannot run faster than the
machine multiplies matrices. So this prints, in one run:

- the attainable matrix-multiply rate at the thread count used (the best of a few square products),
  in fp32 and, where the CPU has it natively, bf16;
- each model's training FLOPs per image (forward and backward, counted by torch's FlopCounterMode);
- the seed's loop and the default run in images/s (the loops of ``train_throughput.py``, alternated),
  the GFLOP/s each reaches and its share of the ceiling, and the seed's model stepping on one synthetic
  batch (what its DataLoader costs);
- the most any run of each model could reach against the seed's loop (at 100 % of the ceiling), and the
  FLOPs per image a model may spend to be ``--goal`` times the seed's loop;
- with ``--widths``, the original recipe's model at other widths: FLOPs and images/s of its training
  step on synthetic data, at the default run's precision.

    python benchmarks/training_ceiling.py --data-dir DATA [--steps 60] [--rounds 1] [--goal 4]
        [--no-bf16] [--widths 16,32,64 8,16,32]

CPU only: on a GPU the loops are not compute-bound (see gpu_check.py). Needs MNIST in DATA/MNIST/raw.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_throughput import default_run, seed_loop  # noqa: E402

from tui_denoiser.core.config import ModelConfig  # noqa: E402
from tui_denoiser.core.model import ConditionalDenoiser  # noqa: E402
from tui_denoiser.core.precision import choose_for_training, cpu_native_bf16  # noqa: E402
from tui_denoiser.core.recipes import RECIPES  # noqa: E402

MATMUL_SIZE = 2048


def matmul_ceiling(dtype: torch.dtype, size: int = MATMUL_SIZE, reps: int = 8) -> float:
    """The best GFLOP/s of a square ``size`` matrix product in ``dtype`` at torch's current threads."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best / 1e9


def _model(config: ModelConfig) -> ConditionalDenoiser:
    model = ConditionalDenoiser(config)
    if config.norm_levels:
        model.set_norm_levels(torch.logspace(-1.7, 1.3, config.norm_levels))
    return model.train()


def training_flops(config: ModelConfig, batch_size: int) -> float:
    """FLOPs per image of one training step's forward and backward (the optimizer's are negligible)."""
    model = _model(config)
    x = torch.randn(batch_size, 1, 28, 28)
    with FlopCounterMode(display=False) as counter:
        out = model(x, torch.full((batch_size,), 0.5), torch.randint(0, 10, (batch_size,)))
        out.square().mean().backward()
    return counter.get_total_flops() / batch_size


def model_step_rate(config: ModelConfig, batch_size: int, bf16: bool, channels_last: bool, steps: int = 15) -> float:
    """Images/s of the bare training step (synthetic batch, Adam) of ``config``'s model."""
    torch.manual_seed(0)
    model = _model(config)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.randn(batch_size, 1, 28, 28)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    labels, sigma = torch.randint(0, 10, (batch_size,)), torch.full((batch_size,), 0.5)
    for i in range(steps + 3):
        if i == 3:
            t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(x + 0.5 * torch.randn_like(x), sigma, labels)
        loss = (out.float() - x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * batch_size / (time.perf_counter() - t0)


def _widths(text: str) -> tuple[int, int, int]:
    parts = tuple(int(p) for p in text.split(","))
    if len(parts) != 3 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"widths are three positive integers like 16,32,64, got {text!r}")
    return parts  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--goal", type=float, default=4.0, help="the speed-up over the seed's loop asked for")
    parser.add_argument("--no-bf16", action="store_true", help="time the default run in fp32 (a CPU without "
                        "native bf16), and judge it against the fp32 ceiling")
    parser.add_argument("--widths", type=_widths, nargs="*", default=[],
                        help="other widths of the original model to time, e.g. 16,32,64")
    args = parser.parse_args()
    device = torch.device("cpu")
    threads = torch.get_num_threads()  # torch's default: what the seed's loop runs with
    print(f"cpu, {os.cpu_count()} cores, {threads} threads; torch {torch.__version__}; batch {args.batch_size}; "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")

    ceiling = {"fp32": matmul_ceiling(torch.float32)}
    if cpu_native_bf16():
        ceiling["bf16"] = matmul_ceiling(torch.bfloat16)
    print("matrix-multiply ceiling (%d x %d, best of 8): %s" % (
        MATMUL_SIZE, MATMUL_SIZE, ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in ceiling.items())))

    seed_flops = training_flops(RECIPES["seed"].model, args.batch_size)
    ours_flops = training_flops(RECIPES["original"].model, args.batch_size)
    print(f"training FLOPs per image (forward + backward): seed model {seed_flops / 1e6:.1f} M, "
          f"original model {ours_flops / 1e6:.1f} M ({ours_flops / seed_flops:.2f}x)")

    requested = False if args.no_bf16 else None
    _, choice = choose_for_training(RECIPES["original"].model,
                                    RECIPES["original"].train.replace(device="cpu"), requested, None)
    seed_rates, ours_rates, line = [], [], ""
    for r in range(args.rounds):
        torch.set_num_threads(threads)
        seed_rates.append(seed_loop(args.data_dir, device, args.steps, args.warmup, args.batch_size))
        rate, line = default_run(args.data_dir, device, args.steps, args.warmup, args.batch_size, bf16=requested)
        ours_rates.append(rate)
        print(f"round {r + 1}: seed loop {seed_rates[-1]:6.0f}  default run {ours_rates[-1]:6.0f} images/s", flush=True)
    seed_rate, ours_rate = statistics.median(seed_rates), statistics.median(ours_rates)
    ours_precision = "bf16" if choice.bf16 and "bf16" in ceiling else "fp32"

    def achieved(rate: float, flops: float, precision: str) -> str:
        gflops = rate * flops / 1e9
        return f"{rate:6.0f} images/s = {gflops:5.0f} GFLOP/s, {gflops / ceiling[precision]:4.0%} of the {precision} ceiling"

    print(f"seed loop (fp32):          {achieved(seed_rate, seed_flops, 'fp32')}")
    torch.set_num_threads(threads)
    bare = model_step_rate(RECIPES["seed"].model, args.batch_size, bf16=False, channels_last=False)
    print(f"seed model, bare step (no DataLoader): {bare:6.0f} images/s; the seed loop runs at "
          f"{seed_rate / bare:.0%} of it")
    print(f"default run ({line}): {achieved(ours_rate, ours_flops, ours_precision)}")
    print(f"default run / seed loop: {ours_rate / seed_rate:.2f}x")
    for precision, rate in ceiling.items():
        best = rate * 1e9 / ours_flops
        budget = rate * 1e9 / (args.goal * seed_rate)
        print(f"at 100 % of the {precision} ceiling: the original model {best:6.0f} images/s = "
              f"{best / seed_rate:.2f}x the seed loop; {args.goal:g}x allows {budget / 1e6:5.1f} M FLOPs per image "
              f"({budget / ours_flops:.0%} of the original's)")

    for widths in args.widths:
        config = dataclasses.replace(RECIPES["original"].model, channels=widths)
        flops = training_flops(config, args.batch_size)
        torch.set_num_threads(threads)
        rate = model_step_rate(config, args.batch_size, ours_precision == "bf16", choice.channels_last)
        print(f"original model at widths {widths}: {flops / 1e6:6.1f} M FLOPs per image, bare step "
              f"{rate:6.0f} images/s ({ours_precision}) = {rate / seed_rate:.2f}x the seed loop")


if __name__ == "__main__":
    main()
