"""Real subprocesses of ``python -m tui_denoiser`` on tiny data, and reading the run folders they write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SMALL_MODEL = ["--channels", "8,8,8", "--no-preview"]


def child_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DENOISER_TUI_HOME=str(home), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


def run_benchmark(script: str, *args: str, home: Path | None = None, cwd: Path | None = None,
                  timeout: float = 300) -> subprocess.CompletedProcess:
    """``python benchmarks/<script> ARGS`` on the CPU with one torch thread, its output captured."""
    env = {**os.environ, "DENOISER_TUI_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("BENCH_TO_STDERR", None)
    if home is not None:
        env["DENOISER_TUI_HOME"] = str(home)
    return subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=cwd)


def start_train(args: list[str], home: Path, extra_env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tui_denoiser", "train", *args], cwd=REPO,
                            env={**child_env(home), **(extra_env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def read_events(run_dir: Path) -> list[dict]:
    """Every complete, parseable line of ``metrics.jsonl`` (a killed writer may leave half a line)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
    return events


def wait_until(condition, timeout: float = 60.0, step: float = 0.05, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"process ended early (rc {proc.returncode}): {err[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {condition}")
        time.sleep(step)
