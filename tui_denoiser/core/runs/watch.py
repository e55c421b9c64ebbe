"""Following another process's run from its folder: the tailer behind ``watch`` and the app's ``w``.

Kept out of the UI (as toolong keeps its file watcher apart from its widgets): a ``RunWatcher`` reads
the events appended to ``metrics.jsonl`` since it last looked, and ``follow`` polls until a
``threading.Event`` is set. The app runs ``follow`` in a thread worker and hands it the worker's
cancelled event. Plain Python, no torch.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Callable

from tui_denoiser.core.runs.events import TrainEvent, WarningEvent, event_from_json
from tui_denoiser.core.runs.folder import METRICS_FILE

POLL_S = 0.5  # how often a followed file is read again


class RunWatcher:
    """Reads a run's events as the run appends them.

    It keeps following after a Finished or Failed event (a run stopped by a signal may be resumed and
    append again); half-written or foreign lines are skipped; a file replaced by a shorter one is read
    from its start; a file that becomes unreadable is reported once as a ``WarningEvent`` event."""

    def __init__(self, run_dir: str | Path, *, poll_s: float = POLL_S) -> None:
        self.path = Path(run_dir) / METRICS_FILE
        self.poll_s = poll_s
        self._position = 0
        self._pending = b""  # the start of a line whose end is not written yet
        self._reported: str | None = None

    def read_new(self) -> list[TrainEvent]:
        """The events written since the last call (every one: a replayed backlog keeps every point)."""
        events: list[TrainEvent] = []
        try:
            with self.path.open("rb") as handle:
                size = handle.seek(0, 2)
                if size < self._position:  # replaced by a new file: read it from the start
                    self._position, self._pending = 0, b""
                handle.seek(self._position)
                chunk = handle.read()
                self._position = handle.tell()
            self._reported = None
        except FileNotFoundError:
            chunk = b""
        except OSError as exc:
            chunk = b""
            problem = f"cannot read {self.path} ({exc.strerror or exc})"
            if problem != self._reported:
                self._reported = problem
                events.append(WarningEvent(problem))
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            try:
                events.append(event_from_json(json.loads(line)))
            except (ValueError, TypeError):
                continue
        return events

    def follow(self, stop: threading.Event, report: Callable[[TrainEvent], None]) -> None:
        """Report every new event until ``stop`` is set (checked at least every ``poll_s``)."""
        while not stop.is_set():
            for event in self.read_new():
                report(event)
            stop.wait(self.poll_s)
