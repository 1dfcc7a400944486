"""/ws/chat against a real uvicorn on a free port, with a real websockets client."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from graphwire.api.tokens import mint_token
from graphwire.transport.protocol import parse_envelope
from graphwire.transport.protocol.errors import ModelError
from tests.conftest import assert_run_invariants, comparable
from tests.fakes import FailingChatModel, FloodModel, ProbedOfflineModel, StreamProbe
from tests.server import Running, model_opener, running, server_settings

Q = "What does error F3 mean?"
SECRET = "s" * 32


async def recv(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def open_chat(live: Running, **kwargs: Any) -> ClientConnection:
    ws = await connect(live.ws, **kwargs)
    hello = await recv(ws)
    assert hello["type"] == "connected" and hello["data"]["protocol"] == "graphwire.v1"
    return ws


async def run_until_end(ws: ClientConnection, run_id: str | None = None) -> list[Any]:
    """Envelopes of one run (the first run seen if ``run_id`` is None) through its end."""
    out: list[Any] = []
    while True:
        raw = await recv(ws)
        if raw["type"] in ("connected", "pong", "auth_success"):
            continue
        if run_id is None and raw["run_id"] is not None:
            run_id = raw["run_id"]
        if raw["run_id"] != run_id:
            continue
        out.append(parse_envelope(raw))
        if raw["type"] in ("end",):
            return out


def _text(envelopes: list[Any]) -> str:
    return "".join(e.data.delta for e in envelopes if e.type == "text")


async def test_a_message_streams_a_whole_run(server: Running) -> None:
    async with await open_chat(server) as ws:
        await ws.send(json.dumps({"type": "message", "message": Q, "run_id": "r_mine"}))
        run = await run_until_end(ws)
    assert_run_invariants(run, reason="complete")
    assert {e.run_id for e in run} == {"r_mine"}
    assert run[-2].data.agent == "faults" and run[-2].data.text == _text(run)
    assert run[0].session_id.startswith("s_")


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "INVALID_MESSAGE"),
        ("[1, 2]", "INVALID_MESSAGE"),
        ('{"type": "shout"}', "INVALID_MESSAGE"),
        ('{"no": "type"}', "INVALID_MESSAGE"),
        ('{"type": "message"}', "INVALID_MESSAGE"),
        ('{"type": "resume", "run_id": "r_x"}', "INVALID_MESSAGE"),
        (
            '{"type": "message", "message": "hi", "options": {"multitask": "sometimes"}}',
            "INVALID_MESSAGE",
        ),
        ('{"type": "message", "message": "   "}', "EMPTY_MESSAGE"),
        ('{"type": "resume", "run_id": "r_gone", "after_seq": 3}', "NOT_FOUND"),
        ('{"type": "stop", "run_id": "r_gone"}', "NOT_FOUND"),
    ],
)
async def test_every_bad_frame_gets_its_error_and_the_socket_stays_usable(
    server: Running, frame: str, code: str
) -> None:
    async with await open_chat(server) as ws:
        await ws.send(frame)
        error = await recv(ws)
        assert error["type"] == "error" and error["data"]["code"] == code, error
        assert error["seq"] is None
        assert "Traceback" not in error["data"]["message"]
        await ws.send('{"type": "ping"}')
        assert (await recv(ws))["type"] == "pong"
        await ws.send(json.dumps({"type": "message", "message": Q}))
        assert_run_invariants(await run_until_end(ws), reason="complete")


async def test_a_refused_frame_names_its_run_and_session() -> None:
    with running(server_settings(max_message_chars=20)) as live:
        async with await open_chat(live) as ws:
            await ws.send(json.dumps({"type": "message", "message": "x" * 21, "run_id": "r_long",
                                      "session_id": "s_long"}))  # fmt: skip
            error = await recv(ws)
    assert (error["run_id"], error["session_id"], error["data"]["code"]) == (
        "r_long", "s_long", "MESSAGE_TOO_LARGE")  # fmt: skip


async def test_oversize_frames_and_binary_junk_are_refused_not_fatal() -> None:
    with running(server_settings(max_frame_bytes=1024)) as live:
        async with await open_chat(live) as ws:
            await ws.send(json.dumps({"type": "message", "message": "a" * 5000}))
            assert (await recv(ws))["data"]["code"] == "MESSAGE_TOO_LARGE"
            await ws.send(b"\xff\xfe\x00junk")
            assert (await recv(ws))["data"]["code"] == "INVALID_MESSAGE"
            await ws.send(json.dumps({"type": "message", "message": Q}))
            assert_run_invariants(await run_until_end(ws), reason="complete")


def _slow(delay: float = 0.05) -> tuple[StreamProbe, Any]:
    probe = StreamProbe()
    return probe, model_opener(ProbedOfflineModel(probe=probe, token_delay=delay))


async def test_stop_mid_answer_cancels_the_model_and_the_session_goes_on() -> None:
    probe, opener = _slow()
    with running(open_graph_with=opener) as live:
        async with await open_chat(live) as ws:
            await ws.send(json.dumps({"type": "message", "message": Q, "session_id": "s_stop"}))
            seen: list[Any] = []
            while sum(e["type"] == "text" for e in seen) < 3:
                seen.append(await recv(ws))
            await ws.send(json.dumps({"type": "stop", "run_id": seen[0]["run_id"]}))
            rest = await run_until_end(ws, seen[0]["run_id"])
            run = [parse_envelope(e) for e in seen] + rest
            assert_run_invariants(run, reason="cancelled")
            words = probe.words
            await asyncio.sleep(0.3)
            assert probe.closed_early and probe.words == words  # the model call stopped

            await ws.send(json.dumps({"type": "message", "message": "How do I descale the kettle?",
                                      "session_id": "s_stop"}))  # fmt: skip
            assert_run_invariants(await run_until_end(ws), reason="complete")


async def test_stop_without_run_id_stops_every_run_of_the_connection() -> None:
    _, opener = _slow()
    with running(open_graph_with=opener) as live:
        async with await open_chat(live) as ws:
            for session in ("s_a", "s_b"):
                await ws.send(json.dumps({"type": "message", "message": Q, "session_id": session}))
            await asyncio.sleep(0.3)
            await ws.send('{"type": "stop"}')
            ends: dict[str, str] = {}
            while len(ends) < 2:
                env = await recv(ws)
                if env["type"] == "end":
                    ends[env["session_id"]] = env["data"]["reason"]
    assert ends == {"s_a": "cancelled", "s_b": "cancelled"}


async def test_resume_after_a_dropped_connection_loses_and_repeats_nothing() -> None:
    _, opener = _slow(0.02)
    with running(open_graph_with=opener) as live:
        async with await open_chat(live) as ws:
            await ws.send(json.dumps({"type": "message", "message": Q, "session_id": "s_full"}))
            uninterrupted = await run_until_end(ws)

        ws = await open_chat(live)
        await ws.send(json.dumps({"type": "message", "message": Q, "session_id": "s_drop"}))
        before: list[Any] = []
        while sum(e["type"] == "text" for e in before) < 4:
            before.append(await recv(ws))
        ws.transport.abort()  # the network goes away: no close frame
        await asyncio.sleep(0.2)

        async with await open_chat(live) as again:
            last = before[-1]
            await again.send(json.dumps({"type": "resume", "run_id": last["run_id"],
                                         "after_seq": last["seq"]}))  # fmt: skip
            after = await run_until_end(again, last["run_id"])
    resumed = [parse_envelope(e) for e in before] + after
    assert_run_invariants(resumed, reason="complete")
    assert comparable(resumed) == comparable(uninterrupted)
    assert _text(resumed) == _text(uninterrupted)


async def test_a_finished_run_replays_through_its_end_and_an_unknown_one_is_not_found(
    server: Running,
) -> None:
    async with await open_chat(server) as ws:
        await ws.send(json.dumps({"type": "message", "message": Q}))
        run = await run_until_end(ws)
    async with await open_chat(server) as ws:
        await ws.send(json.dumps({"type": "resume", "run_id": run[0].run_id, "after_seq": -1}))
        assert comparable(await run_until_end(ws, run[0].run_id)) == comparable(run)
        await ws.send(json.dumps({"type": "resume", "run_id": "r_never", "after_seq": 0}))
        error = await recv(ws)
        assert (error["type"], error["run_id"], error["data"]["code"]) == (
            "error",
            "r_never",
            "NOT_FOUND",
        )


async def test_subscribe_shows_runs_started_by_another_connection(server: Running) -> None:
    async with await open_chat(server) as watcher, await open_chat(server) as asker:
        await watcher.send(json.dumps({"type": "subscribe", "session_id": "s_shared"}))
        await asyncio.sleep(0.1)
        await asker.send(json.dumps({"type": "message", "message": Q, "session_id": "s_shared"}))
        asked, watched = await asyncio.gather(run_until_end(asker), run_until_end(watcher))
    assert_run_invariants(watched, reason="complete")
    assert comparable(watched) == comparable(asked)


async def test_busy_interrupt_and_enqueue_over_the_socket() -> None:
    _, opener = _slow(0.03)
    with running(open_graph_with=opener) as live:
        async with await open_chat(live) as ws:
            msg = {"type": "message", "message": Q, "session_id": "s_busy"}
            await ws.send(json.dumps({**msg, "run_id": "r_1"}))
            await asyncio.sleep(0.2)
            await ws.send(json.dumps({**msg, "run_id": "r_2"}))
            await ws.send(json.dumps({**msg, "run_id": "r_3", "options": {"multitask": "enqueue"}}))
            await ws.send(
                json.dumps({**msg, "run_id": "r_4", "options": {"multitask": "interrupt"}})
            )
            by_run: dict[str, list[Any]] = {}
            busy: list[dict[str, Any]] = []
            while sum(1 for v in by_run.values() if v and v[-1].type == "end") < 3:
                env = await recv(ws)
                if env["type"] == "error" and env["seq"] is None:
                    busy.append(env)
                elif env["run_id"]:
                    by_run.setdefault(env["run_id"], []).append(parse_envelope(env))
    assert [(b["run_id"], b["data"]["code"], b["data"]["retryable"]) for b in busy] == [
        ("r_2", "BUSY", True)]  # fmt: skip
    assert_run_invariants(by_run["r_1"], reason="cancelled")  # interrupted by r_4
    assert_run_invariants(by_run["r_3"], reason="cancelled")  # queued behind r_1, interrupted too
    assert_run_invariants(by_run["r_4"], reason="complete")


async def test_several_runs_share_one_connection(server: Running) -> None:
    async with await open_chat(server) as ws:
        for i in range(3):
            await ws.send(json.dumps({"type": "message", "message": Q, "session_id": f"s_{i}"}))
        runs: dict[str, list[Any]] = {}
        while sum(1 for v in runs.values() if v[-1].type == "end") < 3:
            env = parse_envelope(await recv(ws))
            runs.setdefault(env.run_id, []).append(env)
    assert len(runs) == 3
    for run in runs.values():
        assert_run_invariants(run, reason="complete")


async def test_a_cross_origin_handshake_is_refused(server: Running) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(server.ws, origin="http://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    ws = await connect(server.ws, origin="http://allowed.example")  # type: ignore[arg-type]
    assert (await recv(ws))["type"] == "connected"
    await ws.close()


async def test_a_reader_that_stops_reading_is_dropped_and_costs_bounded_memory() -> None:
    settings = server_settings(send_queue_size=8, send_timeout=0.5)
    with running(settings, open_graph_with=model_opener(FloodModel(chunks=10_000))) as live:
        stalled = await connect(live.ws, max_queue=1)  # reads one frame, then stops reading
        await stalled.send(json.dumps({"type": "message", "message": Q}))  # a ~4 MB answer
        deadline = time.monotonic() + 20
        while live.state.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not live.state.connections  # the server let go of the stuck client
        async with await open_chat(live) as healthy:  # and still serves others
            await healthy.send(json.dumps({"type": "ping"}))
            assert (await recv(healthy))["type"] == "pong"
        stalled.transport.abort()
        await asyncio.sleep(0.5)  # let the server see the reset before it shuts down


async def test_idle_sockets_are_closed_and_connections_are_capped() -> None:
    with running(server_settings(idle_timeout=0.5, max_connections=1)) as live:
        first = await open_chat(live)
        second = await connect(live.ws)
        with pytest.raises(ConnectionClosed) as capped:
            while True:
                await recv(second)
        assert capped.value.rcvd is not None and capped.value.rcvd.code == 1013
        with pytest.raises(ConnectionClosed) as idle:
            await recv(first, timeout=5)
        assert idle.value.rcvd is not None and idle.value.rcvd.code == 1000


async def test_messages_over_the_rate_limit_are_refused() -> None:
    with running(server_settings(rate_limit_per_minute=2)) as live:
        async with await open_chat(live) as ws:
            codes = []
            for i in range(3):
                await ws.send(json.dumps({"type": "message", "message": Q, "session_id": f"s_{i}"}))
            while len(codes) < 3:
                env = await recv(ws)
                if env["type"] == "error" or env["type"] == "end":
                    codes.append(env["data"].get("code", env["type"]))
    assert sorted(codes) == ["RATE_LIMITED", "end", "end"]


async def _ask_for_code(ws: ClientConnection, session_id: str) -> str:
    """Ask once; ``end`` for an answer, else the refusal's code."""
    await ws.send(json.dumps({"type": "message", "message": Q, "session_id": session_id}))
    while True:
        env = await recv(ws)
        if env["type"] in ("error", "end"):
            return str(env["data"].get("code", env["type"]))


