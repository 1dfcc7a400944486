"""Hostile frames and ids against a real server: each gets its error, and the socket goes on.

Deep JSON, endless numbers and lone surrogates used to close the connection (1000, with an ASGI
traceback) or start a run that never answered; subscriptions were unbounded and outlived the
socket that made them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from graphwire.api.tokens import mint_token
from graphwire.transport.protocol import parse_envelope
from tests.conftest import assert_run_invariants
from tests.server import Running, running, server_settings

Q = "What does error F3 mean?"
SECRET = "h" * 32
SURROGATE = "\\ud800"  # as the JSON escape a client writes


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    settings = server_settings(
        rate_limit_per_minute=10_000,
        user_rate_limit_per_minute=10_000,
        max_subscriptions_per_connection=3,
        max_subscriptions_per_user=5,
    )
    with running(settings) as live:
        yield live


async def recv(ws: ClientConnection) -> dict[str, Any]:
    reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
    return reply


async def opened(live: Running, token: str | None = None) -> ClientConnection:
    url = live.ws if token is None else f"{live.ws}?token={token}"
    ws = await connect(url)
    assert (await recv(ws))["type"] == "connected"
    return ws


async def still_answers(ws: ClientConnection) -> None:
    """The socket is usable: a ping gets its pong, and a question its whole run."""
    await ws.send('{"type":"ping"}')
    assert (await recv(ws))["type"] == "pong"
    await ws.send(json.dumps({"type": "message", "message": Q}))
    run = []
    while not run or run[-1].type != "end":
        run.append(parse_envelope(await recv(ws)))
    assert_run_invariants(run, reason="complete")


HOSTILE = {
    "nested 5,000 deep": '{"type":"message","message":"hi","options":' + "[" * 5000 + "]" * 5000 + "}",
    "an int of 5,000 digits": '{"type":"resume","run_id":"r_1","after_seq":' + "9" * 5000 + "}",
    "NaN": '{"type":"resume","run_id":"r_1","after_seq":NaN}',
    "a surrogate in resume's run_id": '{"type":"resume","run_id":"' + SURROGATE + '","after_seq":0}',
    "a surrogate in stop's run_id": '{"type":"stop","run_id":"r' + SURROGATE + '"}',
    "a surrogate echoed by a refused frame": '{"type":"nap","run_id":"' + SURROGATE + '"}',
    "a surrogate in a message's session_id": '{"type":"message","message":"hi","session_id":"s' + SURROGATE + '"}',
    "a surrogate in a message's run_id": '{"type":"message","message":"hi","run_id":"' + SURROGATE + '"}',
    "a surrogate in the message": '{"type":"message","message":"hi ' + SURROGATE + '"}',
    "a surrogate in an options key": '{"type":"message","message":"hi","options":{"' + SURROGATE + '":1}}',
    "a session_id with a space": '{"type":"message","message":"hi","session_id":"s 1"}',
    "a session_id of 129 characters": '{"type":"subscribe","session_id":"' + "s" * 129 + '"}',
    "a run_id with a slash": '{"type":"resume","run_id":"r/1","after_seq":0}',
}  # fmt: skip


@pytest.mark.parametrize("frame", HOSTILE.values(), ids=HOSTILE.keys())
async def test_a_hostile_frame_gets_invalid_message_and_the_socket_goes_on(
    server: Running, frame: str
) -> None:
    async with await opened(server) as ws:
        await ws.send(frame)
        error = await recv(ws)
        assert error["type"] == "error" and error["data"]["code"] == "INVALID_MESSAGE", error
        assert error["run_id"] is None and error["seq"] is None  # nothing started, no bad id echoed
        await still_answers(ws)


@pytest.mark.parametrize(
    "body",
    [
        {"message": "hi", "session_id": "s\ud800"},
        {"message": "hi", "run_id": "r\udfff"},
        {"message": "hi", "session_id": "a b"},
        {"message": "hi", "run_id": "x" * 129},
    ],
)
@pytest.mark.parametrize("route", ["/api/v1/chat", "/api/v1/chat/stream"])
async def test_a_bad_id_over_http_is_refused_at_once(
    server: Running, route: str, body: dict[str, Any]
) -> None:
    """These used to start a run whose first envelope could not be encoded: no answer ever."""
    raw = json.dumps(body)  # ensure_ascii: the surrogates travel as \\u escapes
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        response = await http.post(route, content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 422
        assert response.json()["code"] == "INVALID_MESSAGE"
        good = await http.post("/api/v1/chat", json={"message": Q})
        assert good.status_code == 200 and good.json()["text"]


async def test_bad_ids_in_query_and_path_are_refused(server: Running) -> None:
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        for url in (
            "/api/v1/chat/stream?message=hi&session_id=a%20b",
            "/api/v1/runs/r%20x/stream",
            "/api/v1/sessions/" + "s" * 129 + "/messages",
        ):
            response = await http.get(url)
            assert response.status_code == 422, url
            assert response.json()["code"] == "INVALID_MESSAGE"
        empty = await http.get("/api/v1/chat/stream", params={"message": Q, "session_id": ""})
        assert empty.status_code == 200  # an empty form field is no id: a new conversation


# --------------------------------------------------------------------------- subscriptions


async def test_subscriptions_are_bounded_per_connection_and_freed_by_unsubscribe(
    server: Running,
) -> None:
    async with await opened(server) as ws:
        for i in range(3):
            await ws.send(json.dumps({"type": "subscribe", "session_id": f"s_sub_{i}"}))
        await ws.send(json.dumps({"type": "subscribe", "session_id": "s_sub_3"}))
        refused = await recv(ws)
        assert refused["data"]["code"] == "RATE_LIMITED" and refused["session_id"] == "s_sub_3"
        assert "GRAPHWIRE_MAX_SUBSCRIPTIONS_PER_CONNECTION" in refused["data"]["message"]
        await ws.send(json.dumps({"type": "unsubscribe", "session_id": "s_sub_0"}))
        await ws.send(json.dumps({"type": "subscribe", "session_id": "s_sub_3"}))
        await ws.send('{"type":"ping"}')
        assert (await recv(ws))["type"] == "pong"  # no refusal came before it
        assert "s_sub_0" not in server.state.registry.sessions  # nothing else held it
        await still_answers(ws)


async def test_subscriptions_are_bounded_per_user_across_sockets(server: Running) -> None:
    sessions = server.state.registry.sessions
    await _until(lambda: sessions.subscriptions("ip:127.0.0.1") == 0)  # earlier sockets' gone
    first, second = await opened(server), await opened(server)
    async with first, second:
        for i in range(3):
            await first.send(json.dumps({"type": "subscribe", "session_id": f"s_user_a{i}"}))
        await first.send('{"type":"ping"}')
        assert (await recv(first))["type"] == "pong"  # its three are held before the second asks
        for i in range(2):
            await second.send(json.dumps({"type": "subscribe", "session_id": f"s_user_b{i}"}))
        await second.send(json.dumps({"type": "subscribe", "session_id": "s_user_b2"}))
        refused = await recv(second)
        assert refused["data"]["code"] == "RATE_LIMITED"
        assert "GRAPHWIRE_MAX_SUBSCRIPTIONS_PER_USER" in refused["data"]["message"]
    await _until(lambda: server.state.registry.sessions.subscriptions("ip:127.0.0.1") == 0)


async def test_with_auth_off_each_address_has_its_own_subscription_quota(server: Running) -> None:
    """Every anonymous caller is the same user: one must not use up everyone's subscriptions."""
    sessions = server.state.registry.sessions
    await _until(lambda: sessions.subscriptions("ip:127.0.0.1") == 0)  # earlier sockets' gone
    here = await opened(server)
    there = await connect(server.ws, local_addr=("127.0.0.2", 0))
    async with here, there:
        assert (await recv(there))["type"] == "connected"
        for i in range(3):
            await here.send(json.dumps({"type": "subscribe", "session_id": f"s_q_{i}"}))
        for i in range(3):
            await there.send(json.dumps({"type": "subscribe", "session_id": f"s_q2_{i}"}))
        for ws in (here, there):
            await ws.send('{"type":"ping"}')
            assert (await recv(ws))["type"] == "pong"  # no refusal: 6 in all, 3 per address
        assert (sessions.subscriptions("ip:127.0.0.1"), sessions.subscriptions("ip:127.0.0.2")) == (
            3,
            3,
        )


async def test_a_closed_socket_frees_the_conversations_it_subscribed_to() -> None:
    """Another user can then start a conversation with that id (it got FORBIDDEN before)."""
    alice = mint_token(secret=SECRET, sub="alice", ttl_seconds=300)
    bob = mint_token(secret=SECRET, sub="bob", ttl_seconds=300)
    with running(server_settings(jwt_secret=SECRET)) as live:
        async with await opened(live, alice) as ws:
            for i in range(20):
                await ws.send(json.dumps({"type": "subscribe", "session_id": f"s_held_{i}"}))
            await ws.send('{"type":"ping"}')
            assert (await recv(ws))["type"] == "pong"
            assert live.state.registry.sessions.subscriptions("alice") == 20
        sessions = live.state.registry.sessions
        await _until(lambda: sessions.subscriptions("alice") == 0)
        assert not any(f"s_held_{i}" in sessions for i in range(20))
        async with httpx.AsyncClient(base_url=live.http, timeout=10) as http:
            response = await http.post(
                "/api/v1/chat",
                json={"message": Q, "session_id": "s_held_0"},
                headers={"Authorization": f"Bearer {bob}"},
            )
        assert response.status_code == 200


async def _until(condition: Any, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")
