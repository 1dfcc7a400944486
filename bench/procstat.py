"""CPU time and memory of another process, read from ``/proc`` (Linux only).

Example:
    >>> cpu_seconds(os.getpid()) >= 0      # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cpu_seconds", "cpu_times", "peak_rss_kib", "rss_kib"]

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of every thread of ``pid`` so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the name in parentheses may hold spaces
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return utime / _TICKS, stime / _TICKS


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of every thread of ``pid`` so far."""
    return sum(cpu_times(pid))


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(f"{key} not in /proc/{pid}/status")


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (``VmRSS``)."""
    return _status_kib(pid, "VmRSS")


def peak_rss_kib(pid: int) -> int:
    """Peak resident set size of ``pid`` in KiB (``VmHWM``)."""
    return _status_kib(pid, "VmHWM")