async def test_with_authentication_off_the_user_limit_is_per_client_address() -> None:
    """Every caller is the anonymous user: one address using up the per-user limit, over two
    sockets, leaves another address its own (the loopback's 127.0.0.2 is a second client)."""
    settings = server_settings(rate_limit_per_minute=100, user_rate_limit_per_minute=2)
    with running(settings) as live:
        async with (
            await open_chat(live) as first,
            await open_chat(live) as second,
            await open_chat(live, local_addr=("127.0.0.2", 0)) as elsewhere,
        ):
            here = [
                await _ask_for_code(first, "s_a1"),
                await _ask_for_code(second, "s_a2"),
                await _ask_for_code(second, "s_a3"),
                await _ask_for_code(first, "s_a4"),
            ]
            there = [await _ask_for_code(elsewhere, f"s_b{i}") for i in range(3)]
            assert live.state.auth.enabled is False
    assert here == ["end", "end", "RATE_LIMITED", "RATE_LIMITED"]
    assert there == ["end", "end", "RATE_LIMITED"]


async def test_with_authentication_on_the_user_limit_follows_the_user_across_addresses() -> None:
    settings = server_settings(
        jwt_secret=SecretStr(SECRET), rate_limit_per_minute=100, user_rate_limit_per_minute=2
    )
    with running(settings) as live:
        alice = {"additional_headers": {"Authorization": f"Bearer {_token('alice')}"}}
        bob = {"additional_headers": {"Authorization": f"Bearer {_token('bob')}"}}
        async with (
            await open_chat(live, **alice) as one,
            await open_chat(live, local_addr=("127.0.0.2", 0), **alice) as two,
            await open_chat(live, local_addr=("127.0.0.2", 0), **bob) as other,
        ):
            codes = [
                await _ask_for_code(one, "s_1"),
                await _ask_for_code(two, "s_2"),
                await _ask_for_code(two, "s_3"),
                await _ask_for_code(other, "s_4"),
            ]
    assert codes == ["end", "end", "RATE_LIMITED", "end"]


