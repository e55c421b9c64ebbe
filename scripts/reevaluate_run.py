"""A finished run's in-training evaluation again, with another sampling: each epoch's checkpoint, one line.

When a recipe's default sampling changes, the curve its runs recorded while training no longer shows
what the Quality tab shows today. This replays the trainer's own evaluation (the same
:class:`QualityMonitor`, per-digit count, seeds and autocast) on each ``epoch-NNN.pt`` of a run, sampling
each as the recipe's default sampling says now (or as the checkpoint stored, with ``--stored``), and writes
the ``quality`` records to ``OUT/metrics.jsonl``, which ``scripts/plot_training_curve.py OUT`` draws.

    python scripts/reevaluate_run.py RUN --data-dir DATA --out OUT [--stored]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import torch

from tui_denoiser.core.data import load_split
from tui_denoiser.core.inference import load_model
from tui_denoiser.core.sampling_policy import default_sampling
from tui_denoiser.core.training.monitor import QualityMonitor


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--stored", action="store_true", help="sample as each checkpoint stored (the run's own curve)")
    args = p.parse_args(argv)

    checkpoints = sorted(args.run_dir.glob("epoch-*.pt"))
    if not checkpoints:
        print(f"{args.run_dir} holds no epoch-NNN.pt checkpoints", file=sys.stderr)
        return 2
    first = load_model(checkpoints[0])
    cfg = first.train_config
    monitor = QualityMonitor(cfg, "cpu")
    test_x, test_y = load_split(cfg.dataset, args.data_dir, train=False)
    train_x, train_y = load_split(cfg.dataset, args.data_dir, train=True)
    monitor.prepare(test_x, test_y, train_x, train_y)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "metrics.jsonl", "w", encoding="utf-8") as fh:
        for path in checkpoints:
            loaded = load_model(path)
            if not args.stored:
                loaded = dataclasses.replace(loaded, sampling=default_sampling(loaded.model_config, loaded.train_config))
            result = monitor.evaluate(loaded, loaded.epoch - 1, loaded.global_step, "epoch")
            assert result is not None
            fh.write(json.dumps(result.to_json()) + "\n")
            fh.flush()
            print(f"epoch {loaded.epoch:>2}: {result.accuracy:6.1%}  Frechet {result.frechet / result.frechet_floor:5.2f}x"
                  f"  {result.sampler}, {result.model_calls} calls, {result.seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    sys.exit(main())
