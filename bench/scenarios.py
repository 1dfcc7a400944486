"""The three scenarios: CPU per token, concurrent streams, idle connections.

Each starts its own server processes (same pack, same offline model, same settings for
graphwire and the baselines), measures them one after another and returns plain dicts.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection

from bench.load import (
    BARE,
    GRAPHWIRE,
    MINIMAL,
    PhaseResult,
    StreamResult,
    ask_sse,
    ask_ws,
    close_all,
    hold_idle,
    open_many,
    open_ws,
    run_streams,
)
from bench.servers import ROOT, Server, ServerSpec, baseline_spec, graphwire_spec, running
from bench.stats import median, median_phase, percentile

__all__ = [
    "FULL",
    "QUICK",
    "Plan",
    "answering_specs",
    "concurrency",
    "cpu_per_token",
    "idle_memory",
    "in_turn",
    "stream_phase",
    "summarise_phase",
    "warm_and_record",
]

QUESTION = "What are the harbour log entries?"
PACK = ROOT / "bench" / "pack"
WS_PATH = {"graphwire": "/ws/chat", "protocol": "/ws", "minimal": "/ws", "bare": "/ws"}
DIALECT = {"graphwire": GRAPHWIRE, "protocol": GRAPHWIRE, "minimal": MINIMAL, "bare": BARE}
SSE_PATH = {"graphwire": "/api/v1/chat/stream", "minimal": "/sse"}  # the protocol loop has none

Log = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    """How much of each scenario to run."""

    quick: bool
    warmups: int
    cpu_repeats: int
    sse_repeats: int
    stream_counts: tuple[int, ...]
    stream_repeats: int
    stream_timeout: float
    idle_counts: tuple[int, ...]
    idle_settle: float
    idle_cpu_window: float


FULL = Plan(False, 3, 20, 10, (50, 200, 500), 5, 240.0, (1000, 2000), 3.0, 5.0)
QUICK = Plan(True, 1, 3, 2, (20, 50), 1, 60.0, (100, 200), 1.0, 2.0)


@dataclass(frozen=True)
class Answers:
    """The offline model's answers in a scenario: pace, length and passages retrieved."""

    token_delay: float
    max_sentences: int
    top_k: int


LONG_ANSWER = Answers(token_delay=0.0, max_sentences=400, top_k=12)  # ≈ 2,400 tokens
NORMAL_ANSWER = Answers(token_delay=0.02, max_sentences=10, top_k=4)  # ≈ 230 tokens, 50/s


