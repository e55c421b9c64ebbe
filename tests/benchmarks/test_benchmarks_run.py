"""Every benchmark script runs end to end at its smallest size and prints its verdict lines.

Three of them crashed unnoticed after refactors (a renamed import, a moved constant, a screen the app
no longer opens on), so a target nobody could check looked met. Figures here are noise; only that each
script still measures what its docstring says is checked.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers.processes import REPO, run_benchmark

BENCHMARKS = REPO / "benchmarks"

# (script and arguments, patterns its output must hold); DATA is the tiny IDX folder.
CASES = {
    "memory": (["memory.py", "--data-dir", "DATA", "--steps", "2"],
               [r"python -c 'import torch': +\d+ MiB", r"baseline seed loop, 2 steps: +\d+ MiB",
                r"denoiser-tui train --max-steps 2 .*: +\d+ MiB", r"target 1536 MiB: (met|missed)"]),
    "eval_overhead": (["eval_overhead.py", "--data-dir", "DATA", "--steps", "2", "--per-digit", "1", "--no-bf16"],
                      [r"original recipe on cpu \(\d+ threads; bf16 forced off \(--no-bf16\)",
                       r"round 1 eval on : wall +[\d.]+ s, CPU +[\d.]+ s \(evaluation [\d.]+ s wall\)",
                       r"median without eval [\d.]+ s, with eval [\d.]+ s: [+-][\d.]+ % wall time"]),
    "train_throughput": (["train_throughput.py", "--data-dir", "DATA", "--steps", "2", "--warmup", "1",
                          "--rounds", "1", "--batch-size", "16"],
                         [r"round 1: seed loop +\d+ +default run +\d+ images/s",
                          r"default run \(original recipe, resident data; precision: bf16 (on|off)",
                          r"ratio: [\d.]+x"]),
    "sampling_speed": (["sampling_speed.py", "--repeats", "1"],
                       [r"denoiser-original.pt +euler +1 +[\d.]+ +[\d.]+ +[\d.]+x +20 ms (met|missed) \(same images\)",
                        r"denoiser-edm.pt +heun +10 +[\d.]+ +[\d.]+ +[\d.]+x +100 ms (met|missed) \(same images\)"]),
    "sampling_budget": (["sampling_budget.py", "--repeats", "1", "--budgets", "1,2"],
                        [r"beside denoiser-edm.pt's \S+ \d+ steps, \d+ calls",
                         r"\n +1 +euler 1 steps, guidance 1 +1 +[\d.]+ +[\d.]+ +[\d.]+x",
                         r"\n +2 +\S+ 2 steps, guidance [\d.]+ +2 +"]),
    "bulk_sampling": (["bulk_sampling.py", "--repeats", "1", "--counts", "2,4"],
                      [r"checksum of the 4 samples in every run: -?[\d.]+",
                       r"before \(one batch\) +[\d.]+s", r"after \(chunks of 64\) +[\d.]+s"]),
    "ui_responsiveness": (["ui_responsiveness.py", "--seconds", "2", "--batch-size", "16"],
                          [r"event-loop lag \(10 ms tick\): p50 +[\d.]+ ms +p95 +[\d.]+ ms",
                           r"key -> screen update \('l'\): +p50 +[\d.]+ ms", r"training progress: [\d.]+ epochs"]),
    "startup": (["startup.py", "--repeats", "1"],
                [r"baseline python -c 'import torch': +\d+ ms", r"denoiser-tui to its painted title: +\d+ ms",
                 r"target 1000 ms: (met|missed)"]),
}


@pytest.mark.slow  # 3-35 s each on 2 busy cores, about 2 minutes in all
@pytest.mark.parametrize("name", sorted(CASES))
def test_benchmark_runs_and_prints_its_figures(name, tiny_data_dir, tmp_path):
    args, patterns = CASES[name]
    args = [str(tiny_data_dir) if a == "DATA" else a for a in args]
    proc = run_benchmark(*args, home=tmp_path / "home", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for pattern in patterns:
        assert re.search(pattern, proc.stdout), f"{pattern!r} not in:\n{proc.stdout}"


def test_every_benchmark_is_run_by_a_test():
    """A new benchmark gets a smoke test here or a test file of its own."""
    own_files = {p.stem.removeprefix("test_").removesuffix("_benchmark") for p in Path(__file__).parent.glob("test_*.py")}
    scripts = {p.stem for p in BENCHMARKS.glob("*.py")}
    untested = scripts - set(CASES) - own_files - {"gpu_smoke"}  # gpu_smoke needs CUDA: it exits at once without
    assert not untested, f"benchmarks without a test: {sorted(untested)}"
