"""benchmarks/precision.py runs end to end (a round of one step each) and prints the default beside fp32."""

from __future__ import annotations

import pytest

from helpers.processes import run_benchmark


@pytest.mark.slow  # about 15 s on 2 busy cores
def test_prints_every_variant_and_a_verdict(tmp_path):
    proc = run_benchmark("precision.py", "--device", "cpu", "--recipe", "seed", "--steps", "1", "--warmup", "1",
                         "--rounds", "1", "--batch-size", "16", home=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]  # 1: the default read slower (noise at one step)
    out = proc.stdout
    assert out.startswith("recipe seed; device: cpu"), out
    assert "choice: " in out and "[probed in" in out, out  # a fresh home: the choice was probed here
    table = out[out.index("variant "):]
    assert "\nfp32 " in table and "1.00x" in table.split("\nfp32 ")[1].splitlines()[0], table
    assert "\nfp32+channels-last " in table, table
    assert "<- default" in table or "the default is fp32 contiguous itself" in table, table
    assert "\nverdict: " in table, table
