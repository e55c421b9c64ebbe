"""What a run folder holds on disk, and the checks a reader makes before following or resuming one.

Plain Python (no torch): the CLI's ``watch``/``--resume`` and the app's ``w`` prompt call these before
anything heavy loads.
"""

from __future__ import annotations

import os
from pathlib import Path

METRICS_FILE = "metrics.jsonl"  # every event of a run, one JSON object per line


def end_partial_line(path: str | Path) -> None:
    """End a JSON-lines file that a killed writer left mid-line, so the next event starts a line of its
    own (readers skip the broken one). Missing or unreadable files are left alone."""
    try:
        with open(path, "rb+") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() == 0:
                return
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")
    except OSError:
        pass


def run_folder_problem(run_dir: str | Path) -> str | None:
    """Why a run folder cannot be watched or resumed (one line), or None when it can be read."""
    run_dir = Path(run_dir)
    try:
        if not run_dir.is_dir():
            return f"run folder not found: {run_dir}"
        os.listdir(run_dir)
        metrics = run_dir / METRICS_FILE
        if metrics.exists():
            with metrics.open("rb"):
                pass
    except PermissionError:
        return f"cannot read the run folder {run_dir} (permission denied)"
    except IsADirectoryError:
        return f"cannot read {run_dir / METRICS_FILE}: it is a folder"
    except OSError as exc:
        return f"cannot read the run folder {run_dir} ({exc.strerror or exc})"
    return None


def latest_run_dir(runs_root: str | Path) -> Path | None:
    """The run folder under ``runs_root`` whose metrics were written last (None if there is none)."""
    root = Path(runs_root).expanduser()
    try:
        runs = sorted((p for p in root.iterdir() if (p / METRICS_FILE).is_file()),
                      key=lambda p: (p / METRICS_FILE).stat().st_mtime, reverse=True)
    except OSError:
        return None
    return runs[0] if runs else None
