"""Training throughput: the seed's training loop as written against the default run, side by side.

The seed's loop: the seed recipe's model, torchvision MNIST through a DataLoader with ToTensor and
Normalize, one noise level t/T per batch, ``loss.item()`` every step, fp32, torch's default threads.
The default run: ``denoiser-tui train``'s defaults, i.e. the original recipe through this project's
Trainer on resident data, at the precision core/precision.py chooses for this machine and the thread
policy of core/threads.py. ``--no-bf16`` also times the default run in fp32, which is what a CPU
without native bf16 gets.

    python benchmarks/train_throughput.py --data-dir DATA [--device cpu|cuda] [--steps 200] [--rounds 3]
        [--fp32-too]

Seed loop and default run alternate (A B A B ...) for ``--rounds`` rounds so that load from other
processes falls on both alike; prints images/s of each round, the medians and their ratio. Needs MNIST
in DATA/MNIST/raw (see README).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_denoiser.core.devices import pick_device  # noqa: E402
from tui_denoiser.core.model import ConditionalDenoiser  # noqa: E402
from tui_denoiser.core.recipes import RECIPES  # noqa: E402
from tui_denoiser.core.training import Trainer  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def seed_loop(data_dir: str, device: torch.device, steps: int, warmup: int, batch_size: int, T: int = 10) -> float:
    """The seed's training loop as written; returns images/s over ``steps`` after ``warmup``."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    torch.manual_seed(0)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    ds = datasets.MNIST(data_dir, train=True, download=True, transform=tf)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True)
    model = ConditionalDenoiser(RECIPES["seed"].model).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()
    done, t0 = 0, None
    while True:
        for images, labels in loader:
            if done == warmup:
                _sync(device)
                t0 = time.perf_counter()
            images, labels = images.to(device), labels.to(device)
            t = torch.randint(1, T + 1, (1,)).item()
            level = torch.full((images.shape[0], 1, 1, 1), t / T, device=device)
            noisy = images + level * torch.randn_like(images)
            loss = torch.nn.functional.mse_loss(model(noisy, level, labels), images)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()
            done += 1
            if done == warmup + steps:
                _sync(device)
                return steps * batch_size / (time.perf_counter() - t0)


def default_run(data_dir: str, device: torch.device, steps: int, warmup: int, batch_size: int,
                bf16: bool | None = None) -> tuple[float, str]:
    """The default run: the original recipe through this project's Trainer on resident data, at the
    precision core/precision.py chooses (``bf16`` forces it); (images/s after ``warmup`` steps, the
    precision line)."""
    import tempfile

    from tui_denoiser.core.data import load_split
    from tui_denoiser.core.precision import choose_for_training

    data = (*load_split("mnist", data_dir, train=True), *load_split("mnist", data_dir, train=False))
    marks: dict[str, float] = {}
    recipe = RECIPES["original"]
    cfg = recipe.train.replace(batch_size=batch_size, max_steps=warmup + steps, device=device.type, preview=False,
                               quality_eval=False, epochs=1000)
    cfg, choice = choose_for_training(recipe.model, cfg, bf16, None)
    # Time the steps between the warm-up and the end with the trainer's own step hook: a stop event
    # that records the clock when the warm-up is done.
    import threading

    class WarmupClock(threading.Event):
        """A stop event that is never set; reading it each step lets us time the steps after warm-up."""

        def __init__(self):
            super().__init__()
            self.calls = 0

        def is_set(self) -> bool:
            self.calls += 1
            if self.calls == warmup + 1:
                _sync(device)
                marks["t0"] = time.perf_counter()
            if self.calls == warmup + steps + 1:  # asked before the step after the last timed one
                _sync(device)
                marks["t1"] = time.perf_counter()
            return False

    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(recipe.model, cfg, run_dir=run_dir, data=data, stop_event=WarmupClock(),
                          write_metrics=False)
        # The run ends on max_steps inside the epoch: it saves a stop checkpoint, timed apart below.
        saved: dict[str, float] = {}
        original_save = trainer._save

        def timed_save(*args, **kwargs):
            _sync(device)
            saved["t1"] = time.perf_counter()
            return original_save(*args, **kwargs)

        trainer._save = timed_save  # type: ignore[method-assign]
        result = trainer.run()
        if result.kind != "finished":
            raise SystemExit(f"trainer failed: {result}")
    # Steps only: the stop checkpoint (and the BatchNorm recalibration before it) falls outside.
    return steps * batch_size / (marks["t1"] - marks["t0"]), choice.line


def main() -> None:
    import statistics

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--fp32-too", action="store_true",
                        help="also time the default run in fp32 (what a CPU without native bf16 runs)")
    args = parser.parse_args()
    device = pick_device(args.device)
    default_threads = torch.get_num_threads()  # torch's own default: what the seed's loop runs with
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {os.cpu_count()} cores"
    print(f"device: {name}; torch {torch.__version__}; batch {args.batch_size}; {args.steps} timed steps; "
          f"{args.rounds} rounds; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    seed, ours, fp32 = [], [], []
    line = ""
    for r in range(args.rounds):
        torch.set_num_threads(default_threads)
        seed.append(seed_loop(args.data_dir, device, args.steps, args.warmup, args.batch_size))
        rate, line = default_run(args.data_dir, device, args.steps, args.warmup, args.batch_size)
        ours.append(rate)
        text = f"round {r + 1}: seed loop {seed[-1]:7.0f}  default run {ours[-1]:7.0f} images/s"
        if args.fp32_too:
            fp32.append(default_run(args.data_dir, device, args.steps, args.warmup, args.batch_size, bf16=False)[0])
            text += f"  default run in fp32 {fp32[-1]:7.0f}"
        print(text, flush=True)
    b, o = statistics.median(seed), statistics.median(ours)
    print(f"seed loop (DataLoader+ToTensor+Normalize, loss.item() each step, fp32, {default_threads} threads): "
          f"{b:7.0f} images/s (median)")
    print(f"default run (original recipe, resident data; precision: {line}): {o:7.0f} images/s (median)")
    print(f"ratio: {o / b:.2f}x (per round: {', '.join(f'{y / x:.2f}x' for x, y in zip(seed, ours))})")
    if fp32:
        f = statistics.median(fp32)
        print(f"default run in fp32: {f:7.0f} images/s (median); ratio against the seed loop: {f / b:.2f}x")


if __name__ == "__main__":
    main()
