"""``python -m bench.gcpauses``: what the garbage collector costs the servers under load.

graphwire, the protocol loop and the minimal loop (``bench.baselines``) run as in (b) of
``bench.run`` (the same pack, 50 tokens/s per stream, the same collector settings), each with
``bench/gcprobe`` on ``PYTHONPATH``: its ``sitecustomize`` times every collection through
``gc.callbacks``. For each phase (N streams started together) this reports the collections by
generation (how many, their total and longest pause), the part of them that fell between the
questions and the last first token, their share of the server's CPU time, and the phase's TTFT
and inter-token gap p99, the medians over the repeats.

A collection stops the whole server, so its pause shows up as a gap in every stream at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.load import PhaseResult
from bench.report import write_json
from bench.scenarios import (
    NORMAL_ANSWER,
    answering_specs,
    in_turn,
    settings_env,
    stream_phase,
    summarise_phase,
)
from bench.servers import ROOT, Server, ServerSpec, running
from bench.stats import median

__all__ = ["main"]

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "gc.json"
PROBE = ROOT / "bench" / "gcprobe"
NAMES = ("graphwire", "protocol", "minimal")
PHASE_FIGURES = ("completed", "ttft_ms_p99", "gap_ms_p99", "server_cpu_s")


def _specs(workdir: Path, gen0: int | None) -> list[ServerSpec]:
    """(b)'s servers, each with the probe, which writes to ``<workdir>/<its pid>.gc``."""
    env = settings_env(NORMAL_ANSWER)
    if gen0 is not None:  # every server reads graphwire's setting (bench.baselines)
        env["GRAPHWIRE_GC_GEN0_THRESHOLD"] = str(gen0)
    return answering_specs({**env, "PYTHONPATH": str(PROBE), "BENCH_GC_DIR": str(workdir)})


async def _collections(server: Server, workdir: Path) -> list[tuple[int, float, float]]:
    """The collections the probe recorded since it was last told to forget."""
    path = workdir / f"{server.pid}.gc"
    path.unlink(missing_ok=True)
    os.kill(server.pid, signal.SIGUSR2)
    for _ in range(100):
        await asyncio.sleep(0.05)
        if path.exists() and path.stat().st_size:
            try:
                rows = json.loads(path.read_text())
                return [(int(g), float(start), float(d)) for g, start, d in rows]
            except json.JSONDecodeError:  # caught mid-write
                continue
    raise RuntimeError(f"{server.name}: the GC probe wrote nothing (is bench/gcprobe loaded?)")


def _summary(n: int, phase: PhaseResult, records: list[tuple[int, float, float]]) -> dict[str, Any]:
    """(b)'s figures for the phase, and the collector's; ``records`` are (generation, start,
    seconds) from the probe."""
    figures = {key: summarise_phase(n, phase)[key] for key in PHASE_FIGURES}
    last_first_token = phase.began + max((s.ttft for s in phase.streams if s.ttft), default=0.0)
    # perf_counter is CLOCK_MONOTONIC, one clock for the server and this process.
    startup = [d for _, t, d in records if phase.began <= t <= last_first_token]
    figures["startup_gc_ms"] = 1000 * sum(startup)
    total = sum(d for *_, d in records)
    figures["gc_share"] = total / phase.server_cpu if phase.server_cpu else 0.0
    for generation in (0, 1, 2):
        pauses = [d for g, _, d in records if g == generation]
        figures[f"gen{generation}_count"] = len(pauses)
        figures[f"gen{generation}_total_ms"] = 1000 * sum(pauses)
        figures[f"gen{generation}_max_ms"] = 1000 * max(pauses, default=0.0)
    return figures


async def _run(counts: list[int], repeats: int, gen0: int | None) -> dict[str, Any]:
    results: dict[str, Any] = {"counts": counts, "repeats": repeats, "gen0": gen0, "phases": {}}
    with tempfile.TemporaryDirectory(prefix="graphwire-gc-") as tmp:
        workdir = Path(tmp)
        async with running(_specs(workdir, gen0), workdir) as servers:
            order = list(servers.values())
            for n in counts:
                for repeat in range(repeats + 1):  # the first round warms every server up
                    for server in in_turn(order, repeat):
                        os.kill(server.pid, signal.SIGUSR1)
                        phase = await stream_phase(server, n, time_limit=240.0)
                        records = await _collections(server, workdir)
                        if repeat:
                            figures = _summary(n, phase, records)
                            key = f"{server.name}@{n}"
                            results["phases"].setdefault(key, []).append(figures)
                            print(f"{key} repeat {repeat}: {_line(figures)}", file=sys.stderr)
                        await asyncio.sleep(1.0)
    return results


def _line(f: dict[str, Any]) -> str:
    gens = ", ".join(
        f"gen{g} {f[f'gen{g}_count']}× {f[f'gen{g}_total_ms']:.0f} ms "
        f"(max {f[f'gen{g}_max_ms']:.0f})"
        for g in (0, 1, 2)
    )
    return (
        f"TTFT p99 {f['ttft_ms_p99']:.0f} ms, gap p99 {f['gap_ms_p99']:.0f} ms, GC {gens}, "
        f"{100 * f['gc_share']:.0f} % of CPU, {f['startup_gc_ms']:.0f} ms before the "
        "last first token"
    )


def render(results: dict[str, Any]) -> str:
    """A Markdown table: one row per server and stream count, medians over the repeats."""
    rows = [
        "| server | streams | TTFT p99 ms | gap p99 ms | GC share of CPU | GC ms before the last "
        "first token | gen0 | gen1 | gen2 (longest pause) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n in results["counts"]:
        for name in NAMES:
            repeats = results["phases"][f"{name}@{n}"]
            m = {key: median([r[key] for r in repeats]) or 0.0 for key in repeats[0]}
            rows.append(
                f"| {name} | {n} | {m['ttft_ms_p99']:,.0f} | {m['gap_ms_p99']:,.0f} "
                f"| {100 * m['gc_share']:.0f} % | {m['startup_gc_ms']:,.0f} "
                f"| {m['gen0_count']:.0f}× {m['gen0_total_ms']:,.0f} ms "
                f"| {m['gen1_count']:.0f}× {m['gen1_total_ms']:,.0f} ms "
                f"| {m['gen2_count']:.0f}× ({m['gen2_max_ms']:,.0f} ms) |"
            )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gcpauses", description=__doc__)
    parser.add_argument("--streams", type=int, nargs="+", default=[200, 500], help="stream counts")
    parser.add_argument("--repeats", type=int, default=3, help="measured rounds per count")
    parser.add_argument(
        "--gen0", type=int, default=None, help="GRAPHWIRE_GC_GEN0_THRESHOLD for every server"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results file")
    args = parser.parse_args(argv)
    results = asyncio.run(_run(args.streams, args.repeats, args.gen0))
    write_json(results, args.output)
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
