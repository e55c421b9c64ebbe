"""GPU check: the original recipe's 30 epochs, one EDM epoch, images/s, sampling latency and DDP, as one table.

    python benchmarks/gpu_check.py --data-dir DATA [--device cuda] [--epochs 30] [--budget-s 420]
    python benchmarks/gpu_check.py --dry-run [--data-dir DATA]      # on the CPU, in seconds

Rows (the training rows time the trainer on resident data, with no preview and no quality
evaluation, so they are training alone; the first line says the precision chosen by
``core/precision.py`` for this GPU, as ``train`` would):

- ``original, 30 epochs``: the original recipe's full run, wall seconds from start to the last
  checkpoint (the issue's goal on an H100/H200: 15 s);
- ``edm, 1 epoch``: one epoch of the EDM recipe (batch 256, U-Net, EMA);
- ``training images/s``: the original run's median throughput from the trainer's own updates;
- ``one digit, shipped model``: the shipped default model's latency to sample one digit with its
  own sampler (median of 5 after a warm-up);
- ``nccl DDP``: ``train --nproc N`` over every GPU, a few epochs of the original recipe, where
  there are 2 or more GPUs (one line saying why not, otherwise).

It stays within ``--budget-s`` (default 7 minutes): a training row that would run past it is
stopped and says at which epoch. ``--dry-run`` runs every row on the CPU, tiny: one epoch cut to a
few steps of batch 32, on a small fake dataset when no ``--data-dir`` is given; the test suite runs it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_denoiser.core.config import ModelConfig, TrainConfig  # noqa: E402
from tui_denoiser.core.data import load_split  # noqa: E402
from tui_denoiser.core.devices import device_name, pick_device  # noqa: E402
from tui_denoiser.core.inference import load_model  # noqa: E402
from tui_denoiser.core.paths import DEFAULT_MODEL  # noqa: E402
from tui_denoiser.core.precision import PrecisionChoice, choose_precision  # noqa: E402
from tui_denoiser.core.recipes import RECIPES  # noqa: E402
from tui_denoiser.core.sampling import final_images  # noqa: E402
from tui_denoiser.core.training import Trainer  # noqa: E402

DRY_STEPS = 3  # optimizer steps of each training row in a dry run
DRY_BATCH = 32


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []

    def add(self, what: str, value: str, note: str = "") -> None:
        self.rows.append((what, value, note))
        print(f"  {what}: {value}  {note}".rstrip(), flush=True)

    def print(self) -> None:
        width = max(len(r[0]) for r in self.rows)
        value_width = max(len(r[1]) for r in self.rows)
        print(f"\n| {'check':{width}} | {'result':>{value_width}} | note")
        print(f"|{'-' * (width + 2)}|{'-' * (value_width + 2)}|------")
        for what, value, note in self.rows:
            print(f"| {what:{width}} | {value:>{value_width}} | {note}")


def fake_data(n_train: int = 256, n_test: int = 64) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    return (torch.randint(0, 256, (n_train, 28, 28), dtype=torch.uint8, generator=g),
            torch.randint(0, 10, (n_train,), generator=g),
            torch.randint(0, 256, (n_test, 28, 28), dtype=torch.uint8, generator=g),
            torch.randint(0, 10, (n_test,), generator=g))


def resident_data(data_dir: str | None) -> tuple[torch.Tensor, ...]:
    if data_dir is None:
        return fake_data()
    return (*load_split("mnist", data_dir, train=True, download=False),
            *load_split("mnist", data_dir, train=False, download=False))


def train_once(model_config: ModelConfig, train_config: TrainConfig, data: tuple[torch.Tensor, ...],
               stop_at: float) -> dict:
    """One run of the trainer; wall seconds, the median images/s of its updates, how it ended."""
    rates: list[float] = []
    stop = threading.Event()
    timer = threading.Timer(max(stop_at - time.monotonic(), 0.1), stop.set)
    timer.daemon = True

    def on_event(event) -> None:
        if event.kind == "step":
            rates.append(event.images_per_s)

    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(model_config, train_config, run_dir=run_dir, data=data, callback=on_event,
                          stop_event=stop, write_metrics=False)
        timer.start()
        t0 = time.perf_counter()
        try:
            result = trainer.run()
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
    out = {"wall": wall, "rate": statistics.median(rates) if rates else None, "result": result,
           "budget_stop": stop.is_set()}
    if result.kind != "finished":
        raise SystemExit(f"training failed: {getattr(result, 'message', result)}")
    return out


def sampling_latency(device: torch.device, repeats: int = 5) -> tuple[float, str]:
    loaded = load_model(DEFAULT_MODEL, device=device)
    sampler = loaded.sampling
    final_images(loaded.sample([3], seed=0))  # warm-up
    times = []
    for seed in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        final_images(loaded.sample([3], seed=seed))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), f"{DEFAULT_MODEL.name}, {sampler.sampler} {sampler.steps} steps"


def ddp_command(nproc: int, data_dir: str, run_dir: str, epochs: int, choice: PrecisionChoice) -> list[str]:
    return [sys.executable, "-m", "tui_denoiser", "train", "--nproc", str(nproc), "--recipe", "original",
            "--epochs", str(epochs), "--data-dir", data_dir, "--run-dir", run_dir, "--device", "cuda",
            "--no-preview", "--no-eval", "--bf16" if choice.bf16 else "--no-bf16",
            "--channels-last" if choice.channels_last else "--no-channels-last"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="MNIST folder (MNIST/raw inside); required unless --dry-run")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=30, help="epochs of the original recipe's run")
    parser.add_argument("--ddp-epochs", type=int, default=3)
    parser.add_argument("--budget-s", type=float, default=420.0,
                        help="stop training rows that would run past this many seconds in all")
    parser.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                        help="default: what core/precision.py chooses (fp32 in a dry run)")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--dry-run", action="store_true", help="tiny, on the CPU: a few steps of each row")
    args = parser.parse_args(argv)
    if not args.dry_run and not args.data_dir:
        parser.error("--data-dir is required (or --dry-run)")
    started = time.monotonic()
    deadline = started + args.budget_s
    device = torch.device("cpu") if args.dry_run else pick_device(args.device)
    if device.type == "cpu":
        from tui_denoiser.core.threads import cpu_threads

        cpu_threads(refresh=True)
    if args.dry_run:  # a tiny run has nothing to gain from a probe: fp32 unless asked
        args.bf16 = False if args.bf16 is None else args.bf16
        args.channels_last = False if args.channels_last is None else args.channels_last
    original = RECIPES["original"]
    choice = choose_precision(device, original.model, original.train.batch_size, args.bf16, args.channels_last)
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    print(f"{'DRY RUN on the CPU: tiny, the figures mean nothing; ' if args.dry_run else ''}"
          f"device: {device_name(device)}; {gpus} GPU(s); torch {torch.__version__}"
          f"{f' (CUDA {torch.version.cuda})' if device.type == 'cuda' else ''}")
    print(f"precision{' (dry run: fp32 unless asked)' if args.dry_run else ''}: {choice.line}", flush=True)
    data = resident_data(args.data_dir)
    print(f"data: {data[0].shape[0]} training and {data[2].shape[0]} test images, "
          f"{f'from {args.data_dir}' if args.data_dir else 'fake (no --data-dir)'}", flush=True)
    table = Table()

    # The original recipe's full run.
    epochs = 1 if args.dry_run else args.epochs
    cut = {"max_steps": DRY_STEPS, "batch_size": DRY_BATCH} if args.dry_run else {}
    train_config = original.train.replace(device=device.type, epochs=epochs, preview=False, quality_eval=False,
                                          **cut)
    run = train_once(original.model, choice.apply(train_config), data, deadline)
    finished = run["result"]
    label = f"original, {epochs} epoch{'s' if epochs > 1 else ''}"
    if args.dry_run:
        label += f" (cut to {DRY_STEPS} steps)"
    note = (f"batch {train_config.batch_size}, {data[0].shape[0]} images, {finished.global_step} steps, "
            f"no preview or quality eval"
            + (f"; stopped by the {args.budget_s:.0f}s budget after {finished.epochs_done} epochs"
               if run["budget_stop"] else ""))
    table.add(label, f"{run['wall']:.1f} s", note)
    table.add("training images/s", f"{run['rate']:.0f}" if run["rate"] else "-",
              "original recipe, median of the trainer's updates")

    # One EDM epoch.
    edm = RECIPES["edm"]
    edm_config = edm.train.replace(device=device.type, epochs=1, preview=False, quality_eval=False, **cut)
    edm_choice = (choice if args.dry_run
                  else choose_precision(device, edm.model, edm.train.batch_size, args.bf16, args.channels_last))
    if time.monotonic() >= deadline:
        table.add("edm, 1 epoch", "skipped", "the budget is spent")
    else:
        run = train_once(edm.model, edm_choice.apply(edm_config), data, deadline)
        table.add("edm, 1 epoch" + (f" (cut to {DRY_STEPS} steps)" if args.dry_run else ""), f"{run['wall']:.1f} s",
                  f"batch {edm_config.batch_size}, {run['result'].global_step} steps; {edm_choice.line}"
                  + ("; stopped by the budget" if run["budget_stop"] else ""))

    # One digit's sampling latency with the shipped default model.
    seconds, what = sampling_latency(device)
    table.add("one digit, shipped model", f"{seconds * 1000:.0f} ms", what)

    # nccl DDP over every GPU.
    if gpus < 2 or args.dry_run:
        why = "a dry run" if args.dry_run else f"{gpus} GPU here, 2 or more needed"
        table.add("nccl DDP", "skipped", why)
    elif time.monotonic() + 60 >= deadline:
        table.add("nccl DDP", "skipped", "the budget is spent")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            command = ddp_command(gpus, args.data_dir, str(Path(tmp) / "run"), args.ddp_epochs, choice)
            t0 = time.perf_counter()
            try:
                proc = subprocess.run(command, capture_output=True, text=True,
                                      timeout=max(deadline - time.monotonic(), 60), env={**os.environ})
                wall = time.perf_counter() - t0
                ok = proc.returncode == 0
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] if not ok else []
            except subprocess.TimeoutExpired:
                wall, ok, tail = time.perf_counter() - t0, False, ["timed out"]
        images = data[0].shape[0] * args.ddp_epochs
        table.add(f"nccl DDP, {gpus} GPUs, {args.ddp_epochs} epochs",
                  f"{wall:.1f} s" if ok else "FAILED",
                  f"{images / wall:.0f} images/s with start-up; train --nproc {gpus}" if ok else " ".join(tail))

    table.print()
    print(f"\ntotal {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
