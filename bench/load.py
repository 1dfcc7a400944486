"""The load generator: real WebSocket (websockets) and SSE (httpx) clients, in this process.

A :class:`Dialect` says how to talk to one kind of server; :func:`ask_ws` / :func:`ask_sse` time
one answer (time to first token from the moment the question is sent, the gap before every
later token); :func:`run_streams` starts many answers at once behind a barrier; :func:`hold_idle`
opens connections that then say nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

__all__ = [
    "BARE",
    "GRAPHWIRE",
    "MINIMAL",
    "Dialect",
    "PhaseResult",
    "StreamResult",
    "ask_sse",
    "ask_ws",
    "client_cpu",
    "close_all",
    "hold_idle",
    "open_many",
    "open_ws",
    "run_streams",
]

CONNECT_CONCURRENCY = 50  # handshakes in flight at once
OPEN_TIMEOUT = 60.0


@dataclass(frozen=True)
class Dialect:
    """How a server is spoken to: the first frame it sends, the request, what a frame means."""

    name: str
    hello: bool  # sends `connected` first (graphwire)

    def request(self, question: str, session_id: str) -> str:
        if self.name == "graphwire":
            frame = {"type": "message", "message": question, "session_id": session_id}
            return json.dumps(frame)
        return json.dumps({"message": question})

    def parse(self, frame: str | bytes) -> tuple[bool, bool, str | None]:
        """(is a token, is the end, error code) for one frame."""
        decoded: dict[str, Any] = json.loads(frame)
        if self.name == "minimal":
            return bool(decoded.get("delta")), decoded.get("done") is True, None
        kind = decoded.get("type")
        error = decoded["data"].get("code") if kind == "error" else None
        return kind == "text", kind == "end", error


GRAPHWIRE = Dialect("graphwire", hello=True)
MINIMAL = Dialect("minimal", hello=False)
BARE = Dialect("bare", hello=False)  # replays graphwire's envelopes


@dataclass
class StreamResult:
    """One answer as a client saw it (seconds)."""

    ok: bool
    tokens: int = 0
    ttft: float | None = None
    total: float | None = None
    gaps: list[float] = field(default_factory=list)
    error: str | None = None
    frames: list[str] = field(default_factory=list)  # only when asked to keep them


class _Timer:
    """Turns frames into a :class:`StreamResult`."""

    def __init__(
        self, dialect: Dialect, keep: bool, on_first_token: Callable[[], None] | None = None
    ) -> None:
        self.dialect, self.keep, self.on_first_token = dialect, keep, on_first_token
        self.result = StreamResult(ok=False)
        self.sent = time.perf_counter()
        self.last: float | None = None

    def frame(self, frame: str | bytes) -> bool:
        """Account for one frame; True at the end of the answer."""
        now = time.perf_counter()
        token, end, error = self.dialect.parse(frame)
        r = self.result
        if self.keep:
            r.frames.append(frame if isinstance(frame, str) else frame.decode())
        if token:
            if self.last is None:
                r.ttft = now - self.sent
                if self.on_first_token is not None:
                    self.on_first_token()
            else:
                r.gaps.append(now - self.last)
            self.last = now
            r.tokens += 1
        if error is not None:
            r.error = error
        if end:
            r.ok, r.total = r.error is None, now - self.sent
        return end


async def open_ws(url: str, dialect: Dialect) -> ClientConnection:
    """A connected client (past graphwire's ``connected`` frame)."""
    ws = await connect(
        url, compression=None, ping_interval=None, open_timeout=OPEN_TIMEOUT, close_timeout=2
    )
    if dialect.hello:
        hello = json.loads(await ws.recv())
        if hello.get("type") != "connected":
            await ws.close()
            raise RuntimeError(f"expected a connected frame, got {hello}")
    return ws


async def ask_ws(
    ws: ClientConnection,
    dialect: Dialect,
    question: str,
    *,
    keep_frames: bool = False,
    on_first_token: Callable[[], None] | None = None,
) -> StreamResult:
    """Ask one question on an open connection and read its answer through the end.

    ``on_first_token`` is called as the answer's first token arrives.
    """
    timer = _Timer(dialect, keep_frames, on_first_token)
    timer.sent = time.perf_counter()
    await ws.send(dialect.request(question, f"s_bench_{uuid.uuid4().hex}"))
    try:
        while not timer.frame(await ws.recv()):
            pass
    except Exception as exc:  # the connection closed under us: the answer is incomplete
        timer.result.error = f"{type(exc).__name__}: {exc}"
    return timer.result


async def ask_sse(
    client: httpx.AsyncClient, url: str, dialect: Dialect, question: str
) -> StreamResult:
    """POST one question to an SSE endpoint and read the event stream through the end."""
    body = {"message": question, "session_id": f"s_bench_{uuid.uuid4().hex}"}
    if dialect.name != "graphwire":
        body.pop("session_id")
    timer = _Timer(dialect, keep=False)
    timer.sent = time.perf_counter()
    async with client.stream("POST", url, json=body) as response:
        if response.status_code != 200:
            return StreamResult(ok=False, error=f"HTTP {response.status_code}")
        async for line in response.aiter_lines():
            if line.startswith("data:") and timer.frame(line[5:].strip()):
                break
    return timer.result


async def open_many(url: str, dialect: Dialect, n: int) -> tuple[list[ClientConnection], int]:
    """``n`` connections, a bounded number of handshakes at a time; also how many failed."""
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> ClientConnection:
        async with gate:
            return await open_ws(url, dialect)

    opened = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
    conns = [c for c in opened if isinstance(c, ClientConnection)]
    return conns, n - len(conns)


async def close_all(conns: list[ClientConnection]) -> None:
    gate = asyncio.Semaphore(200)

    async def one(ws: ClientConnection) -> None:
        async with gate:
            with contextlib.suppress(Exception):
                await ws.close()

    await asyncio.gather(*(one(ws) for ws in conns))


def client_cpu() -> float:
    """CPU seconds this process (the load generator) has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class PhaseResult:
    """Many concurrent answers: each stream, plus server and client CPU over the phase.

    ``startup_cpu`` is the server's CPU time from the moment the questions went out to the
    moment the last stream got its first token (None if one never did); ``*_sys`` is the part
    of a CPU figure spent in the kernel.
    """

    streams: list[StreamResult]
    connect_failures: int
    timed_out: int
    wall: float
    server_cpu: float
    server_sys: float
    client_cpu: float
    startup_cpu: float | None = None
    startup_sys: float | None = None
    began: float = 0.0  # time.perf_counter() when the questions went out


async def run_streams(
    url: str,
    dialect: Dialect,
    question: str,
    n: int,
    *,
    server_cpu: Callable[[], tuple[float, float]],
    time_limit: float,
) -> PhaseResult:
    """Connect ``n`` clients, then let them all ask at once; wait at most ``time_limit`` seconds.

    ``server_cpu`` gives the server's (user, system) CPU seconds so far.
    """
    conns, failures = await open_many(url, dialect, n)
    barrier = asyncio.Event()
    startup: list[tuple[float, float]] = []  # the server's CPU at the last first token
    waiting = len(conns)

    def first_token() -> None:
        nonlocal waiting
        waiting -= 1
        if waiting == 0:
            startup.append(server_cpu())

    async def one(ws: ClientConnection) -> StreamResult:
        await barrier.wait()
        return await ask_ws(ws, dialect, question, on_first_token=first_token)

    tasks = [asyncio.create_task(one(ws)) for ws in conns]
    try:
        await asyncio.sleep(0.5)  # every task is waiting at the barrier, the server is quiet
        (user0, sys0), client0, t0 = server_cpu(), client_cpu(), time.perf_counter()
        barrier.set()
        done, pending = await asyncio.wait(tasks, timeout=time_limit)
        wall = time.perf_counter() - t0
        await asyncio.sleep(0.1)  # let the server finish what follows the last `end`
        (user1, sys1), client1 = server_cpu(), client_cpu()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await close_all(conns)
    streams = [t.result() for t in done if not t.cancelled() and t.exception() is None]
    return PhaseResult(
        streams=streams,
        connect_failures=failures,
        timed_out=len(pending),
        wall=wall,
        server_cpu=user1 + sys1 - user0 - sys0,
        server_sys=sys1 - sys0,
        client_cpu=client1 - client0,
        startup_cpu=sum(startup[0]) - user0 - sys0 if startup else None,
        startup_sys=startup[0][1] - sys0 if startup else None,
        began=t0,
    )


async def hold_idle(url: str, dialect: Dialect, n: int, conns: list[ClientConnection]) -> int:
    """Open ``n`` more idle connections into ``conns``; returns how many failed."""
    opened, failures = await open_many(url, dialect, n)
    conns.extend(opened)
    return failures
