"""SIGHUP, SIGTERM and SIGINT to a headless run: it saves a checkpoint, exits 0, and --resume continues."""

from __future__ import annotations

import signal

import pytest

from helpers.processes import SMALL_MODEL, read_events, start_train, wait_until
from tui_denoiser.core.checkpoint import load_checkpoint


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_signal_saves_a_checkpoint_and_exits_cleanly(sig, tmp_path, tiny_data_dir):
    run_dir = tmp_path / "run"
    proc = start_train(["--run-dir", str(run_dir), "--data-dir", str(tiny_data_dir), "--epochs", "500",
                        "--batch-size", "16", *SMALL_MODEL], tmp_path / "home")
    try:
        # mid-run: a step of the second epoch has been reported (epoch 1 is checkpointed)
        wait_until(lambda: any(e["kind"] == "step" and e["epoch"] >= 1 for e in read_events(run_dir)), proc=proc)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    events = read_events(run_dir)
    saved = [e for e in events if e["kind"] == "checkpoint" and e["reason"] == "signal"]
    assert saved, events[-3:]
    assert events[-1]["kind"] == "finished" and events[-1]["stopped"] is True
    payload = load_checkpoint(run_dir / "last.pt")
    assert payload["global_step"] == saved[-1]["global_step"] > 16  # mid-epoch: its position is kept
    assert payload["position"] is not None
    assert "resume with: denoiser-tui train --resume" in err
    if sig != signal.SIGHUP:
        return  # one resume is enough (SIGHUP, the SSH case); test_kill_resume covers the rest

    # --resume continues from that step to the (now smaller) end
    proc = start_train(["--resume", str(run_dir), "--epochs", str(payload["epoch"] + 1)], tmp_path / "home")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    started = [e for e in read_events(run_dir) if e["kind"] == "started"]
    assert started[-1]["global_step"] == payload["global_step"]
    final = read_events(run_dir)[-1]
    assert final["kind"] == "finished" and final["stopped"] is False
    assert final["epochs_done"] == payload["epoch"] + 1
