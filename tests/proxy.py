"""A loopback TCP proxy that cuts its connections at chosen byte counts: a network that drops.

Every byte between a client and a test server goes through it, on any protocol (WebSocket or
HTTP/SSE). ``cut_down_at`` and ``cut_up_at`` are cumulative byte counts (server to client, and
client to server, over all connections): when a count is reached, the connection carrying that
byte is cut on both sides after forwarding exactly up to it. Later connections go through.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from types import TracebackType


@dataclass
class CuttingProxy:
    target_port: int
    cut_down_at: list[int] = field(default_factory=list)
    cut_up_at: list[int] = field(default_factory=list)
    down: int = 0  # bytes forwarded server → client, over all connections
    up: int = 0  # bytes forwarded client → server
    connections: int = 0
    cuts: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/chat"

    async def __aenter__(self) -> CuttingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.transport.abort()
            self._tasks.discard(task)
            return
        cut = asyncio.Event()
        pipes = [
            asyncio.create_task(self._pipe(client_r, server_w, "up", cut)),
            asyncio.create_task(self._pipe(server_r, client_w, "down", cut)),
        ]
        waiter = asyncio.create_task(cut.wait())
        try:
            await asyncio.wait([*pipes, waiter], return_when="FIRST_COMPLETED")
        finally:
            for pending in (*pipes, waiter):
                pending.cancel()
            await asyncio.gather(*pipes, waiter, return_exceptions=True)
            for writer in (client_w, server_w):
                if cut.is_set():
                    writer.transport.abort()  # the network is gone: no FIN, no close frame
                else:
                    with contextlib.suppress(Exception):
                        writer.close()
            self._tasks.discard(task)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        way: str,
        cut: asyncio.Event,
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65_536):
                thresholds = self.cut_down_at if way == "down" else self.cut_up_at
                sent = self.down if way == "down" else self.up
                limit = next((t for t in thresholds if t > sent), None)
                if limit is not None and sent + len(data) >= limit:
                    thresholds.remove(limit)
                    data = data[: limit - sent]
                    cut.set()
                    self.cuts += 1
                writer.write(data)
                await writer.drain()
                if way == "down":
                    self.down += len(data)
                else:
                    self.up += len(data)
                if cut.is_set():
                    return
            if way == "up" and writer.can_write_eof():
                writer.write_eof()
