"""The Python client against a real server: the same calls and envelopes over WebSocket and SSE."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from graphwire.transport.client.core import GraphwireClient, Transport, endpoints
from graphwire.transport.client.cursor import RunCursor
from graphwire.transport.client.errors import ResumeError, RunCancelledError
from graphwire.transport.client.sync import SyncGraphwireClient
from graphwire.transport.protocol import EndData, EndEnvelope, RunEnvelope, TextData, TextEnvelope
from tests.conftest import assert_run_invariants, comparable
from tests.server import Running, running, server_settings

Q = "What does error F3 mean?"
TRANSPORTS = ["ws", "sse"]


def client(live: Running, transport: Transport, **options: Any) -> GraphwireClient:
    return GraphwireClient(live.ws if transport == "ws" else live.http, **options)


@pytest.fixture(scope="module")
def slow() -> Any:
    """A server whose answers take about a second (0.05 s per word): time to stop or drop."""
    with running(server_settings(offline_token_delay=0.05)) as live:
        yield live


async def test_both_transports_yield_the_same_typed_envelopes(server: Running) -> None:
    runs = {}
    for transport in TRANSPORTS:
        async with client(server, transport) as c:
            assert c.transport == transport
            runs[transport] = [e async for e in c.stream(Q, session_id=f"s_same_{transport}")]
    for run in runs.values():
        assert_run_invariants(run, reason="complete")
        assert all(type(e).__module__ == "graphwire.transport.protocol.contract" for e in run)
    assert comparable(runs["ws"]) == comparable(runs["sse"])
    assert runs["ws"][-2].data.agent == "faults"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_ask_calls_back_as_envelopes_arrive_and_keeps_the_conversation(
    server: Running, transport: Transport
) -> None:
    seen: dict[str, list[Any]] = {k: [] for k in ("step", "sources", "text", "final", "end")}

    async def on_text(envelope: TextEnvelope) -> None:  # async callbacks are awaited
        seen["text"].append(envelope.data.delta)

    session = f"s_ask_{transport}"
    async with client(server, transport) as c:
        final = await c.ask(Q, session_id=session, on_text=on_text,
                            on_workflow_step=seen["step"].append, on_sources=seen["sources"].append,
                            on_final=seen["final"].append, on_end=seen["end"].append)  # fmt: skip
        again = await c.ask("How do I descale the kettle?", session_id=session)
        history = await c.history(session)
    assert "".join(seen["text"]) == final.text and len(seen["text"]) > 3
    assert len(seen["sources"]) == 1 and len(seen["final"]) == 1 and seen["step"]
    assert [e.data.reason for e in seen["end"]] == ["complete"]
    assert [(m.role, m.content) for m in history.messages] == [
        ("user", Q), ("assistant", final.text),
        ("user", "How do I descale the kettle?"), ("assistant", again.text)]  # fmt: skip
    assert history.session_id == session and history.messages[1].agent == "faults"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_stop_ends_the_run_cancelled(slow: Running, transport: Transport) -> None:
    async with client(slow, transport) as c:
        run: list[RunEnvelope] = []
        async for envelope in c.stream(Q):
            run.append(envelope)
            if sum(e.type == "text" for e in run) == 2:
                await c.stop()  # every run this client follows
        assert_run_invariants(run, reason="cancelled")

        answering = asyncio.Event()
        asking = asyncio.create_task(
            c.ask(Q, run_id=f"r_stopped_{transport}", on_text=lambda _: answering.set())
        )
        await asyncio.wait_for(answering.wait(), 30)
        await c.stop(f"r_stopped_{transport}")
        with pytest.raises(RunCancelledError) as stopped:
            await asking
        assert stopped.value.run_id == f"r_stopped_{transport}"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_run_left_behind_is_resumed_from_any_seq(
    slow: Running, transport: Transport
) -> None:
    async with client(slow, transport) as c:
        first: list[RunEnvelope] = []
        async for envelope in c.stream(Q, run_id=f"r_left_{transport}"):
            first.append(envelope)
            if len(first) == 7:
                break  # stop listening: the run goes on on the server
        rest = [e async for e in c.resume(f"r_left_{transport}", after_seq=first[-1].seq or 0)]
        replay = [e async for e in c.resume(f"r_left_{transport}")]
    assert_run_invariants(first + rest, reason="complete")
    assert comparable(replay) == comparable(first + rest)


async def test_one_websocket_carries_several_runs_at_once(slow: Running) -> None:
    async with client(slow, "ws") as c:

        async def ask(i: int) -> list[RunEnvelope]:
            return [e async for e in c.stream(Q, session_id=f"s_many_{i}")]

        runs = await asyncio.gather(*(ask(i) for i in range(3)))
    for run in runs:
        assert_run_invariants(run, reason="complete")
    assert comparable(runs[0]) == comparable(runs[1]) == comparable(runs[2])


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_sync_client_makes_the_same_calls(server: Running, transport: Transport) -> None:
    address = server.ws if transport == "ws" else server.http
    with SyncGraphwireClient(address) as c:
        run = list(c.stream(Q, session_id=f"s_sync_{transport}"))
        final = c.ask("How do I descale the kettle?", session_id=f"s_sync_{transport}")
        history = c.history(f"s_sync_{transport}")
        replay = list(c.resume(run[0].run_id or ""))
        c.stop()  # nothing to stop: harmless
    assert_run_invariants(run, reason="complete")
    assert comparable(replay) == comparable(run)
    assert history.messages[-1].content == final.text
    assert threading.active_count() < 50  # its loop thread is gone with it


def test_endpoints_and_transport_follow_the_url() -> None:
    assert endpoints("ws://h:1/ws/chat") == ("ws://h:1/ws/chat", "http://h:1")
    assert endpoints("wss://h/ws/chat?x=1") == ("wss://h/ws/chat?x=1", "https://h")
    assert endpoints("http://h:1/") == ("ws://h:1/ws/chat", "http://h:1")
    assert endpoints("https://h/base") == ("wss://h/base/ws/chat", "https://h/base")
    assert GraphwireClient("http://h:1").transport == "sse"
    assert GraphwireClient("ws://h:1/ws/chat").transport == "ws"
    assert GraphwireClient("http://h:1", transport="ws").ws_url == "ws://h:1/ws/chat"
    for bad in ("ftp://h", "h:1"):
        with pytest.raises(ValueError):
            GraphwireClient(bad)
    with pytest.raises(ValueError):
        GraphwireClient("ws://h", transport="carrier-pigeon")  # type: ignore[arg-type]


async def test_the_client_is_used_inside_async_with() -> None:
    with pytest.raises(RuntimeError, match="async with"):
        GraphwireClient("ws://127.0.0.1:9/ws/chat").stream(Q)


def test_the_cursor_drops_repeats_and_refuses_gaps() -> None:
    def text(seq: int) -> TextEnvelope:
        return TextEnvelope(run_id="r_1", session_id="s_1", seq=seq,
                            data=TextData(delta=f"{seq} ", agent="a"))  # fmt: skip

    cursor = RunCursor("r_1")
    assert [cursor.accept(text(0)), cursor.accept(text(1)), cursor.accept(text(1))] == [
        True, True, False]  # fmt: skip
    assert not cursor.accept(TextEnvelope(run_id="r_2", session_id="s_1", seq=2,
                                          data=TextData(delta="x", agent="a")))  # fmt: skip
    with pytest.raises(ResumeError) as gap:
        cursor.accept(text(3))
    assert gap.value.last_seq == 1 and gap.value.code == "NOT_FOUND"
    assert cursor.accept(EndEnvelope(run_id="r_1", session_id="s_1", seq=2,
                                     data=EndData(reason="complete")))  # fmt: skip
    assert cursor.ended and cursor.session_id == "s_1"
