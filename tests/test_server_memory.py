"""What a closed connection leaves behind, against a real uvicorn with real websockets clients.

A connection that reference counting alone cannot free waits in the collector's oldest
generation for a full collection; with hundreds of connections that is a collection walking
every live answer in the middle of streaming. So nothing of a closed connection may be part of
a reference cycle, however it ended.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from graphwire.api.ws.connection import ChatConnection
from graphwire.api.ws.deadlines import Deadlines
from graphwire.api.ws.sender import FrameSender
from tests.server import running, server_settings
from tests.test_server_ws import Q, open_chat, recv, run_until_end


def _alive() -> dict[str, int]:
    kinds: dict[str, type] = {
        "ChatConnection": ChatConnection,
        "FrameSender": FrameSender,
        "Deadlines": Deadlines,
    }
    objects = gc.get_objects()
    return {name: sum(type(o) is kind for o in objects) for name, kind in kinds.items()}


async def test_closed_connections_are_freed_by_reference_counting_alone() -> None:
    settings = server_settings(offline_token_delay=0.02, resume_grace=0.2)
    with running(settings) as live:
        gc.collect()
        gc.disable()  # from here on, only reference counting frees anything
        try:
            # One refused at the handshake, one answered and closed politely, one dropped
            # mid-answer, one never asked.
            with pytest.raises(InvalidStatus):
                await connect(live.ws, origin="http://elsewhere.example")  # type: ignore[arg-type]
            async with await open_chat(live) as ws:
                await ws.send(json.dumps({"type": "message", "message": Q}))
                await run_until_end(ws)
            async with await open_chat(live) as ws:
                await ws.send(json.dumps({"type": "message", "message": Q}))
                while (await recv(ws))["type"] != "text":
                    pass
            async with await open_chat(live) as ws:
                await ws.send(json.dumps({"type": "ping"}))
                assert (await recv(ws))["type"] == "pong"
            deadline = time.monotonic() + 10
            while (live.state.connections or _alive()["ChatConnection"]) and (
                time.monotonic() < deadline
            ):
                await asyncio.sleep(0.05)
            left = _alive()
            buckets = len(live.state.connection_limiter)
        finally:
            gc.enable()
    assert left == {"ChatConnection": 0, "FrameSender": 0, "Deadlines": 0}, (
        "a connection is in a cycle"
    )
    assert buckets == 0  # a closed connection's rate-limit bucket goes with it
