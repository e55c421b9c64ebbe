"""Start-up: from launching ``denoiser-tui`` to the first painted screen, against ``import torch``.

Spawns the app in a pseudo-terminal (80x24 by default) and times from the spawn until the screen
shows the first frame (its footer, "^q Quit", is written last), then quits it (ctrl+q). The baseline is the time
of ``python -c "import torch"`` (what a front end that imported torch first would pay before painting
anything); ``python -c pass`` shows the interpreter's own start. Runs alternate, repeat after repeat.

    python benchmarks/startup.py [--repeats 5] [--cols 80 --rows 24]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time

ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
TITLE = b"Quit"  # the footer: Textual writes the first frame whole, footer last


def time_app(cmd: list[str], cols: int, rows: int, timeout: float, env: dict[str, str]) -> float:
    """Seconds from spawn until the title is on the screen (ANSI codes stripped)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
                            close_fds=True)
    os.close(slave)
    seen = b""
    elapsed = None
    try:
        while time.perf_counter() - t0 < timeout:
            ready, _, _ = select.select([master], [], [], 0.01)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            seen += chunk
            if TITLE in ANSI.sub(b"", seen):
                elapsed = time.perf_counter() - t0
                break
        if elapsed is None:
            raise SystemExit(f"no title within {timeout}s; the app wrote: {ANSI.sub(b'', seen)[-400:]!r}")
        os.write(master, b"\x11")  # ctrl+q
        end = time.perf_counter() + 10
        while proc.poll() is None and time.perf_counter() < end:
            if select.select([master], [], [], 0.05)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    return elapsed


def time_cmd(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cols", type=int, default=80)
    parser.add_argument("--rows", type=int, default=24)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    app = shutil.which("denoiser-tui")
    cmd = [app] if app else [sys.executable, "-m", "tui_denoiser"]
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor", DENOISER_TUI_HOME=home)
        time_app(cmd, args.cols, args.rows, args.timeout, env)  # warm the file cache once
        time_cmd([sys.executable, "-c", "import torch"], env)
        apps, torches, bare = [], [], []
        for _ in range(args.repeats):
            apps.append(time_app(cmd, args.cols, args.rows, args.timeout, env))
            torches.append(time_cmd([sys.executable, "-c", "import torch"], env))
            bare.append(time_cmd([sys.executable, "-c", "pass"], env))
    a, t, p = (statistics.median(v) for v in (apps, torches, bare))
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}; median of {args.repeats}; "
          f"{args.cols}x{args.rows} pty")
    print(f"python -c pass:                      {p * 1e3:7.0f} ms")
    print(f"baseline python -c 'import torch':   {t * 1e3:7.0f} ms")
    print(f"denoiser-tui to its painted title:   {a * 1e3:7.0f} ms  (runs: "
          f"{', '.join(f'{v * 1e3:.0f}' for v in apps)})")
    print(f"ratio (import torch / app start): {t / a:.2f}x; target 1000 ms: {'met' if a <= 1.0 else 'missed'}")


if __name__ == "__main__":
    main()
