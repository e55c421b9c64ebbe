"""The run-folder tailer: new lines become events, broken lines are skipped, a stop event ends it."""

from __future__ import annotations

import json
import threading

from tui_denoiser.core.runs.events import CheckpointSaved, WarningEvent
from tui_denoiser.core.runs.folder import METRICS_FILE, end_partial_line, latest_run_dir, run_folder_problem
from tui_denoiser.core.runs.watch import RunWatcher


def _line(event) -> bytes:
    return (json.dumps(event.to_json()) + "\n").encode()


def test_reads_only_whole_new_lines_and_skips_foreign_ones(tmp_path):
    metrics = tmp_path / METRICS_FILE
    watcher = RunWatcher(tmp_path)
    assert watcher.read_new() == []  # no file yet: nothing, no complaint
    first = CheckpointSaved(path="a.pt", epoch=1, global_step=5, reason="epoch")
    second = CheckpointSaved(path="b.pt", epoch=2, global_step=9, reason="stop")
    metrics.write_bytes(_line(first) + b"not json\n" + b'{"kind": "alien"}\n' + _line(second)[:10])
    assert watcher.read_new() == [first]
    with metrics.open("ab") as fh:
        fh.write(_line(second)[10:])
    assert watcher.read_new() == [second]
    metrics.write_bytes(_line(first))  # replaced by a shorter file: read from its start
    assert watcher.read_new() == [first]


def test_an_unreadable_file_is_reported_once(tmp_path):
    (tmp_path / METRICS_FILE).mkdir()
    watcher = RunWatcher(tmp_path)
    events = watcher.read_new()
    assert len(events) == 1 and isinstance(events[0], WarningEvent) and "cannot read" in events[0].message
    assert watcher.read_new() == []


def test_follow_reports_until_stopped(tmp_path):
    event = CheckpointSaved(path="a.pt", epoch=1, global_step=5, reason="epoch")
    (tmp_path / METRICS_FILE).write_bytes(_line(event))
    stop, seen = threading.Event(), []

    def report(got):
        seen.append(got)
        stop.set()

    thread = threading.Thread(target=RunWatcher(tmp_path, poll_s=0.01).follow, args=(stop, report))
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive() and seen == [event]


def test_run_folder_helpers(tmp_path):
    assert "not found" in run_folder_problem(tmp_path / "missing")
    run = tmp_path / "run"
    run.mkdir()
    assert run_folder_problem(run) is None
    assert latest_run_dir(tmp_path) is None
    (run / METRICS_FILE).write_bytes(b'{"kind": "warning", "message": "x"')
    end_partial_line(run / METRICS_FILE)
    assert (run / METRICS_FILE).read_bytes().endswith(b"\n")
    assert latest_run_dir(tmp_path) == run
