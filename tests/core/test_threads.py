"""The CPU thread policy: it counts what other processes run now, not the 1-minute load average."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tui_denoiser.core import threads


def fake_proc(root: Path, procs_running: int, own_states: list[str]) -> Path:
    """A /proc with a /proc/stat and this process's threads in the given states."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "stat").write_text(f"cpu  1 2 3 4\nintr 5\nprocs_running {procs_running}\nprocs_blocked 0\n")
    for i, state in enumerate(own_states, start=100):
        task = root / "self" / "task" / str(i)
        task.mkdir(parents=True)
        (task / "stat").write_text(f"{i} (pt worker (x)) {state} 1 2 3\n")  # a name with spaces and parens
    return root


@pytest.fixture
def torch_threads(monkeypatch):
    """Restore torch's thread count and the policy's memory after the test; no env overrides in it."""
    before = torch.get_num_threads()
    monkeypatch.delenv("DENOISER_TUI_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "_THREADS_SET", None)
    monkeypatch.setattr(threads, "_THREADS_CEILING", 1)
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: set(range(4)), raising=False)
    yield
    torch.set_num_threads(before)


def test_busy_elsewhere_subtracts_own_running_threads(tmp_path):
    proc = fake_proc(tmp_path / "proc", procs_running=4, own_states=["R", "S", "R"])
    assert threads.busy_elsewhere(proc, samples=2, interval=0) == 2.0


def test_busy_elsewhere_never_negative(tmp_path):
    proc = fake_proc(tmp_path / "proc", procs_running=1, own_states=["R", "R"])
    assert threads.busy_elsewhere(proc, samples=1, interval=0) == 0.0


def test_busy_elsewhere_without_proc_is_none(tmp_path):
    assert threads.busy_elsewhere(tmp_path / "absent", samples=1, interval=0) is None


def test_busy_elsewhere_reads_this_machine():
    if not Path("/proc/stat").is_file():
        pytest.skip("no /proc here")
    busy = threads.busy_elsewhere(samples=1)
    assert busy is not None and busy >= 0


def test_a_run_that_just_ended_does_not_count(torch_threads, monkeypatch):
    """The load average still says 2 after a run ended; nothing runs now, so every core is used."""
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (2.0, 1.0, 0.5))
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: 0.0)
    torch.set_num_threads(4)
    assert threads.cpu_threads(refresh=True) == 4


def test_busy_processes_leave_their_cores(torch_threads, monkeypatch):
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: 2.2)
    torch.set_num_threads(4)
    assert threads.cpu_threads(refresh=True) == 2
    assert torch.get_num_threads() == 2


def test_at_least_one_thread(torch_threads, monkeypatch):
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: 9.0)
    torch.set_num_threads(4)
    assert threads.cpu_threads(refresh=True) == 1


def test_load_average_where_proc_is_absent(torch_threads, monkeypatch):
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: None)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (3.0, 1.0, 0.5))
    torch.set_num_threads(4)
    assert threads.cpu_threads(refresh=True) == 1


def test_a_callers_count_is_the_ceiling(torch_threads, monkeypatch):
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: 0.0)
    torch.set_num_threads(2)
    assert threads.cpu_threads(refresh=True) == 2  # 4 cores free, but the caller asked for 2


def test_decided_once_unless_refresh(torch_threads, monkeypatch):
    busy = iter([0.0, 3.0])
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: next(busy))
    torch.set_num_threads(4)
    assert threads.cpu_threads() == 4
    assert threads.cpu_threads() == 4  # not asked again
    assert threads.cpu_threads(refresh=True) == 1


def test_env_overrides(torch_threads, monkeypatch):
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: 3.0)
    torch.set_num_threads(4)
    monkeypatch.setenv("DENOISER_TUI_THREADS", "3")
    assert threads.cpu_threads(refresh=True) == 3
    monkeypatch.delenv("DENOISER_TUI_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    torch.set_num_threads(4)
    assert threads.cpu_threads(refresh=True) == 4
