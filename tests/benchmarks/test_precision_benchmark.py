"""benchmarks/precision.py runs end to end (a round of one step each) and prints the default beside fp32."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "precision.py"


@pytest.mark.slow  # about 15 s on 2 busy cores
def test_prints_every_variant_and_a_verdict(tmp_path):
    env = {**os.environ, "DENOISER_TUI_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "DENOISER_TUI_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--recipe", "seed", "--steps", "1",
                           "--warmup", "1", "--rounds", "1", "--batch-size", "16"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]  # 1: the default read slower (noise at one step)
    out = proc.stdout
    assert out.startswith("recipe seed; device: cpu"), out
    assert "choice: " in out and "[probed in" in out, out  # a fresh home: the choice was probed here
    table = out[out.index("variant "):]
    assert "\nfp32 " in table and "1.00x" in table.split("\nfp32 ")[1].splitlines()[0], table
    assert "\nfp32+channels-last " in table, table
    assert "<- default" in table or "the default is fp32 contiguous itself" in table, table
    assert "\nverdict: " in table, table
