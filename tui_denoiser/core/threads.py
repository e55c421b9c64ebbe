"""The CPU thread policy shared by training and sampling: use the cores other processes leave free."""

from __future__ import annotations

import os

import torch

_THREADS_SET: int | None = None  # the thread count cpu_threads() last set, to notice a caller's own choice
_THREADS_CEILING = 1


def cpu_threads(refresh: bool = False) -> int:
    """Set and return torch's CPU thread count: the cores other processes leave free, at least 1.

    On a shared machine, OpenMP threads wait for a descheduled sibling at every parallel region, so
    2 threads beside a busy process ran training 5-15x slower than 1 here (benchmarks/train_throughput.py
    --threads 1 / --threads 2). So use ``cores - round(1-minute load average)`` threads, never more than
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
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows
        busy = 0.0
    threads = max(1, min(_THREADS_CEILING, cores - int(round(busy))))
    if threads != current:
        torch.set_num_threads(threads)
    _THREADS_SET = threads
    return threads


def reserve_cores(count: int = 1) -> int:
    """Keep ``count`` cores free of torch's CPU threads for the caller's own work, and return the new
    thread count. The app calls it before CPU training so that its event loop (keys, painting) is never
    starved; :func:`cpu_threads` then works under this as its ceiling."""
    cores = os.cpu_count() or 1
    if cores > count and torch.get_num_threads() > cores - count:
        torch.set_num_threads(cores - count)
    return torch.get_num_threads()
