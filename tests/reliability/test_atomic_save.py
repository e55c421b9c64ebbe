"""A checkpoint is never half-written: SIGKILL a process that saves in a loop, at random moments; the
last checkpoint always loads, and the temp files a killed save leaves are never taken for checkpoints."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import time

import torch

from helpers.processes import REPO
from tui_denoiser.core import checkpoint as ck
from tui_denoiser.core.checkpoint import find_checkpoints, load_checkpoint, save_checkpoint

SAVER = textwrap.dedent("""
    import sys, torch
    from tui_denoiser.core.checkpoint import save_checkpoint
    path, i = sys.argv[1], 0
    while True:
        i += 1
        save_checkpoint(path, {"model_config": {}, "train_config": {}, "model": {},
                               "i": i, "blob": torch.full((1_000_000,), float(i))})
        print(i, flush=True)
""")


def test_sigkill_during_saves_leaves_a_loadable_checkpoint(tmp_path):
    run_dir = tmp_path / "runs" / "run"
    last = run_dir / "last.pt"
    rng = random.Random(0)
    kills = 0
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(last)], cwd=REPO, stdout=subprocess.PIPE,
                                text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert proc.stdout.readline().strip()  # at least one save finished
        time.sleep(rng.uniform(0.0, 0.3))  # then kill at a random moment, most likely inside a save
        proc.kill()
        proc.wait()
        proc.stdout.close()
        kills += 1
        payload = load_checkpoint(last)
        assert torch.equal(payload["blob"], torch.full((1_000_000,), float(payload["i"])))
    assert kills == 3
    # whatever temp files the kills left are hidden .tmp names, never listed as checkpoints
    assert find_checkpoints(tmp_path / "runs") == [last]
    assert all(p.name == "last.pt" or (p.name.startswith(".last.pt.") and p.name.endswith(".tmp"))
               for p in run_dir.iterdir())


def test_stale_temp_files_are_removed_by_the_next_save(tmp_path):
    last = tmp_path / "last.pt"
    stale = tmp_path / ".last.pt.abc123.tmp"
    fresh = tmp_path / ".last.pt.def456.tmp"  # maybe a save in progress: younger than STALE_TEMP_S
    stale.write_bytes(b"half a checkpoint")
    fresh.write_bytes(b"half a checkpoint")
    old = time.time() - ck.STALE_TEMP_S - 60
    os.utime(stale, (old, old))
    save_checkpoint(last, {"model_config": {}, "train_config": {}, "model": {}})
    assert not stale.exists() and fresh.exists()
    assert load_checkpoint(last)["format"] == ck.FORMAT