async def test_shutdown_ends_live_runs_then_closes_with_1012() -> None:
    _, opener = _slow(0.05)
    with running(open_graph_with=opener) as live:
        ws = await open_chat(live)
        await ws.send(json.dumps({"type": "message", "message": Q}))
        seen = [await recv(ws) for _ in range(8)]
        live.server.should_exit = True
        rest: list[dict[str, Any]] = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                rest.append(await recv(ws))
    run = [parse_envelope(e) for e in seen + rest]
    assert_run_invariants(run, reason="cancelled")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012


# --------------------------------------------------------------------------- authentication


def _token(sub: str = "alice", ttl: float = 60) -> str:
    if ttl <= 0:  # an already expired token: issued a while ago
        return mint_token(secret=SECRET, sub=sub, ttl_seconds=60, now=time.time() - 60 + ttl)
    return mint_token(secret=SECRET, sub=sub, ttl_seconds=ttl)


@pytest.fixture
def secured() -> Any:
    settings = server_settings(jwt_secret=SecretStr(SECRET), auth_timeout=1.0, jwt_leeway=0)
    with running(settings) as live:
        yield live


async def test_auth_by_frame_then_chat(secured: Running) -> None:
    async with await connect(secured.ws) as ws:
        hello = await recv(ws)
        assert hello["data"]["auth_required"] is True
        await ws.send(json.dumps({"type": "message", "message": Q}))
        assert (await recv(ws))["data"]["code"] == "AUTH_REQUIRED"
        await ws.send(json.dumps({"type": "auth", "token": "garbage"}))
        failed = await recv(ws)
        assert (
            failed["data"]["code"] == "AUTH_FAILED" and "garbage" not in failed["data"]["message"]
        )
        await ws.send(json.dumps({"type": "auth", "token": _token()}))
        success = await recv(ws)
        assert success["type"] == "auth_success" and success["data"]["user"]["id"] == "alice"
        await ws.send(json.dumps({"type": "message", "message": Q}))
        assert_run_invariants(await run_until_end(ws), reason="complete")


