"""``python -m bench.run [--quick]``: measure graphwire against its baselines, print, save JSON.

Servers run as their own processes on free loopback ports; the load generator runs here. Every
phase is bounded in count and time, and every server is stopped on the way out. The benchmark
only reports: it exits 0 whether or not a target is met (a missed one is printed as MISSED).
"""

from __future__ import annotations

import argparse
import atexit
import os
import platform
import resource
import shlex
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop

from bench.fingerprint import source_fingerprint
from bench.report import check_targets, render, write_json
from bench.scenarios import (
    FULL,
    QUICK,
    concurrency,
    cpu_per_token,
    idle_memory,
    plan_dict,
    stderr_log,
)
from bench.servers import ROOT, stop_all

__all__ = ["main"]

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "latest.json"


def raise_file_limit() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit (servers started from here inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


async def _run(quick: bool, command: str) -> dict[str, Any]:
    plan = QUICK if quick else FULL
    started, clock = datetime.now(UTC), time.monotonic()
    log = stderr_log(clock)
    source_before = source_fingerprint()
    log(f"plan: {plan}")
    with tempfile.TemporaryDirectory(prefix="graphwire-bench-") as tmp:
        workdir = Path(tmp)
        log("(a) CPU per token: starting servers")
        a = await cpu_per_token(plan, workdir, log)
        log("(b) concurrency: starting servers")
        b = await concurrency(plan, workdir, log)
        log("(c) idle memory: starting servers")
        c = await idle_memory(plan, workdir, log)
    source_after = source_fingerprint()
    if source_after != source_before:
        log("WARNING: graphwire's source changed during the run; the figures mix versions")
    results: dict[str, Any] = {
        "meta": {
            "source": source_before,
            "source_changed_during_run": source_after != source_before,
            "command": command,
            "quick": quick,
            "started": started.isoformat(timespec="seconds"),
            "duration_s": round(time.monotonic() - clock, 1),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "file_limit": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
            "plan": plan_dict(plan),
        },
        "cpu_per_token": a,
        "concurrency": b,
        "idle_memory": c,
    }
    results["targets"] = check_targets(results)
    return results


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through every `finally`, stopping the servers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results file")
    args = parser.parse_args(argv)
    raise_file_limit()
    atexit.register(stop_all)  # servers go even if the run is interrupted
    signal.signal(signal.SIGTERM, _terminate)
    python = os.path.relpath(sys.executable)
    command = shlex.join([python, "-m", "bench.run", *sys.argv[1:]])
    results = uvloop.run(_run(args.quick, command))
    write_json(results, args.output)
    print(render(results))
    print(f"\nJSON: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
