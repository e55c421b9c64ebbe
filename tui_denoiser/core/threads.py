"""The CPU thread policy shared by training and sampling: use the cores other processes leave free."""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

_THREADS_SET: int | None = None  # the thread count cpu_threads() last set, to notice a caller's own choice
_THREADS_CEILING = 1
PROC = Path("/proc")
BUSY_SAMPLES = 5  # /proc/stat readings averaged by busy_elsewhere(), BUSY_INTERVAL_S apart
BUSY_INTERVAL_S = 0.02


def _procs_running(proc: Path) -> int:
    """The kernel's count of runnable tasks (threads) right now, from ``/proc/stat``."""
    for line in (proc / "stat").read_text().splitlines():
        if line.startswith("procs_running"):
            return int(line.split()[1])
    raise ValueError("no procs_running line")


def _own_running(proc: Path) -> int:
    """How many of this process's own threads are running or runnable (state R), the reader included."""
    count = 0
    for task in (proc / "self" / "task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended between listing and reading
            continue
        fields = stat[stat.rfind(")") + 1:].split()  # the name in parentheses may hold spaces
        if fields and fields[0] == "R":
            count += 1
    return count


def busy_elsewhere(proc: Path | None = None, samples: int = BUSY_SAMPLES,
                   interval: float = BUSY_INTERVAL_S) -> float | None:
    """How many cores other processes keep busy *now*: the runnable tasks of ``/proc/stat``
    (``procs_running``) less this process's own running threads, averaged over a few readings
    ``interval`` apart (about 0.1 s in all). None where ``/proc`` does not have them (not Linux).

    Unlike the 1-minute load average, this no longer counts a run that ended seconds ago."""
    proc = PROC if proc is None else proc
    readings = []
    try:
        for i in range(max(1, samples)):
            if i:
                time.sleep(interval)
            readings.append(max(0, _procs_running(proc) - _own_running(proc)))
    except (OSError, ValueError, IndexError):
        return None
    return sum(readings) / len(readings)


def _load_average() -> float:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows
        return 0.0


def cpu_threads(refresh: bool = False) -> int:
    """Set and return torch's CPU thread count: the cores other processes leave free, at least 1.

    On a shared machine, OpenMP threads wait for a descheduled sibling at every parallel region, so a
    thread per core beside a busy process trains several times slower than leaving that core alone
    (docs/architecture.md, "Figures behind code choices"; compare ``benchmarks/train_throughput.py
    --threads 1`` and ``--threads 2`` beside a busy process).
    So use ``cores - round(busy)`` threads, where ``busy`` is what other processes run now
    (:func:`busy_elsewhere`; the 1-minute load average where ``/proc`` is absent), never more than
    torch was set to before (a caller's ``torch.set_num_threads`` is a ceiling). ``OMP_NUM_THREADS`` or
    ``DENOISER_TUI_THREADS`` (a number) turn the policy off. Decided once per process unless ``refresh``.
    """
    global _THREADS_SET
    current = torch.get_num_threads()
    if _THREADS_SET is not None and not refresh and current == _THREADS_SET:
        return current
    forced = os.environ.get("DENOISER_TUI_THREADS", "").strip()
    if forced.isdigit() and int(forced) > 0:
        torch.set_num_threads(int(forced))
        _THREADS_SET = int(forced)
        return _THREADS_SET
    if os.environ.get("OMP_NUM_THREADS"):
        _THREADS_SET = current
        return current
    global _THREADS_CEILING
    if _THREADS_SET is None or current != _THREADS_SET:
        _THREADS_CEILING = current  # first call, or a caller set its own count since: that is the ceiling
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    busy = busy_elsewhere()
    if busy is None:
        busy = _load_average()
    threads = max(1, min(_THREADS_CEILING, cores - int(round(busy))))
    if threads != current:
        torch.set_num_threads(threads)
    _THREADS_SET = threads
    return threads

