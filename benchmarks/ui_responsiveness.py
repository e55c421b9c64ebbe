"""How responsive is the app while a CPU training runs inside it?

Runs the app headless (``App.run_test``) at 80x24, starts a real CPU training from the training screen
(a thread worker), and measures for ``--seconds``:

- event-loop lag: a callback scheduled every 10 ms records how late it ran;
- key-to-update: the time from posting a key (``l``: redraw the loss chart in the other scale) to the
  chart caption showing the change.

Prints p50/p95/max of both. Target: p95 <= 100 ms on a 2-core machine.

    python benchmarks/ui_responsiveness.py [--data-dir DIR] [--seconds 20] [--batch-size 128]

Without ``--data-dir`` it writes a synthetic MNIST-format folder (2048 train / 256 test images) to a
temporary directory, so it needs no network.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual import events  # noqa: E402

from tui_denoiser.tui.app import DenoiserApp  # noqa: E402


def write_synthetic_mnist(root: Path, n_train: int = 2048, n_test: int = 256) -> Path:
    """MNIST IDX files that torchvision reads offline: blurred random strokes, labels 0..9."""
    import numpy as np

    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for n, prefix in ((n_train, "train"), (n_test, "t10k")):
        images = (rng.random((n, 28, 28)) ** 6 * 255).astype(np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.tobytes())
    return root


def percentiles(values: list[float]) -> str:
    if not values:
        return "no samples"
    ordered = sorted(values)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return (f"p50 {p(0.50) * 1000:6.1f} ms   p95 {p(0.95) * 1000:6.1f} ms   max {ordered[-1] * 1000:6.1f} ms"
            f"   (n={len(values)})")


async def measure(data_dir: Path, runs_root: Path, seconds: float, batch_size: int) -> tuple[list, list, dict]:
    app = DenoiserApp(data_dir=data_dir, runs_root=runs_root, warm_imports=False, start_mode="training",
                      train_overrides={"epochs": 1000, "batch_size": batch_size, "device": "cpu"})
    lags: list[float] = []
    key_latencies: list[float] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.training_screen
        await pilot.press("n")
        # Wait until steps are flowing (torch import and data loading happen first).
        deadline = time.monotonic() + 120
        while not screen.chart.step_points and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if not screen.chart.step_points:
            raise SystemExit("training did not start: " + " | ".join(screen.event_log.plain_lines[-3:]))

        loop = asyncio.get_running_loop()
        stop_at = time.perf_counter() + seconds
        interval = 0.010

        def tick(expected: float) -> None:
            now = time.perf_counter()
            lags.append(max(0.0, now - expected))
            if now < stop_at:
                loop.call_at(loop.time() + interval, tick, now + interval)

        loop.call_at(loop.time() + interval, tick, time.perf_counter() + interval)

        caption = screen.query_one("#chart-caption")
        while time.perf_counter() < stop_at:
            before = str(caption.content)
            t0 = time.perf_counter()
            app.post_message(events.Key("l", "l"))
            while str(caption.content) == before and time.perf_counter() - t0 < 5:
                await asyncio.sleep(0.001)
            key_latencies.append(time.perf_counter() - t0)
            await asyncio.sleep(0.25)
        steps = screen.chart.step_points[-1][0] if screen.chart.step_points else 0
        info = {"epochs_done_estimate": steps, "log": screen.event_log.plain_lines[:3]}
        screen.action_stop()
        await screen.stop_and_wait()
    return lags, key_latencies, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or write_synthetic_mnist(Path(tmp) / "data")
        lags, keys, info = asyncio.run(measure(data_dir, Path(tmp) / "runs", args.seconds, args.batch_size))
    import os

    import torch

    out = sys.stderr if os.environ.get("BENCH_TO_STDERR") else sys.stdout
    out.write(f"CPU training in a thread worker, batch {args.batch_size}, {args.seconds:.0f} s, "
              f"{os.cpu_count()} cores, torch threads {torch.get_num_threads()}\n")
    out.write(f"event-loop lag (10 ms tick): {percentiles(lags)}\n")
    out.write(f"key -> screen update ('l'):  {percentiles(keys)}\n")
    out.write(f"training progress: {info['epochs_done_estimate']:.2f} epochs\n")


if __name__ == "__main__":
    main()
