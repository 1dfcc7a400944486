"""The HTTP routes of graphwire.v1 (protocol section 5) over a real uvicorn, with real clients.

Streams are read with httpx + httpx-sse as they arrive (no ASGI transport: it buffers whole bodies).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent, aconnect_sse
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from graphwire.api.tokens import mint_token
from graphwire.transport.protocol import Envelope, parse_envelope
from tests.conftest import assert_run_invariants, comparable
from tests.fakes import ProbedOfflineModel, StreamProbe
from tests.server import Running, fast_model, model_opener, running, server_settings

F3 = "What does error F3 mean?"
DESCALE = "How do I descale the kettle?"
HEAVY = "How heavy is the kettle?"

F3_FINAL = {
    "text": "Error F3 means the temperature sensor failed. Unplug the kettle and contact service; error F3 cannot be fixed at home. [faults/codes#1]",
    "agent": "faults",
    "confidence": 1.0,
    "sources": [
        {
            "id": "faults/codes#1",
            "title": "Fault codes › Error F3",
            "uri": "docs/faults/codes.md#error-f3",
            "snippet": "Error F3 means the temperature sensor failed. Unplug the kettle and contact service; error F3 cannot be fixed at home.",
            "score": 1.0,
        },
        {
            "id": "faults/codes#0",
            "title": "Fault codes › Blinking lights",
            "uri": "docs/faults/codes.md#blinking-lights",
            "snippet": "A red light blinking twice means the kettle was switched on empty. Fill the kettle and press the switch again.",
            "score": 0.4919,
        },
    ],
    "model": "graphwire-offline",
    "finish_reason": "stop",
    "usage": {"input_tokens": 105, "output_tokens": 21, "total_tokens": 126},
}

SECRET = "x" * 32


# --------------------------------------------------------------------------- helpers


@dataclass
class Stream:
    response: httpx.Response
    events: list[ServerSentEvent]

    @property
    def envelopes(self) -> list[Envelope]:
        return [parse_envelope(event.data) for event in self.events]


async def read_stream(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    until: Callable[[Envelope], bool] | None = None,
    **kwargs: Any,
) -> Stream:
    """An SSE response read to its end, or until ``until(envelope)`` (then the reader hangs up)."""
    events: list[ServerSentEvent] = []
    async with aconnect_sse(client, method, url, **kwargs) as source:
        if source.response.status_code != 200:
            await source.response.aread()
            raise AssertionError(f"{source.response.status_code}: {source.response.text}")
        async with aclosing(source.aiter_sse()) as stream:
            async for event in stream:
                events.append(event)
                if until is not None and until(parse_envelope(event.data)):
                    break
    return Stream(source.response, events)


async def next_envelope(events: AsyncGenerator[ServerSentEvent, None]) -> Envelope:
    return parse_envelope((await anext(events)).data)


async def rest_of(events: AsyncGenerator[ServerSentEvent, None]) -> list[Envelope]:
    return [parse_envelope(event.data) async for event in events]


def problem(response: httpx.Response) -> tuple[int, str]:
    """``(status, code)`` of a refusal, after checking its body is exactly ``{code, message}``."""
    assert response.headers["content-type"] == "application/json", response.text
    body = response.json()
    assert sorted(body) == ["code", "message"], body
    assert isinstance(body["message"], str) and body["message"], body
    return response.status_code, body["code"]


async def eventually(check: Callable[[], bool | Awaitable[bool]], within: float = 10.0) -> None:
    """Wait (bounded) for something the server does on its own thread after answering."""
    deadline = time.monotonic() + within
    while True:
        outcome = check()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError("the condition never held")
        await asyncio.sleep(0.01)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def slow(probe: StreamProbe, delay: float = 0.05) -> Any:
    return model_opener(ProbedOfflineModel(probe=probe, token_delay=delay))


# --------------------------------------------------------------------------- chat and sessions


async def test_chat_answers_with_final_data_and_keeps_the_conversation(server: Running) -> None:
    async with httpx.AsyncClient(base_url=server.http) as client:
        first = await client.post("/api/v1/chat", json={"message": F3})
        assert first.status_code == 200
        answer = first.json()
        assert answer == {
            **F3_FINAL,
            "run_id": answer["run_id"],
            "session_id": answer["session_id"],
            "message_id": answer["message_id"],
            "timing": answer["timing"],
        }
        assert answer["run_id"].startswith("r_") and answer["session_id"].startswith("s_")
        assert isinstance(answer["message_id"], str) and answer["message_id"]
        assert sorted(answer["timing"]) == ["first_token_ms", "total_ms"]
        session_id = answer["session_id"]

        second = await client.post(
            "/api/v1/chat", json={"message": DESCALE, "session_id": session_id}
        )
        assert second.status_code == 200
        follow_up = second.json()
        assert follow_up["session_id"] == session_id
        assert follow_up["run_id"] != answer["run_id"]
        assert follow_up["agent"] == "care"

        history = await client.get(f"/api/v1/sessions/{session_id}/messages")
        assert history.status_code == 200
        body = history.json()
        assert body["session_id"] == session_id
        assert [(m["role"], m["content"], m.get("agent")) for m in body["messages"]] == [
            ("user", F3, None),
            ("assistant", answer["text"], "faults"),
            ("user", DESCALE, None),
            ("assistant", follow_up["text"], "care"),
        ]
        assistant_ids = [m["id"] for m in body["messages"] if m["role"] == "assistant"]
        assert assistant_ids == [answer["message_id"], follow_up["message_id"]]

        deleted = await client.delete(f"/api/v1/sessions/{session_id}/messages")
        assert (deleted.status_code, deleted.content) == (204, b"")
        gone = await client.get(f"/api/v1/sessions/{session_id}/messages")
        assert problem(gone) == (404, "NOT_FOUND")
        again = await client.delete(f"/api/v1/sessions/{session_id}/messages")
        assert problem(again) == (404, "NOT_FOUND")

        chosen = await client.post("/api/v1/chat", json={"message": F3, "run_id": "r_chosen"})
        assert (chosen.status_code, chosen.json()["run_id"]) == (200, "r_chosen")
        reused = await client.post("/api/v1/chat", json={"message": F3, "run_id": "r_chosen"})
        assert problem(reused) == (422, "INVALID_MESSAGE")


@pytest.mark.parametrize(
    ("method", "ask"),
    [
        ("POST", lambda q, s: {"json": {"message": q, "session_id": s}}),
        ("GET", lambda q, s: {"params": {"message": q} | ({"session_id": s} if s else {})}),
    ],
    ids=["post", "get-eventsource"],
)
async def test_chat_stream_sends_each_envelope_as_one_sse_event(
    server: Running, method: str, ask: Callable[[str, str | None], dict[str, Any]]
) -> None:
    async with httpx.AsyncClient(base_url=server.http) as client:
        first = await read_stream(client, method, "/api/v1/chat/stream", **ask(DESCALE, None))
        assert first.response.headers["content-type"].startswith("text/event-stream")
        envelopes = first.envelopes
        assert_run_invariants(envelopes, reason="complete")
        assert [(event.event, event.id) for event in first.events] == [
            (e.type, f"{e.run_id}:{e.seq}") for e in envelopes
        ]
        assert [event.data for event in first.events] == [e.to_json() for e in envelopes]
        assert envelopes[-2].data.agent == "care"  # type: ignore[union-attr]

        session_id = envelopes[0].session_id
        second = await read_stream(client, method, "/api/v1/chat/stream", **ask(HEAVY, session_id))
        assert_run_invariants(second.envelopes, reason="complete")
        assert {e.session_id for e in second.envelopes} == {session_id}
        assert {e.run_id for e in second.envelopes}.isdisjoint({envelopes[0].run_id})
        history = (await client.get(f"/api/v1/sessions/{session_id}/messages")).json()
        assert [m["role"] for m in history["messages"]] == ["user", "assistant"] * 2


# --------------------------------------------------------------------------- replay and resume


async def test_run_stream_replays_after_last_event_id_or_after_seq(server: Running) -> None:
    async with httpx.AsyncClient(base_url=server.http) as client:
        whole = (
            await read_stream(client, "POST", "/api/v1/chat/stream", json={"message": F3})
        ).envelopes
        assert_run_invariants(whole, reason="complete")
        run_id = whole[0].run_id
        url = f"/api/v1/runs/{run_id}/stream"
        last = len(whole) - 1

        everything = await read_stream(client, "GET", url)
        assert everything.envelopes == whole
        for n in (0, 5, last - 1):
            resumed = await read_stream(
                client, "GET", url, headers={"Last-Event-ID": f"{run_id}:{n}"}
            )
            assert resumed.envelopes == whole[n + 1 :], n
            assert [event.id for event in resumed.events] == [
                f"{run_id}:{seq}" for seq in range(n + 1, last + 1)
            ]
            by_query = await read_stream(client, "GET", url, params={"after_seq": n})
            assert by_query.envelopes == whole[n + 1 :], n

        # After the end there is nothing left: 204 tells EventSource to stop reconnecting.
        done = await client.get(url, headers={"Last-Event-ID": f"{run_id}:{last}"})
        assert (done.status_code, done.content) == (204, b"")
        assert (await client.get(url, params={"after_seq": last})).status_code == 204

        below = await client.get(url, params={"after_seq": -2})
        assert problem(below) == (422, "INVALID_MESSAGE")
        unknown = await client.get("/api/v1/runs/r_unknown/stream")
        assert problem(unknown) == (404, "NOT_FOUND")
        unknown_cancel = await client.post("/api/v1/runs/r_unknown/cancel")
        assert problem(unknown_cancel) == (404, "NOT_FOUND")


async def test_a_dropped_reader_reconnects_with_last_event_id_and_misses_nothing() -> None:
    with running(open_graph_with=model_opener(fast_model(0.03))) as live:
        async with httpx.AsyncClient(base_url=live.http) as client:

            async def dropped_and_resumed() -> list[Envelope]:
                before = await read_stream(
                    client,
                    "POST",
                    "/api/v1/chat/stream",
                    json={"message": DESCALE},
                    until=lambda e: e.type == "text",
                )
                assert before.envelopes[-1].type == "text"  # dropped mid-answer
                run_id = before.envelopes[0].run_id
                after = await read_stream(
                    client,
                    "GET",
                    f"/api/v1/runs/{run_id}/stream",
                    headers={"Last-Event-ID": before.events[-1].id},
                )
                return before.envelopes + after.envelopes

            async def uninterrupted() -> list[Envelope]:
                stream = await read_stream(
                    client, "POST", "/api/v1/chat/stream", json={"message": DESCALE}
                )
                return stream.envelopes

            pieced, whole = await asyncio.gather(dropped_and_resumed(), uninterrupted())
    assert_run_invariants(pieced, reason="complete")
    assert_run_invariants(whole, reason="complete")
    assert comparable(pieced) == comparable(whole)


async def test_a_replay_from_before_the_kept_log_is_refused_with_404() -> None:
    with running(server_settings(max_log_envelopes=10)) as live:
        async with httpx.AsyncClient(base_url=live.http) as client:
            whole = (
                await read_stream(client, "POST", "/api/v1/chat/stream", json={"message": DESCALE})
            ).envelopes
            assert_run_invariants(whole, reason="complete")
            assert len(whole) > 10
            run_id = whole[0].run_id
            url = f"/api/v1/runs/{run_id}/stream"

            kept = await read_stream(client, "GET", url, params={"after_seq": len(whole) - 11})
            assert kept.envelopes == whole[-10:]
            # The log no longer holds seq 1: a 404 before the stream starts, never a gap.
            by_query = await client.get(url, params={"after_seq": 0})
            by_header = await client.get(url, headers={"Last-Event-ID": f"{run_id}:0"})
            assert [problem(by_query), problem(by_header)] == [(404, "NOT_FOUND")] * 2


async def test_an_eventsource_reconnect_resumes_its_run_instead_of_asking_again(
    server: Running,
) -> None:
    """EventSource reconnects to the same URL with ``Last-Event-ID``; that must not re-ask."""
    ask = {"params": {"message": F3}}
    async with httpx.AsyncClient(base_url=server.http) as client:
        before = await read_stream(
            client, "GET", "/api/v1/chat/stream", until=lambda e: e.seq == 5, **ask
        )
        run_id, session_id = before.envelopes[0].run_id, before.envelopes[0].session_id
        after = await read_stream(
            client,
            "GET",
            "/api/v1/chat/stream",
            headers={"Last-Event-ID": before.events[-1].id},
            **ask,
        )
        whole = await read_stream(client, "GET", f"/api/v1/runs/{run_id}/stream")
        assert_run_invariants(whole.envelopes, reason="complete")
        assert before.envelopes + after.envelopes == whole.envelopes
        history = (await client.get(f"/api/v1/sessions/{session_id}/messages")).json()
        assert [m["role"] for m in history["messages"]] == ["user", "assistant"]


async def test_sse_keepalive_pings_honour_a_sub_second_interval() -> None:
    """``ping_interval`` is a float; 0.1 s must not be truncated to 0 (which disables pings)."""
    settings = server_settings(ping_interval=0.1)
    probe = StreamProbe()
    with running(settings, open_graph_with=slow(probe, 0.05)) as live:
        async with (
            httpx.AsyncClient(base_url=live.http) as client,
            client.stream("POST", "/api/v1/chat/stream", json={"message": F3}) as response,
        ):
            lines = [line async for line in response.aiter_lines()]
    assert probe.finished  # the stream lasted a whole slow answer, many ping intervals
    assert [line for line in lines if line.startswith(":")] != []


# --------------------------------------------------------------------------- stopping and busy


async def test_cancel_stops_the_run_and_its_model_and_the_session_goes_on() -> None:
    probe = StreamProbe()
    with running(open_graph_with=slow(probe)) as live:
        async with httpx.AsyncClient(base_url=live.http) as client:
            envelopes: list[Envelope] = []
            cancelled: httpx.Response | None = None
            async with (
                aconnect_sse(client, "POST", "/api/v1/chat/stream", json={"message": F3}) as source,
                aclosing(source.aiter_sse()) as events,
            ):
                async for event in events:
                    envelopes.append(parse_envelope(event.data))
                    if envelopes[-1].type == "text" and cancelled is None:
                        run_id = envelopes[-1].run_id
                        cancelled = await client.post(f"/api/v1/runs/{run_id}/cancel")
            assert_run_invariants(envelopes, reason="cancelled")
            run_id, session_id = envelopes[0].run_id, envelopes[0].session_id
            assert cancelled is not None and cancelled.status_code == 200
            assert cancelled.json() == {
                "run_id": run_id,
                "session_id": session_id,
                "reason": "cancelled",
            }
            await eventually(lambda: probe.closed_early)
            assert not probe.finished

            again = await client.post(f"/api/v1/runs/{run_id}/cancel")
            assert (again.status_code, again.json()["reason"]) == (200, "cancelled")

            next_one = await client.post(
                "/api/v1/chat", json={"message": HEAVY, "session_id": session_id}
            )
            assert next_one.status_code == 200
            assert (next_one.json()["session_id"], next_one.json()["agent"]) == (
                session_id,
                "specs",
            )
            assert probe.finished
            done = await client.post(f"/api/v1/runs/{next_one.json()['run_id']}/cancel")
            assert (done.status_code, done.json()["reason"]) == (200, "complete")


async def test_a_second_message_in_a_busy_session_is_refused() -> None:
    probe = StreamProbe()
    with running(open_graph_with=slow(probe, 0.02)) as live:
        async with httpx.AsyncClient(base_url=live.http) as client:
            async with (
                aconnect_sse(client, "POST", "/api/v1/chat/stream", json={"message": F3}) as source,
                aclosing(source.aiter_sse()) as events,
            ):
                first = [await next_envelope(events)]
                session_id = first[0].session_id
                refusals = [
                    await client.post(
                        "/api/v1/chat/stream", json={"message": HEAVY, "session_id": session_id}
                    ),
                    await client.post(
                        "/api/v1/chat", json={"message": HEAVY, "session_id": session_id}
                    ),
                    await client.get(
                        "/api/v1/chat/stream", params={"message": HEAVY, "session_id": session_id}
                    ),
                ]
                first += await rest_of(events)
            assert [problem(r) for r in refusals] == [(409, "BUSY")] * 3
            assert_run_invariants(first, reason="complete")
            history = (await client.get(f"/api/v1/sessions/{session_id}/messages")).json()
            assert [m["role"] for m in history["messages"]] == ["user", "assistant"]


async def test_enqueue_runs_the_second_message_after_the_first() -> None:
    probe = StreamProbe()
    with running(open_graph_with=slow(probe, 0.02)) as live:
        async with httpx.AsyncClient(base_url=live.http) as client:
            async with (
                aconnect_sse(client, "POST", "/api/v1/chat/stream", json={"message": F3}) as source,
                aclosing(source.aiter_sse()) as events,
            ):
                first = [await next_envelope(events)]
                session_id = first[0].session_id
                queued = await read_stream(
                    client,
                    "POST",
                    "/api/v1/chat/stream",
                    json={
                        "message": DESCALE,
                        "session_id": session_id,
                        "options": {"multitask": "enqueue"},
                    },
                )
                first += await rest_of(events)
            assert_run_invariants(first, reason="complete")
            assert_run_invariants(queued.envelopes, reason="complete")
            assert queued.envelopes[0].session_id == session_id
            history = (await client.get(f"/api/v1/sessions/{session_id}/messages")).json()
            assert [(m["role"], m.get("agent")) for m in history["messages"]] == [
                ("user", None),
                ("assistant", "faults"),
                ("user", None),
                ("assistant", "care"),
            ]
            assert [m["content"] for m in history["messages"] if m["role"] == "user"] == [
                F3,
                DESCALE,
            ]


async def test_interrupt_cancels_the_running_message_and_starts_the_new_one() -> None:
    probe = StreamProbe()
    with running(open_graph_with=slow(probe)) as live:
        async with httpx.AsyncClient(base_url=live.http) as client:
            async with (
                aconnect_sse(client, "POST", "/api/v1/chat/stream", json={"message": F3}) as source,
                aclosing(source.aiter_sse()) as events,
            ):
                first = [await next_envelope(events)]
                while first[-1].type != "text":
                    first.append(await next_envelope(events))
                session_id = first[0].session_id
                second = await read_stream(
                    client,
                    "POST",
                    "/api/v1/chat/stream",
                    json={
                        "message": HEAVY,
                        "session_id": session_id,
                        "options": {"multitask": "interrupt"},
                    },
                )
                first += await rest_of(events)
            assert_run_invariants(first, reason="cancelled")
            assert_run_invariants(second.envelopes, reason="complete")
            assert second.envelopes[0].session_id == session_id
            assert probe.closed_early


async def _stop_by(how: str, client: httpx.AsyncClient, run_id: str, session_id: str) -> int:
    """Stop run ``run_id`` from another request, as ``how`` says; the status of that request."""
    if how == "cancel":
        return (await client.post(f"/api/v1/runs/{run_id}/cancel")).status_code
    if how == "interrupt":
        interrupt = {"message": HEAVY, "session_id": session_id, "options": {"multitask": how}}
        return (await client.post("/api/v1/chat", json=interrupt)).status_code
    return (await client.delete(f"/api/v1/sessions/{session_id}/messages")).status_code


@pytest.mark.parametrize(("how", "status"), [("cancel", 200), ("interrupt", 200), ("delete", 204)])
async def test_a_chat_request_whose_run_another_request_stops_gets_409_busy(
    how: str, status: int
) -> None:
    probe = StreamProbe()
    with running(open_graph_with=slow(probe)) as live:
        async with httpx.AsyncClient(base_url=live.http, timeout=30) as client:
            asked = asyncio.create_task(
                client.post("/api/v1/chat", json={"message": F3, "run_id": "r_stopped"})
            )
            await eventually(lambda: probe.words > 0)
            seen = await read_stream(client, "GET", "/api/v1/runs/r_stopped/stream", until=bool)
            session_id = seen.envelopes[0].session_id
            assert session_id is not None
            assert await _stop_by(how, client, "r_stopped", session_id) == status
            answer = await asked
            assert problem(answer) == (409, "BUSY")
            assert "stopped before it answered" in answer.json()["message"]
            assert probe.closed_early
            again = await client.post(
                "/api/v1/chat", json={"message": F3, "session_id": session_id}
            )
            assert again.status_code == 200 and again.json()["agent"] == "faults"


async def test_a_chat_request_in_flight_at_shutdown_gets_503_with_retry_after() -> None:
    probe = StreamProbe()
    with running(open_graph_with=slow(probe)) as live:
        async with httpx.AsyncClient(base_url=live.http, timeout=30) as client:
            asked = asyncio.create_task(client.post("/api/v1/chat", json={"message": F3}))
            await eventually(lambda: probe.words > 0)
            live.server.should_exit = True
            answer = await asked
    assert problem(answer) == (503, "PROCESSING_ERROR")
    assert answer.headers["retry-after"] == "5"
    assert "shut down" in answer.json()["message"]
    assert probe.closed_early


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("route", ["/api/v1/chat", "/api/v1/chat/stream"])
async def test_bad_messages_are_refused_before_the_stream_starts(route: str) -> None:
    with running(server_settings(max_message_chars=20)) as live:
        async with httpx.AsyncClient(base_url=live.http) as client:
            json_body = {"headers": {"Content-Type": "application/json"}}
            requests: list[dict[str, Any]] = [
                {"json": {"message": ""}},
                {"json": {"message": "   \n\t"}},
                {"json": {"message": "x" * 21}},
                {"content": b'{"message": "hi"', **json_body},
                {"content": b"not json at all", **json_body},
                {"json": {}},
                {"json": {"session_id": "s_1"}},
                {"json": {"message": "hi", "colour": "red"}},
                {"json": ["hi"]},
                {"json": {"message": 42}},
                {"json": {"message": "hi", "options": {"multitask": "whenever"}}},
            ]
            refusals = [problem(await client.post(route, **request)) for request in requests]
            assert refusals == [
                (422, "EMPTY_MESSAGE"),
                (422, "EMPTY_MESSAGE"),
                (413, "MESSAGE_TOO_LARGE"),
                (422, "INVALID_MESSAGE"),
                (422, "INVALID_MESSAGE"),
                (422, "INVALID_MESSAGE"),
                (422, "INVALID_MESSAGE"),
                (422, "INVALID_MESSAGE"),
                (422, "INVALID_MESSAGE"),
                (422, "INVALID_MESSAGE"),
                (422, "INVALID_MESSAGE"),
            ]
            assert live.state.registry.active_count == 0


async def test_bad_eventsource_queries_are_refused_before_the_stream_starts() -> None:
    with running(server_settings(max_message_chars=20)) as live:
        async with httpx.AsyncClient(base_url=live.http) as client:
            queries: list[dict[str, Any]] = [{"message": ""}, {"message": "x" * 21}, {}]
            refusals = [
                problem(await client.get("/api/v1/chat/stream", params=query)) for query in queries
            ]
            assert refusals == [
                (422, "EMPTY_MESSAGE"),
                (413, "MESSAGE_TOO_LARGE"),
                (422, "INVALID_MESSAGE"),
            ]


async def test_the_third_message_in_a_minute_is_rate_limited() -> None:
    with running(server_settings(rate_limit_per_minute=2)) as live:
        async with httpx.AsyncClient(base_url=live.http) as client:
            responses = [
                await client.post("/api/v1/chat", json={"message": F3}),
                await client.post("/api/v1/chat", json={"message": HEAVY}),
                await client.post("/api/v1/chat", json={"message": DESCALE}),
                await client.post("/api/v1/chat/stream", json={"message": DESCALE}),
            ]
            assert [r.status_code for r in responses] == [200, 200, 429, 429]
            assert [problem(r) for r in responses[2:]] == [(429, "RATE_LIMITED")] * 2


# --------------------------------------------------------------------------- authentication


async def test_http_authentication_and_ownership() -> None:
    with running(server_settings(jwt_secret=SecretStr(SECRET))) as live:
        alice = mint_token(secret=SECRET, sub="alice", ttl_seconds=300)
        bob = mint_token(secret=SECRET, sub="bob", ttl_seconds=300)
        forged = mint_token(secret="y" * 32, sub="alice", ttl_seconds=300)
        expired = mint_token(secret=SECRET, sub="alice", ttl_seconds=60, now=time.time() - 3600)
        ask = {"json": {"message": F3}}
        async with httpx.AsyncClient(base_url=live.http) as client:
            anonymous = [
                await client.post("/api/v1/chat", **ask),
                await client.post("/api/v1/chat/stream", **ask),
                await client.get("/api/v1/chat/stream", params={"message": F3}),
            ]
            assert [problem(r) for r in anonymous] == [(401, "AUTH_REQUIRED")] * 3
            assert [r.headers.get("www-authenticate") for r in anonymous] == ["Bearer"] * 3

            refused = [
                await client.post("/api/v1/chat", headers=bearer(forged), **ask),
                await client.post("/api/v1/chat", headers=bearer(expired), **ask),
                await client.post("/api/v1/chat", headers=bearer("garbage"), **ask),
                await client.post("/api/v1/chat", headers=bearer("a.b.c"), **ask),
                await client.post("/api/v1/chat", headers={"Authorization": "Basic YTpi"}, **ask),
                await client.post("/api/v1/chat", headers={"Authorization": "Bearer"}, **ask),
                await client.post("/api/v1/chat", params={"token": expired}, **ask),
                await client.post("/api/v1/chat", params={"token": "garbage"}, **ask),
                await client.post("/api/v1/chat", params={"token": ""}, **ask),
            ]
            assert [problem(r) for r in refused] == [(401, "AUTH_FAILED")] * len(refused)
            assert {r.headers.get("www-authenticate") for r in refused} == {"Bearer"}

            by_header = await client.post("/api/v1/chat", headers=bearer(alice), **ask)
            assert by_header.status_code == 200
            run_id, session_id = by_header.json()["run_id"], by_header.json()["session_id"]
            by_query = await client.post(
                "/api/v1/chat",
                params={"token": alice},
                json={"message": HEAVY, "session_id": session_id},
            )
            assert by_query.status_code == 200
            by_query_sse = await read_stream(
                client, "GET", f"/api/v1/runs/{run_id}/stream", params={"token": alice}
            )
            assert_run_invariants(by_query_sse.envelopes, reason="complete")

            messages = f"/api/v1/sessions/{session_id}/messages"
            as_bob = bearer(bob)
            forbidden = [
                await client.get(messages, headers=as_bob),
                await client.delete(messages, headers=as_bob),
                await client.get(f"/api/v1/runs/{run_id}/stream", headers=as_bob),
                await client.post(f"/api/v1/runs/{run_id}/cancel", headers=as_bob),
                await client.post(
                    "/api/v1/chat", headers=as_bob, json={"message": F3, "session_id": session_id}
                ),
                await client.get(
                    "/api/v1/chat/stream",
                    params={"message": F3, "session_id": session_id, "token": bob},
                ),
            ]
            assert [problem(r) for r in forbidden] == [(403, "FORBIDDEN")] * len(forbidden)

            history = await client.get(messages, headers=bearer(alice))
            assert history.status_code == 200
            assert [m["role"] for m in history.json()["messages"]] == ["user", "assistant"] * 2


# --------------------------------------------------------------------------- operations


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_health_readiness_metrics_and_documents(server: Running) -> None:
    async with httpx.AsyncClient(base_url=server.http) as client:
        health, ready = await client.get("/health"), await client.get("/ready")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})

        streamed = await read_stream(client, "POST", "/api/v1/chat/stream", json={"message": F3})
        assert_run_invariants(streamed.envelopes, reason="complete")

        async def counted() -> bool:
            samples = _samples((await client.get("/metrics")).text)
            return samples.get(("graphwire_runs_total", (("outcome", "complete"),)), 0) >= 1

        await eventually(counted)
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        samples = _samples(metrics.text)
        assert ("graphwire_active_runs", ()) in samples
        assert samples[("graphwire_runs_total", (("outcome", "complete"),))] >= 1
        assert samples[("graphwire_first_token_seconds_count", ())] >= 1
        assert samples[("graphwire_envelopes_sent_total", (("transport", "sse"),))] == len(
            streamed.events
        )

        docs = await client.get("/docs")
        assert docs.status_code == 200
        assert docs.headers["content-type"].startswith("text/html")
        openapi = await client.get("/openapi.json")
        assert openapi.status_code == 200
        assert {
            "/api/v1/chat",
            "/api/v1/chat/stream",
            "/api/v1/runs/{run_id}/stream",
            "/api/v1/runs/{run_id}/cancel",
            "/api/v1/sessions/{session_id}/messages",
        } <= set(openapi.json()["paths"])
        asyncapi = await client.get("/asyncapi.json")
        assert asyncapi.status_code == 200
        assert asyncapi.json()["asyncapi"] == "3.0.0"


async def test_cors_preflight_answers_only_allowed_origins(server: Running) -> None:
    async with httpx.AsyncClient(base_url=server.http) as client:

        async def preflight(origin: str) -> httpx.Response:
            return await client.options(
                "/api/v1/chat/stream",
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "Authorization, Content-Type",
                },
            )

        allowed, evil = (
            await preflight("http://allowed.example"),
            await preflight("http://evil.example"),
        )
        assert allowed.status_code == 200
        assert allowed.headers.get("access-control-allow-origin") == "http://allowed.example"
        assert "access-control-allow-origin" not in evil.headers
        simple = await client.get("/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in simple.headers


async def test_a_malformed_last_event_id_is_refused(server: Running) -> None:
    async with httpx.AsyncClient(base_url=server.http) as client:
        whole = (
            await read_stream(client, "POST", "/api/v1/chat/stream", json={"message": F3})
        ).envelopes
        url = f"/api/v1/runs/{whole[0].run_id}/stream"
        for bad in ("garbage", "r_other:3", f"{whole[0].run_id}:x"):
            refused = await client.get(url, headers={"Last-Event-ID": bad})
            assert problem(refused) == (422, "INVALID_MESSAGE"), bad
