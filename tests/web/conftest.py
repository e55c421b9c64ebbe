"""A ``denoiser-tui serve`` on a free port, stopped with SIGINT (what Ctrl+C sends) afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "tui_denoiser", "--runs-root", str(tmp_path / "runs"),
                             "serve", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, start_new_session=True)
    first = proc.stdout.readline()
    assert f"http://127.0.0.1:{port}" in first, first + (proc.stdout.read() if proc.poll() is not None else "")
    lines = [first, proc.stdout.readline()]
    assert f"ssh -L {port}:localhost:{port}" in lines[1]
    try:
        yield f"http://127.0.0.1:{port}/", proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # what Ctrl+C does
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
