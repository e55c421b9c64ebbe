"""As a user over SSH would: runs inside tmux at 80x24, then the tmux session is killed (SIGHUP)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time

import pytest

from helpers.processes import REPO, child_env, read_events, wait_until
from tui_denoiser.core.checkpoint import load_checkpoint

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def _tmux(*args, check=True):
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=check)


def _session(name: str, command: str, env: dict[str, str], tmp_path) -> None:
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()
                       if k in ("DENOISER_TUI_HOME", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PATH", "PYTHONPATH"))
    script = tmp_path / f"{name}.sh"
    script.write_text(f"cd {shlex.quote(str(REPO))}\nunset COLORTERM\nexport TERM=xterm-256color {exports}\n"
                      f"exec {command}\n")  # Textual draws on stderr: never redirect it
    _tmux("new-session", "-d", "-x", "80", "-y", "24", "-s", name, f"sh {shlex.quote(str(script))}")


def _pane_pid(name: str) -> int:
    return int(_tmux("list-panes", "-t", name, "-F", "#{pane_pid}").stdout.split()[0])


def _kill_if_alive(pid: int | None) -> None:
    """Never leave an app behind when a step of the test failed (it would train on, unseen)."""
    import os
    import signal

    if pid is not None and not _gone(pid):
        os.kill(pid, signal.SIGKILL)


def _wait_gone(pid: int, name: str, run_dirs, timeout: float = 60) -> None:
    """Wait for the process to end; if it does not, fail with what it was doing: the run's last events
    (was the stop's checkpoint written? then the trainer finished and the exit hung) and the screen."""
    try:
        wait_until(lambda: _gone(pid), timeout=timeout)
    except AssertionError as exc:
        events = [(e["kind"], e.get("reason")) for d in run_dirs() for e in read_events(d)][-8:]
        screen = _tmux("capture-pane", "-p", "-t", name, check=False).stdout
        raise AssertionError(f"{exc}\nlast events: {events}\nscreen:\n{screen}") from None


def _gone(pid: int) -> bool:
    try:
        import os

        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_headless_run_in_tmux_survives_kill_session(tmp_path, tiny_data_dir):
    name = f"dn-headless-{time.monotonic_ns()}"
    run_dir = tmp_path / "run"
    _session(name, f"{shlex.quote(sys.executable)} -m tui_denoiser train --run-dir {run_dir} --data-dir "
                   f"{tiny_data_dir} --epochs 500 --batch-size 16 --channels 8,8,8 --no-preview",
             child_env(tmp_path / "home"), tmp_path)
    pid = None
    try:
        pid = _pane_pid(name)
        wait_until(lambda: any(e["kind"] == "step" for e in read_events(run_dir)), timeout=90)
        _tmux("kill-session", "-t", name)
        _wait_gone(pid, name, lambda: [run_dir])
    finally:
        _kill_if_alive(pid)
        _tmux("kill-session", "-t", name, check=False)
    events = read_events(run_dir)
    assert any(e["kind"] == "checkpoint" and e["reason"] == "signal" for e in events), events[-3:]
    assert events[-1]["kind"] == "finished" and events[-1]["stopped"]
    assert load_checkpoint(run_dir / "last.pt")["position"] is not None


@pytest.mark.parametrize("how", ["kill-session", "SIGTERM"])
def test_app_in_a_256_colour_tmux_paints_and_saves_on_signal(tmp_path, tiny_data_dir, how):
    name = f"dn-app-{time.monotonic_ns()}"
    home = tmp_path / "home"
    pid = None
    _session(name, f"{shlex.quote(sys.executable)} -m tui_denoiser --data-dir {tiny_data_dir}",
             child_env(home), tmp_path)
    try:
        pid = _pane_pid(name)
        # no truecolour (TERM=xterm-256color, no COLORTERM): the app paints (it opens on the sampling
        # screen with the shipped model), F2 switches to training, keys work
        wait_until(lambda: "f2 Train" in _tmux("capture-pane", "-p", "-t", name).stdout, timeout=90)
        _tmux("send-keys", "-t", name, "F2")
        wait_until(lambda: "Ready: check the form" in _tmux("capture-pane", "-p", "-t", name).stdout, timeout=90)
        _tmux("send-keys", "-t", name, "n")
        runs = home / "runs"
        wait_until(lambda: any(e["kind"] == "step" for d in runs.glob("*") for e in read_events(d)), timeout=120)
        screen = _tmux("capture-pane", "-p", "-t", name).stdout
        assert "Training on cpu" in screen, screen
        if how == "kill-session":
            _tmux("kill-session", "-t", name)  # SIGHUP, the terminal gone: as when SSH drops
        else:
            import os
            import signal

            os.kill(pid, signal.SIGTERM)
        _wait_gone(pid, name, lambda: list(runs.glob("*")))
    finally:
        _tmux("kill-session", "-t", name, check=False)
        _kill_if_alive(pid)
    (run_dir,) = list(runs.glob("*"))
    events = read_events(run_dir)
    assert any(e["kind"] == "checkpoint" and e["reason"] == "stop" for e in events), events[-3:]
    assert events[-1]["kind"] == "finished" and events[-1]["stopped"]
    load_checkpoint(run_dir / "last.pt")
