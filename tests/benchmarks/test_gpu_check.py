"""benchmarks/gpu_check.py runs its every row on the CPU with --dry-run, on tiny IDX files."""

from __future__ import annotations

import pytest

from helpers.processes import run_benchmark


def run_check(*args: str):
    return run_benchmark("gpu_check.py", *args)


@pytest.mark.slow  # about 10 s on 2 busy cores
def test_dry_run_prints_every_row(tiny_data_dir):
    proc = run_check("--dry-run", "--data-dir", str(tiny_data_dir))
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "DRY RUN" in out
    assert "precision (dry run: fp32 unless asked): bf16 forced off" in out
    table = out[out.index("| check"):]
    for row in ("| original, 1 epoch (cut to 3 steps)", "| training images/s", "| edm, 1 epoch (cut to 3 steps)",
                "| one digit, shipped model", "| nccl DDP"):
        assert row in table, out
    assert f"data: 256 training and 64 test images, from {tiny_data_dir}" in out  # the IDX files, read
    assert "skipped" in table.split("| nccl DDP")[1].splitlines()[0]


def test_data_dir_is_required_without_dry_run():
    proc = run_check()
    assert proc.returncode == 2
    assert "--data-dir is required" in proc.stderr
