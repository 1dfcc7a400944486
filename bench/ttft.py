"""``python -m bench.ttft [--streams 200] [--repeats 12]``: the TTFT target alone, repeated more.

The full run (``python -m bench.run``) measures (b) 5 times per stream count. On this shared
machine one server's TTFT p99 at 200 streams moves by ±20 % between repeats, so five repeats can
land on either side of 1. This runs only (b)'s phase at one stream count, for graphwire, the
protocol loop and the minimal loop, the servers taking turns as in the full run, and reports
every repeat's ratio to the minimal loop, their median, and in how many repeats graphwire was
slower. It only reports (exit status 0 either way).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from bench.run import raise_file_limit
from bench.scenarios import (
    NORMAL_ANSWER,
    answering_specs,
    in_turn,
    settings_env,
    stderr_log,
    stream_phase,
    summarise_phase,
    warm_and_record,
)
from bench.servers import running, stop_all
from bench.stats import median, ratio

__all__ = ["main"]

TIME_LIMIT = 240.0


async def measure(streams: int, repeats: int) -> dict[str, list[float]]:
    """TTFT p99 (ms) of each repeat, by server name."""
    log = stderr_log(time.monotonic())
    with tempfile.TemporaryDirectory(prefix="graphwire-ttft-") as tmp:
        async with running(answering_specs(settings_env(NORMAL_ANSWER)), Path(tmp)) as servers:
            everyone = list(servers.values())
            await warm_and_record(everyone, 3, Path(tmp) / "frames.json")
            ttft: dict[str, list[float]] = {s.name: [] for s in everyone}
            for repeat in range(repeats):
                for server in in_turn(everyone, repeat):
                    phase = await stream_phase(server, streams, time_limit=TIME_LIMIT)
                    summary = summarise_phase(streams, phase)
                    if summary["completed"] != streams or summary["ttft_ms_p99"] is None:
                        raise RuntimeError(f"{server.name}: {summary['completed']}/{streams} done")
                    ttft[server.name].append(summary["ttft_ms_p99"])
                    await asyncio.sleep(1.0)
                shown = ", ".join(f"{name} {v[-1]:,.0f} ms" for name, v in ttft.items())
                log(f"repeat {repeat + 1}/{repeats}: TTFT p99 {shown}")
    return ttft


def render(ttft: dict[str, list[float]], streams: int) -> str:
    """A markdown table of every repeat, then the medians and the count above 1."""
    gw, proto, mini = ttft["graphwire"], ttft["protocol"], ttft["minimal"]
    lines = [
        f"TTFT p99 at {streams} streams, ms (the servers take turns; each repeat starts with "
        "the next one)",
        "",
        "| repeat | graphwire | protocol loop | minimal loop | graphwire ÷ minimal "
        "| protocol ÷ minimal |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    to_minimal = [ratio(g, m) or 0.0 for g, m in zip(gw, mini, strict=True)]
    protocol_to_minimal = [ratio(p, m) or 0.0 for p, m in zip(proto, mini, strict=True)]
    for i, (g, p, m) in enumerate(zip(gw, proto, mini, strict=True)):
        lines.append(
            f"| {i + 1} | {g:,.0f} | {p:,.0f} | {m:,.0f} | {to_minimal[i]:.2f}× "
            f"| {protocol_to_minimal[i]:.2f}× |"
        )
    slower = sum(r > 1 for r in to_minimal)
    lines += [
        f"| median | {median(gw):,.0f} | {median(proto):,.0f} | {median(mini):,.0f} "
        f"| {median(to_minimal):.3f}× | {median(protocol_to_minimal):.3f}× |",
        "",
        f"graphwire slower than the minimal loop in {slower} of {len(gw)} repeats.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ttft", description=__doc__)
    parser.add_argument("--streams", type=int, default=200, help="concurrent streams")
    parser.add_argument("--repeats", type=int, default=12, help="phases per server")
    args = parser.parse_args(argv)
    if args.streams < 1 or args.repeats < 1:
        parser.error("--streams and --repeats must be at least 1")
    raise_file_limit()
    try:
        ttft = uvloop.run(measure(args.streams, args.repeats))
    finally:
        stop_all()
    print(render(ttft, args.streams))
    return 0


if __name__ == "__main__":
    sys.exit(main())
