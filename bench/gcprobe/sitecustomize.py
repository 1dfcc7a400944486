"""Loaded at start-up by a server run with ``PYTHONPATH=bench/gcprobe`` (``python -m bench.gc``).

When ``BENCH_GC_DIR`` names a directory, every garbage collection is recorded as
``[generation, start (time.perf_counter), seconds]``: ``SIGUSR1`` forgets what was recorded,
``SIGUSR2`` writes the records as JSON to ``<BENCH_GC_DIR>/<pid>.gc``. Without the variable it
does nothing.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import time
from typing import Any


def _install(path: str) -> None:
    records: list[tuple[int, float, float]] = []
    started = [0.0]

    def on_collection(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            records.append((info["generation"], started[0], time.perf_counter() - started[0]))

    def forget(signum: int, frame: object) -> None:
        records.clear()

    def write(signum: int, frame: object) -> None:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(records, out)

    gc.callbacks.append(on_collection)
    signal.signal(signal.SIGUSR1, forget)
    signal.signal(signal.SIGUSR2, write)


if directory := os.environ.get("BENCH_GC_DIR"):
    _install(os.path.join(directory, f"{os.getpid()}.gc"))