def settings_env(answers: Answers) -> dict[str, str]:
    """The ``GRAPHWIRE_*`` settings every server of a scenario gets (baselines read them too)."""
    return {
        "GRAPHWIRE_PACK": str(PACK),
        "GRAPHWIRE_CHECKPOINT_PATH": ":memory:",
        "GRAPHWIRE_OFFLINE_TOKEN_DELAY": str(answers.token_delay),
        "GRAPHWIRE_OFFLINE_MAX_SENTENCES": str(answers.max_sentences),
        "GRAPHWIRE_TOP_K": str(answers.top_k),
        "GRAPHWIRE_RATE_LIMIT_PER_MINUTE": "1000000",
        "GRAPHWIRE_USER_RATE_LIMIT_PER_MINUTE": "1000000",
        "GRAPHWIRE_MAX_CONNECTIONS": "100000",
        "GRAPHWIRE_IDLE_TIMEOUT": "3600",
        "GRAPHWIRE_LOG_LEVEL": "WARNING",
        "GRAPHWIRE_ALLOWED_ORIGINS": '["*"]',
        "GRAPHWIRE_HOST": "127.0.0.1",
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


async def _ask_once(server: Server, *, keep_frames: bool = False) -> StreamResult:
    dialect = DIALECT[server.name]
    ws = await open_ws(server.ws_url(WS_PATH[server.name]), dialect)
    try:
        return await ask_ws(ws, dialect, QUESTION, keep_frames=keep_frames)
    finally:
        await ws.close()


async def warm_and_record(servers: list[Server], warmups: int, frames_path: Path) -> int:
    """Warm every server up; save graphwire's frames of one answer for the bare server."""
    tokens = 0
    for _ in range(warmups):
        for server in servers:
            result = await _ask_once(server, keep_frames=server.name == "graphwire")
            if not result.ok:
                raise RuntimeError(f"{server.name} warm-up failed: {result.error}")
            if server.name == "graphwire":
                _save(frames_path, result.frames)
                tokens = result.tokens
    return tokens


def in_turn(servers: list[Server], repeat: int) -> list[Server]:
    """``servers`` in the order repeat number ``repeat`` measures them: each repeat starts with
    the next server, so whatever the one before leaves behind reaches each alike."""
    turn = repeat % len(servers)
    return servers[turn:] + servers[:turn]


def answering_specs(env: dict[str, str]) -> list[ServerSpec]:
    """graphwire and the two loops on the same graph (the bare endpoint starts later, once
    graphwire's frames are recorded for it)."""
    return [
        graphwire_spec(env),
        baseline_spec("protocol", "protocol_app", env),
        baseline_spec("minimal", "minimal_app", env),
    ]


def _save(path: Path, frames: list[str]) -> None:
    path.write_text(json.dumps(frames))


def _bare_env(frames_path: Path, delay: float) -> dict[str, str]:
    return {"BENCH_BARE_FRAMES": str(frames_path), "BENCH_BARE_DELAY": str(delay)}


# ---------------------------------------------------------------------------- (a)


async def _measure_ws(server: Server) -> dict[str, Any]:
    dialect = DIALECT[server.name]
    ws = await open_ws(server.ws_url(WS_PATH[server.name]), dialect)
    try:
        cpu0, t0 = server.cpu(), time.perf_counter()
        result = await ask_ws(ws, dialect, QUESTION)
        wall = time.perf_counter() - t0
        await asyncio.sleep(0.05)
        cpu = server.cpu() - cpu0
    finally:
        await ws.close()
    return {"ok": result.ok, "tokens": result.tokens, "cpu": cpu, "wall": wall}


async def _measure_sse(server: Server, client: httpx.AsyncClient) -> dict[str, Any]:
    cpu0, t0 = server.cpu(), time.perf_counter()
    url = server.http_url + SSE_PATH[server.name]
    result = await ask_sse(client, url, DIALECT[server.name], QUESTION)
    wall = time.perf_counter() - t0
    await asyncio.sleep(0.05)
    return {"ok": result.ok, "tokens": result.tokens, "cpu": server.cpu() - cpu0, "wall": wall}


def _summarise_sequential(samples: list[dict[str, Any]]) -> dict[str, Any]:
    good = [s for s in samples if s["ok"] and s["tokens"]]
    per_token = [s["cpu"] / s["tokens"] * 1e6 for s in good]
    tokens = sum(s["tokens"] for s in good)
    return {
        "answers": len(samples),
        "ok": len(good),
        "tokens_per_answer": median([s["tokens"] for s in good]),
        "cpu_us_per_token_median": median(per_token),
        "cpu_us_per_token_p10": percentile(per_token, 10),
        "cpu_us_per_token_p90": percentile(per_token, 90),
        "cpu_us_per_token_pooled": sum(s["cpu"] for s in good) / tokens * 1e6 if tokens else None,
        "tokens_per_second_median": median([s["tokens"] / s["wall"] for s in good]),
        "samples": samples,
    }


async def cpu_per_token(plan: Plan, workdir: Path, log: Log) -> dict[str, Any]:
    """(a) One long answer at zero delay, asked K times in turn of each server."""
    env = settings_env(LONG_ANSWER)
    specs = answering_specs(env)
    async with running(specs, workdir) as servers:
        frames = workdir / "frames-long.json"
        await warm_and_record(list(servers.values()), plan.warmups, frames)
        bare_spec = baseline_spec("bare", "bare_app", _bare_env(frames, 0.0))
        async with running([bare_spec], workdir) as more:
            everyone = [*servers.values(), *more.values()]
            await warm_and_record(list(more.values()), plan.warmups, frames)
            samples: dict[str, list[dict[str, Any]]] = {s.name: [] for s in everyone}
            for i in range(plan.cpu_repeats):  # interleaved, so drift hits every server alike
                for server in in_turn(everyone, i):
                    samples[server.name].append(await _measure_ws(server))
                log(f"(a) websocket answer {i + 1}/{plan.cpu_repeats} from each server")
            with_sse = [s for s in servers.values() if s.name in SSE_PATH]
            sse: dict[str, list[dict[str, Any]]] = {s.name: [] for s in with_sse}
            async with httpx.AsyncClient(timeout=httpx.Timeout(300.0)) as client:
                for i in range(plan.sse_repeats):
                    for server in in_turn(with_sse, i):
                        sse[server.name].append(await _measure_sse(server, client))
                    log(f"(a) SSE answer {i + 1}/{plan.sse_repeats} from each server")
    return {
        "question": QUESTION,
        "settings": asdict(LONG_ANSWER),
        "ws": {name: _summarise_sequential(s) for name, s in samples.items()},
        "sse": {name: _summarise_sequential(s) for name, s in sse.items()},
    }


# ---------------------------------------------------------------------------- (b)

REPEATED = (
    *("ttft_ms_p50", "ttft_ms_p99", "ttft_ms_max", "gap_ms_p50", "gap_ms_p99", "gap_ms_max"),
    *("duration_ms_p50", "duration_ms_p99", "cpu_us_per_token", "server_cpu_s"),
    *("server_cpu_util", "client_cpu_util", "wall_s", "server_sys_s"),
    *("startup_cpu_ms", "startup_sys_ms"),
)
"""The figures of a (b) phase whose median over the repeats the report shows."""


def summarise_phase(n: int, phase: PhaseResult) -> dict[str, Any]:
    streams = phase.streams
    good = [s for s in streams if s.ok]
    tokens = sum(s.tokens for s in streams)
    ttfts = [s.ttft for s in streams if s.ttft is not None]
    gaps = [g for s in streams for g in s.gaps]
    errors = Counter(s.error for s in streams if not s.ok)
    return {
        "streams": n,
        "completed": len(good),
        "errors": dict(errors),
        "connect_failures": phase.connect_failures,
        "timed_out": phase.timed_out,
        "tokens": tokens,
        "tokens_per_stream": median([s.tokens for s in good]),
        "ttft_ms_p50": _ms(percentile(ttfts, 50)),
        "ttft_ms_p99": _ms(percentile(ttfts, 99)),
        "ttft_ms_max": _ms(max(ttfts, default=None)),
        "gap_ms_p50": _ms(percentile(gaps, 50)),
        "gap_ms_p99": _ms(percentile(gaps, 99)),
        "gap_ms_max": _ms(max(gaps, default=None)),
        "duration_ms_p50": _ms(percentile([s.total for s in good if s.total], 50)),
        "duration_ms_p99": _ms(percentile([s.total for s in good if s.total], 99)),
        "cpu_us_per_token": phase.server_cpu / tokens * 1e6 if tokens else None,
        "server_cpu_s": round(phase.server_cpu, 3),
        "server_sys_s": round(phase.server_sys, 3),
        "startup_cpu_ms": _ms(phase.startup_cpu),
        "startup_sys_ms": _ms(phase.startup_sys),
        "server_cpu_util": round(phase.server_cpu / phase.wall, 3),
        "client_cpu_util": round(phase.client_cpu / phase.wall, 3),
        "wall_s": round(phase.wall, 3),
    }


async def stream_phase(server: Server, n: int, *, time_limit: float) -> PhaseResult:
    """(b)'s phase on ``server``: ``n`` clients ask :data:`QUESTION` at once, over its socket."""
    return await run_streams(
        server.ws_url(WS_PATH[server.name]),
        DIALECT[server.name],
        QUESTION,
        n,
        server_cpu=server.cpu_times,
        time_limit=time_limit,
    )


async def concurrency(plan: Plan, workdir: Path, log: Log) -> dict[str, Any]:
    """(b) N streams at 50 tokens/s each, all started together, for N in the plan.

    Each N is measured ``plan.stream_repeats`` times, the servers taking turns within every
    repeat and each repeat starting with the next server (so drift of the shared machine, and
    whatever the phase before leaves behind, reaches each alike); a phase's figures are the
    medians over its repeats.
    """
    env = settings_env(NORMAL_ANSWER)
    specs = answering_specs(env)
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    async with running(specs, workdir) as servers:
        frames = workdir / "frames-normal.json"
        await warm_and_record(list(servers.values()), plan.warmups, frames)
        bare_env = _bare_env(frames, NORMAL_ANSWER.token_delay)
        bare_spec = baseline_spec("bare", "bare_app", bare_env)
        async with running([bare_spec], workdir) as more:
            everyone = [*servers.values(), *more.values()]
            await warm_and_record(list(more.values()), plan.warmups, frames)
            for n in plan.stream_counts:
                for repeat in range(plan.stream_repeats):
                    for server in in_turn(everyone, repeat):
                        phase = await stream_phase(server, n, time_limit=plan.stream_timeout)
                        summary = summarise_phase(n, phase)
                        summary["server_rss_kib"] = server.rss()
                        runs.setdefault((server.name, n), []).append(
                            {"server": server.name, **summary}
                        )
                        log(
                            f"(b) {n} streams on {server.name}, repeat {repeat + 1}/"
                            f"{plan.stream_repeats}: {summary['completed']}/{n} complete, "
                            f"TTFT p99 {summary['ttft_ms_p99']} ms, "
                            f"gap p99 {summary['gap_ms_p99']} ms"
                        )
                        await asyncio.sleep(1.0)
    phases = [median_phase(repeats, REPEATED) for repeats in runs.values()]
    return {
        "question": QUESTION,
        "settings": asdict(NORMAL_ANSWER),
        "repeats": plan.stream_repeats,
        "phases": phases,
    }


# ---------------------------------------------------------------------------- (c)


async def _idle_series(server: Server, plan: Plan) -> dict[str, Any]:
    url, dialect = server.ws_url(WS_PATH[server.name]), DIALECT[server.name]
    warm, _ = await open_many(url, dialect, 20)
    await close_all(warm)
    await asyncio.sleep(plan.idle_settle)
    base = server.rss()
    held: list[ClientConnection] = []
    points: list[dict[str, Any]] = []
    try:
        for count in plan.idle_counts:
            failures = await hold_idle(url, dialect, count - len(held), held)
            await asyncio.sleep(plan.idle_settle)
            rss = server.rss()
            cpu0 = server.cpu()
            await asyncio.sleep(plan.idle_cpu_window)
            idle_cpu = (server.cpu() - cpu0) / plan.idle_cpu_window
            points.append(
                {
                    "connections": len(held),
                    "failures": failures,
                    "rss_kib": rss,
                    "kib_per_connection": (rss - base) / len(held) if held else None,
                    "idle_cpu_util": round(idle_cpu, 4),
                }
            )
    finally:
        await close_all(held)
    return {"base_rss_kib": base, "points": points}


async def idle_memory(plan: Plan, workdir: Path, log: Log) -> dict[str, Any]:
    """(c) Idle WebSocket connections: RSS growth per connection over a warmed-up baseline."""
    env = settings_env(NORMAL_ANSWER)
    specs = [graphwire_spec(env), baseline_spec("bare", "bare_app", {})]
    results: dict[str, Any] = {}
    async with running(specs, workdir) as servers:
        for server in servers.values():
            results[server.name] = await _idle_series(server, plan)
            last = results[server.name]["points"][-1]
            log(
                f"(c) {server.name}: {last['connections']} idle connections, "
                f"{last['kib_per_connection']:.1f} KiB each"
            )
            await asyncio.sleep(1.0)
    return {"servers": results}


def plan_dict(plan: Plan) -> dict[str, Any]:
    return asdict(plan)


def stderr_log(started: float) -> Log:
    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:7.1f}s] {message}", file=sys.stderr, flush=True)

    return log
