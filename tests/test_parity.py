"""One question, three transports: WebSocket, SSE and in-process give the same envelopes.

Only what must differ between two runs is normalised: ``run_id``, ``session_id``,
``data.message_id`` and ``data.timing``; the whole lists are compared.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse
from websockets.asyncio.client import connect

from graphwire.agents import OfflineChatModel, load_pack
from graphwire.graph import build_graph
from graphwire.transport.protocol import (
    ConnectedEnvelope,
    Envelope,
    MessageFrame,
    RunEnvelope,
    parse_envelope,
)
from graphwire.transport.runs.inprocess import stream_answer
from tests.conftest import assert_run_invariants
from tests.server import MINIPACK, Running

QUESTIONS = ["What does error F3 mean?", "How do I descale the kettle?", "How heavy is the kettle?"]


async def over_websocket(live: Running, question: str) -> list[Envelope]:
    frames: list[str] = []
    async with connect(live.ws) as socket:
        connected = parse_envelope(await socket.recv())
        assert isinstance(connected, ConnectedEnvelope)
        assert connected.data.protocol == "graphwire.v1"
        await socket.send(MessageFrame(message=question).model_dump_json(exclude_none=True))
        while not frames or parse_envelope(frames[-1]).type != "end":
            frame = await socket.recv()
            assert isinstance(frame, str)
            frames.append(frame)
    envelopes = [parse_envelope(frame) for frame in frames]
    assert [e.to_json() for e in envelopes] == frames  # the one canonical encoding
    return envelopes


async def over_sse(live: Running, question: str) -> list[Envelope]:
    async with (
        httpx.AsyncClient(base_url=live.http) as client,
        aconnect_sse(client, "POST", "/api/v1/chat/stream", json={"message": question}) as source,
    ):
        events = [event async for event in source.aiter_sse()]
    envelopes = [parse_envelope(event.data) for event in events]
    assert [e.to_json() for e in envelopes] == [event.data for event in events]
    return envelopes


async def in_process(question: str) -> list[RunEnvelope]:
    graph = build_graph(pack=load_pack(MINIPACK), model=OfflineChatModel(token_delay=0.0))
    return [envelope async for envelope in stream_answer(graph, question)]


def normalised(envelopes: list[Any]) -> list[dict[str, Any]]:
    out = []
    for envelope in envelopes:
        wire = envelope.to_wire()
        wire["run_id"], wire["session_id"] = "r_*", "s_*"
        wire["data"].pop("message_id", None)
        wire["data"].pop("timing", None)
        out.append(wire)
    return out


@pytest.mark.parametrize("question", QUESTIONS)
async def test_websocket_sse_and_in_process_send_the_same_envelopes(
    server: Running, question: str
) -> None:
    websocket = await over_websocket(server, question)
    sse = await over_sse(server, question)
    local = await in_process(question)
    for envelopes in (websocket, sse, local):
        assert_run_invariants(envelopes, reason="complete")  # type: ignore[arg-type]
    assert len({e.session_id for e in websocket + sse + local}) == 3  # three fresh sessions
    assert normalised(websocket) == normalised(local)
    assert normalised(sse) == normalised(local)