@pytest.mark.parametrize("how", ["query", "header"])
async def test_auth_in_the_handshake(secured: Running, how: str) -> None:
    token = _token()
    if how == "query":
        ws = await connect(f"{secured.ws}?token={token}")
    else:
        ws = await connect(secured.ws, additional_headers={"Authorization": f"Bearer {token}"})
    hello = await recv(ws)
    assert hello["data"]["auth_required"] is False and hello["data"]["user"]["id"] == "alice"
    await ws.close()


async def test_a_bad_handshake_token_is_refused_with_401(secured: Running) -> None:
    for bad in ("nope", _token(ttl=-120), mint_token(secret="t" * 32, sub="alice", ttl_seconds=60)):
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"{secured.ws}?token={bad}")
        assert refused.value.response.status_code == 401
        assert b"AUTH_FAILED" in refused.value.response.body


async def test_no_auth_in_time_closes_with_policy_violation(secured: Running) -> None:
    async with await connect(secured.ws) as ws:
        await recv(ws)
        error = await recv(ws, timeout=5)
        assert error["data"]["code"] == "AUTH_REQUIRED"
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws, timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_a_token_that_expires_on_a_live_socket_ends_it(secured: Running) -> None:
    async with await connect(f"{secured.ws}?token={_token(ttl=1.5)}") as ws:
        await recv(ws)
        error = await recv(ws, timeout=5)
        assert (error["type"], error["data"]["code"]) == ("error", "AUTH_FAILED")
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws, timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_another_users_conversation_is_forbidden(secured: Running) -> None:
    alice = await connect(f"{secured.ws}?token={_token('alice')}")
    bob = await connect(f"{secured.ws}?token={_token('bob')}")
    await recv(alice), await recv(bob)
    await alice.send(json.dumps({"type": "message", "message": Q, "session_id": "s_alice"}))
    run = await run_until_end(alice)
    for frame in (
        {"type": "message", "message": Q, "session_id": "s_alice"},
        {"type": "resume", "run_id": run[0].run_id, "after_seq": -1},
        {"type": "subscribe", "session_id": "s_alice"},
        {"type": "stop", "run_id": run[0].run_id},
    ):
        await bob.send(json.dumps(frame))
        error = await recv(bob)
        assert error["data"]["code"] == "FORBIDDEN", frame
    await alice.close(), await bob.close()


