"""SIGKILL in the middle of an epoch, then --resume: at most that epoch is lost, and the run ends where
an uninterrupted run with the same seed ends (same epochs and LR schedule; losses within LOSS_RTOL)."""

from __future__ import annotations

import json
import signal

from helpers.processes import SMALL_MODEL, read_events, start_train, wait_until
from tui_denoiser.core.checkpoint import load_checkpoint

# Resuming from an epoch-end checkpoint restores weights, optimizer, scheduler, EMA and every RNG, so on
# the same CPU and thread count the losses match bit for bit; the tolerance only allows for kernels that
# are not bitwise reproducible elsewhere.
LOSS_RTOL = 1e-4
STEPS = 64  # per epoch: 1024 images / batch 16
# Both runs and the resume train in the same precision (left to the machine, two concurrent first runs
# could time the options differently, and a resume decides them again).
PRECISION = ["--no-bf16", "--no-channels-last"]
ARGS = ["--epochs", "3", "--batch-size", "16", "--lr", "1e-3", "--step-size", "1", "--gamma", "0.5",
        "--seed", "7", *SMALL_MODEL, *PRECISION]


def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path, mid_data_dir):
    home = tmp_path / "home"
    data = ["--data-dir", str(mid_data_dir)]
    reference = start_train(["--run-dir", str(tmp_path / "ref"), *data, *ARGS], home)

    run_dir = tmp_path / "killed"
    victim = start_train(["--run-dir", str(run_dir), *data, *ARGS], home)
    try:
        # the middle of the second epoch (0-based epoch 1): epoch 1 is checkpointed
        wait_until(lambda: any(e["kind"] == "step" and e["epoch"] == 1 and 10 <= e["step_in_epoch"] <= 50
                               for e in read_events(run_dir)), timeout=120, step=0.01, proc=victim)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    finally:
        if victim.poll() is None:
            victim.kill()
    killed_at = max(e["global_step"] for e in read_events(run_dir) if e["kind"] == "step")
    saved = load_checkpoint(run_dir / "last.pt")
    assert saved["epoch"] == 1, "every finished epoch was kept"
    assert 0 < killed_at - saved["global_step"] < STEPS, "at most the current epoch was lost"

    resumed = start_train(["--resume", str(run_dir), *PRECISION], home)
    _, err = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, err
    _, err = reference.communicate(timeout=240)
    assert reference.returncode == 0, err

    ref = load_checkpoint(tmp_path / "ref" / "last.pt")
    got = load_checkpoint(run_dir / "last.pt")
    assert got["epoch"] == ref["epoch"] == 3
    assert got["global_step"] == ref["global_step"] == 3 * STEPS
    assert [h["lr"] for h in got["history"]] == [h["lr"] for h in ref["history"]] == [1e-3, 5e-4, 2.5e-4]
    for mine, theirs in zip(got["history"], ref["history"]):
        for key in ("train_loss", "val_loss"):
            assert abs(mine[key] - theirs[key]) <= LOSS_RTOL * abs(theirs[key]), (key, mine, theirs)
    started = [e for e in read_events(run_dir) if e["kind"] == "started"]
    assert [s["start_epoch"] for s in started] == [0, 1]
    assert started[-1]["lr_schedule"] == started[0]["lr_schedule"]
    # the metrics file stays readable line by line after the kill (a half line is ended, then skipped)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    bad = 0
    for line in lines:
        try:
            json.loads(line)
        except ValueError:
            bad += 1
    assert bad <= 1
