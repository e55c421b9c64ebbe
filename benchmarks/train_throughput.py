"""Training throughput: the original design's loop against this project's trainer, side by side.

Both train the same model (the original recipe's ConditionalDenoiser) at the same batch size on the
same machine in one run. The original loop: torchvision MNIST through a DataLoader with ToTensor and
Normalize, one noise level t/T per batch, ``loss.item()`` every step, fp32. This trainer: data resident
as one uint8 tensor, batches by index, no per-step host sync, plus the speed options given.

    python benchmarks/train_throughput.py --data-dir DATA [--device cpu|cuda] [--steps 200]
        [--bf16/--no-bf16] [--channels-last/--no-channels-last] [--threads N] [--rounds 3]

Baseline and trainer alternate (A B A B ...) for ``--rounds`` rounds so that load from other processes
falls on both alike; prints images/s of each round, the medians and their ratio. On a CPU both run at
the same torch thread count (``--threads``, default: what the trainer's policy picks, see
``tui_denoiser.core.threads.cpu_threads``); ``--baseline-threads`` times the original loop at another
count too (e.g. torch's default, which is what the original loop ran with). Needs MNIST in
DATA/MNIST/raw (see README).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_denoiser.core.config import ModelConfig, TrainConfig  # noqa: E402
from tui_denoiser.core.model import ConditionalDenoiser  # noqa: E402
from tui_denoiser.core.devices import pick_device  # noqa: E402
from tui_denoiser.core.training import Trainer  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def original_loop(data_dir: str, device: torch.device, steps: int, warmup: int, batch_size: int, T: int = 10) -> float:
    """The original design's training loop; returns images/s over ``steps`` after ``warmup``."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    torch.manual_seed(0)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    ds = datasets.MNIST(data_dir, train=True, download=True, transform=tf)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True)
    model = ConditionalDenoiser(ModelConfig()).to(device)
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


def this_trainer(data_dir: str, device: torch.device, steps: int, warmup: int, batch_size: int, bf16: bool,
                 channels_last: bool, compile: bool = False) -> float:
    """This project's Trainer (original recipe) on resident data; images/s after ``warmup`` steps."""
    import tempfile

    from tui_denoiser.core.data import load_split

    data = (*load_split("mnist", data_dir, train=True), *load_split("mnist", data_dir, train=False))
    marks: dict[str, float] = {}

    cfg = TrainConfig(batch_size=batch_size, max_steps=warmup + steps, device=device.type, bf16=bf16,
                      channels_last=channels_last, preview=False, epochs=1000, compile=compile)
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
            return False

    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(ModelConfig(), cfg, run_dir=run_dir, data=data, stop_event=WarmupClock(),
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
    return steps * batch_size / (saved["t1"] - marks["t0"])


def main() -> None:
    import statistics

    from tui_denoiser.core.threads import cpu_threads

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                        help="default: on for cpu and cuda")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                        help="default: on for cpu")
    parser.add_argument("--compile", action="store_true", help="torch.compile the trainer's forward (warm-up "
                        "steps include the compile; give --warmup 30 or more)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads for both (cpu)")
    parser.add_argument("--baseline-threads", type=int, default=None,
                        help="also time the original loop at this thread count (cpu)")
    args = parser.parse_args()
    device = pick_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    elif device.type == "cpu":
        cpu_threads(refresh=True)
    threads = torch.get_num_threads()
    bf16 = args.bf16 if args.bf16 is not None else device.type in ("cpu", "cuda")
    channels_last = args.channels_last if args.channels_last is not None else device.type == "cpu"
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu x{threads} threads"
    load = " ".join(f"{v:.2f}" for v in __import__("os").getloadavg())
    print(f"device: {name}; torch {torch.__version__}; batch {args.batch_size}; {args.steps} timed steps; "
          f"{args.rounds} rounds; load average {load}")
    opts = f"bf16={bf16}, channels_last={channels_last}, compile={args.compile}"
    base, ours, other = [], [], []
    for r in range(args.rounds):
        torch.set_num_threads(threads)
        base.append(original_loop(args.data_dir, device, args.steps, args.warmup, args.batch_size))
        # The trainer re-applies the thread policy on a CPU; pin it to the baseline's count.
        import os

        os.environ["DENOISER_TUI_THREADS"] = str(threads)
        ours.append(this_trainer(args.data_dir, device, args.steps, args.warmup, args.batch_size, bf16,
                                 channels_last, args.compile))
        del os.environ["DENOISER_TUI_THREADS"]
        line = f"round {r + 1}: original {base[-1]:8.0f}  ours {ours[-1]:8.0f} images/s"
        if args.baseline_threads and device.type == "cpu":
            torch.set_num_threads(args.baseline_threads)
            other.append(original_loop(args.data_dir, device, args.steps, args.warmup, args.batch_size))
            line += f"  original at {args.baseline_threads} threads {other[-1]:8.0f}"
        print(line, flush=True)
    b, o = statistics.median(base), statistics.median(ours)
    print(f"original loop (DataLoader+ToTensor+Normalize, loss.item() each step, fp32): {b:10.0f} images/s (median)")
    print(f"this trainer (resident data, no per-step sync, {opts}): {o:10.0f} images/s (median)")
    print(f"ratio: {o / b:.2f}x (same thread count; per round: "
          f"{', '.join(f'{y / x:.2f}x' for x, y in zip(base, ours))})")
    if other:
        m = statistics.median(other)
        print(f"original loop at {args.baseline_threads} threads: {m:10.0f} images/s (median); "
              f"ratio against it: {o / m:.2f}x")


if __name__ == "__main__":
    main()