async def test_no_token_reaches_the_logs(
    secured: Running, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler = Keep()
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn"):
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)
    try:
        token = _token()
        ws = await connect(f"{secured.ws}?token={token}")
        await recv(ws)
        await ws.close()
        await asyncio.sleep(0.2)
    finally:
        for name in ("uvicorn.access", "uvicorn.error", "uvicorn"):
            logging.getLogger(name).removeHandler(handler)
    assert any("/ws/chat" in r for r in records), records
    joined = "\n".join(records)
    assert token not in joined and not re.search(r"eyJ[\w-]+\.", joined)


def test_websockets_is_the_client_under_test() -> None:
    assert websockets.__version__


async def test_a_vanished_client_is_noticed_while_the_graph_is_silent() -> None:
    probe, opener = _slow(0.4)  # long silences between words
    with running(server_settings(resume_grace=0.5), open_graph_with=opener) as live:
        ws = await open_chat(live)
        await ws.send(json.dumps({"type": "message", "message": Q}))
        first = await recv(ws)
        ws.transport.abort()  # gone without a close frame, mid-answer
        deadline = time.monotonic() + 10
        while live.state.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not live.state.connections
        run = live.state.registry.get(first["run_id"], user_id="anonymous")
        while run.active and time.monotonic() < deadline:  # nobody resumed within the grace
            await asyncio.sleep(0.05)
        assert run.end_reason == "cancelled" and probe.closed_early


