"""benchmarks/training_ceiling.py runs end to end on tiny IDX files and prints each of its lines."""

from __future__ import annotations

import re

import pytest

from helpers.processes import run_benchmark


def run_ceiling(*args: str):
    return run_benchmark("training_ceiling.py", *args)


@pytest.mark.slow  # about 20 s on 2 busy cores
def test_prints_ceiling_flops_rates_and_widths(tiny_data_dir):
    proc = run_ceiling("--data-dir", str(tiny_data_dir), "--steps", "2", "--warmup", "1", "--no-bf16",
                       "--widths", "8,8,8")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert re.search(r"matrix-multiply ceiling .*: fp32 \d+ GFLOP/s", out), out
    flops = re.search(r"seed model ([\d.]+) M, original model ([\d.]+) M", out)
    assert flops and float(flops[2]) > float(flops[1]) > 0, out  # the original adds FiLM and a wider skip input
    assert "default run (bf16 forced off (--no-bf16)" in out
    assert re.search(r"seed model, bare step \(no DataLoader\): +\d+ images/s; the seed loop runs at \d+% of it", out), out
    assert re.search(r"at 100 % of the fp32 ceiling: .* 4x allows +[\d.]+ M FLOPs per image", out), out
    assert re.search(r"widths \(8, 8, 8\): +[\d.]+ M FLOPs per image, bare step +\d+ images/s \(fp32\)", out), out


def test_bad_widths_get_one_line():
    proc = run_ceiling("--data-dir", "x", "--widths", "8,8")
    assert proc.returncode == 2
    assert "widths are three positive integers like 16,32,64, got '8,8'" in proc.stderr
