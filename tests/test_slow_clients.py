"""A client that stops reading: noticed one send timeout after its send blocked, dropped with
one log line that says which connection, whose, and why."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect

from graphwire.api.auth import User
from graphwire.api.ws.deadlines import Deadline, Deadlines
from graphwire.api.ws.sender import FrameSender
from tests.fakes import FloodModel
from tests.server import model_opener, running, server_settings

Q = "What does error F3 mean?"


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:  # called on the server's thread
        self.lines.append(f"{record.levelname} {record.name}: {record.getMessage()}")


@pytest.fixture
def ws_log() -> Iterator[_Lines]:
    logger = logging.getLogger("graphwire.ws")
    handler, level = _Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_a_client_that_stops_reading_is_dropped_with_one_line_saying_why(
    ws_log: _Lines,
) -> None:
    settings = server_settings(send_queue_size=8, send_timeout=0.5)
    with running(settings, open_graph_with=model_opener(FloodModel(chunks=10_000))) as live:
        stalled = await connect(live.ws, max_queue=1)  # reads what it is told to, no more
        hello = json.loads(await stalled.recv())
        connection = hello["data"]["connection_id"]
        await stalled.send(json.dumps({"type": "message", "message": Q}))  # then never reads
        deadline = time.monotonic() + 20
        while live.state.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not live.state.connections
        stalled.transport.abort()
        await asyncio.sleep(0.3)  # let the server see the reset before it shuts down
    dropped = [line for line in ws_log.lines if connection in line]
    assert len(dropped) == 1, ws_log.lines
    line = dropped[0]
    assert line.startswith(f"INFO graphwire.ws: dropping connection {connection} (user anonymous)")
    assert "not reading" in line and "0.5 s (GRAPHWIRE_SEND_TIMEOUT)" in line
    assert "a send blocked" in line or "send queue stayed full" in line


class _Owner:
    """A connection as the deadlines see it, whose one send began at ``sender.sending_since``."""

    def __init__(self) -> None:
        self.user: User | None = User(id="alice")
        self.last_activity = time.monotonic()
        self.sender = FrameSender(self._send, queue_size=8, send_timeout=60)
        self.passed: asyncio.Future[tuple[Deadline, float]] = (
            asyncio.get_running_loop().create_future()
        )

    async def _send(self, text: str) -> None:
        raise AssertionError("nothing is sent here")

    @property
    def listening(self) -> bool:
        return True

    def on_deadline(self, deadline: Deadline) -> None:
        if not self.passed.done():
            self.passed.set_result((deadline, time.monotonic()))


async def test_a_stalled_send_is_noticed_one_send_timeout_after_it_began() -> None:
    timeout = 1.0
    owner = _Owner()
    deadlines = Deadlines(server_settings(send_timeout=timeout), leeway=0)
    deadlines.arm(owner)
    try:
        await asyncio.sleep(0.05)  # the send blocks just after a look found none
        began = owner.sender.sending_since = time.monotonic()
        deadline, noticed = await asyncio.wait_for(owner.passed, 5)
    finally:
        deadlines.cancel()
    assert deadline == "stalled"
    # (a check every half timeout noticed it half a timeout late: 1.45 s here)
    assert timeout <= noticed - began < timeout * 1.25