async def test_permessage_deflate_is_off(server: Running) -> None:
    async with await connect(server.ws, compression="deflate") as ws:
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        assert (await recv(ws))["type"] == "connected"


class _Exploding:
    async def classify(self, question: str, history: Any) -> Any:
        raise RuntimeError("router exploded with api_key=sk-live-abcdefgh123")


def _graph_opener(**build: Any) -> Any:
    from contextlib import asynccontextmanager

    from graphwire.agents import load_pack
    from graphwire.graph import build_graph, open_checkpointer

    @asynccontextmanager
    async def opener(settings: Any) -> Any:
        async with open_checkpointer(":memory:") as saver:
            yield build_graph(pack=load_pack(settings.pack), checkpointer=saver, **build)

    return opener


@pytest.mark.parametrize(
    ("build", "settings", "code", "retryable"),
    [
        ({"model": FailingChatModel(tokens=["The "], error=ModelError("The language model failed to answer."))},
         {}, "MODEL_ERROR", False),
        ({"model": ProbedOfflineModel(probe=StreamProbe(), token_delay=0.2)},
         {"run_timeout": 0.5}, "TIMEOUT", True),
        ({"classifier": _Exploding()}, {}, "PROCESSING_ERROR", False),
    ],
    ids=["model-error", "timeout", "processing-error"],
)  # fmt: skip
async def test_failures_inside_a_run_are_error_then_end(
    build: dict[str, Any], settings: dict[str, Any], code: str, retryable: bool
) -> None:
    with running(server_settings(**settings), open_graph_with=_graph_opener(**build)) as live:
        async with await open_chat(live) as ws:
            await ws.send(json.dumps({"type": "message", "message": Q}))
            run = await run_until_end(ws)
            await ws.send('{"type": "ping"}')  # the socket is still usable
            assert (await recv(ws))["type"] == "pong"
    assert_run_invariants(run, reason="error")
    assert (run[-2].data.code, run[-2].data.retryable) == (code, retryable)
    assert "sk-live" not in run[-2].data.message


async def test_every_envelope_sent_on_a_socket_is_counted_in_metrics() -> None:
    with running(server_settings(offline_token_delay=0.002)) as server:
        async with await open_chat(server) as ws:
            await ws.send(json.dumps({"type": "message", "message": Q}))
            run = await run_until_end(ws)
        async with httpx.AsyncClient(base_url=server.http) as client:
            text = (await client.get("/metrics")).text
    sent = {
        sample.labels["transport"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "graphwire_envelopes_sent_total"
    }
    assert sent == {"ws": 1 + len(run)}  # connected, then the run's envelopes
