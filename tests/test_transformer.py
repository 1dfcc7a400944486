"""The transformer on recorded ``astream_events`` streams of the real graph (pure, no graph run)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessageChunk

from graphwire.transport.protocol.errors import ModelError
from graphwire.transport.protocol.markers import ANSWER_TAG, INTERNAL_TAG
from graphwire.transport.runs.transformer import RunTransformer, transform
from tests.conftest import assert_run_invariants, collect, wire
from tests.streams import load_stream, replay

IDS = {"run_id": "r_1", "session_id": "s_1"}


def _answer_message_id(events: list[dict[str, Any]]) -> str:
    ends = [
        e for e in events if e["event"] == "on_chat_model_end" and ANSWER_TAG in e.get("tags", [])
    ]
    assert len(ends) == 1
    return str(ends[0]["data"]["output"].id)


def _env(seq: int, type_: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": type_, **IDS, "seq": seq, "data": data}


def _deltas(start: int, text: str, agent: str) -> list[dict[str, Any]]:
    words = re.findall(r"\S+\s*", text)
    return [_env(start + i, "text", {"delta": w, "agent": agent}) for i, w in enumerate(words)]


F3_SOURCES = [
    {
        "id": "faults/codes#1",
        "title": "Fault codes › Error F3",
        "uri": "docs/faults/codes.md#error-f3",
        "snippet": "Error F3 means the temperature sensor failed. Unplug the kettle and contact "
        "service; error F3 cannot be fixed at home.",
        "score": 2.6167,
    },
    {
        "id": "faults/codes#0",
        "title": "Fault codes › Blinking lights",
        "uri": "docs/faults/codes.md#blinking-lights",
        "snippet": "A red light blinking twice means the kettle was switched on empty. Fill the "
        "kettle and press the switch again.",
        "score": 0.455,
    },
]
F3_ANSWER = (
    "Error F3 means the temperature sensor failed. Unplug the kettle and contact service; "
    "error F3 cannot be fixed at home. [faults/codes#1]"
)


async def test_answer_stream_becomes_exactly_these_envelopes(clock: Callable[[], float]) -> None:
    events, raises = load_stream("answer")
    assert raises is None
    out = await collect(transform(replay(events), **IDS, clock=clock))
    texts = _deltas(6, F3_ANSWER, "faults")
    n = 6 + len(texts)
    expected = [
        _env(0, "workflow_step", {"step": "classify", "status": "started",
                                  "label": "Routing your question..."}),
        _env(1, "workflow_step", {"step": "classify", "status": "completed",
                                  "label": "Routed to faults (91%)", "agent": "faults",
                                  "confidence": 0.909, "detail": "lexical match"}),
        _env(2, "workflow_step", {"step": "retrieve", "status": "started",
                                  "label": "Searching knowledge base..."}),
        _env(3, "workflow_step", {"step": "retrieve", "status": "completed",
                                  "label": "Found 2 passages", "count": 2}),
        _env(4, "sources", {"sources": F3_SOURCES}),
        _env(5, "workflow_step", {"step": "generate", "status": "started",
                                  "label": "Writing the answer..."}),
        *texts,
        _env(n, "workflow_step", {"step": "generate", "status": "completed",
                                  "label": "Answer ready"}),
        _env(n + 1, "final", {
            "text": F3_ANSWER, "agent": "faults", "confidence": 0.909, "sources": F3_SOURCES,
            "message_id": _answer_message_id(events), "model": "graphwire-offline",
            "finish_reason": "stop",
            "usage": {"input_tokens": 105, "output_tokens": 21, "total_tokens": 126},
            "timing": {"first_token_ms": 5.0, "total_ms": 10.0},
        }),
        _env(n + 2, "end", {"reason": "complete"}),
    ]  # fmt: skip
    assert wire(out) == expected
    assert_run_invariants(out, reason="complete")


async def test_classifier_tokens_never_become_text(clock: Callable[[], float]) -> None:
    events, _ = load_stream("classifier_streams")
    classifier_chunks = [
        e["data"]["chunk"].content
        for e in events
        if e["event"] == "on_chat_model_stream" and INTERNAL_TAG in e["tags"]
    ]
    assert "".join(classifier_chunks).count('"agent"') == 1  # the classifier did stream

    out = await collect(transform(replay(events), **IDS, clock=clock))

    assert_run_invariants(out, reason="complete")
    text = "".join(e.data.delta for e in out if e.type == "text")  # type: ignore[union-attr]
    assert text == (
        "Descale the K2 every 4 weeks in hard-water areas. Use a solution of one part citric acid "
        "to ten parts water. Do not use vinegar, because it damages the seal. [care/descaling#0]"
    )
    assert out[-2].data.text == text  # type: ignore[union-attr]
    step = out[1].to_wire()["data"]
    assert step == {"step": "classify", "status": "completed", "label": "Routed to care (80%)",
                    "agent": "care", "confidence": 0.8, "detail": "descaling"}  # fmt: skip


def test_untagged_model_tokens_are_not_text() -> None:
    machine = RunTransformer(**IDS)
    chunk = AIMessageChunk(content="secret routing thoughts")
    for tags in ([], [INTERNAL_TAG], ["seq:step:1"]):
        assert machine.feed({"event": "on_chat_model_stream", "tags": tags,
                             "data": {"chunk": chunk}}) == []  # fmt: skip
    out = machine.feed({"event": "on_chat_model_stream", "tags": [ANSWER_TAG],
                        "data": {"chunk": AIMessageChunk(content=[{"type": "text", "text": "Hi"}])}})  # fmt: skip
    assert [e.to_wire()["type"] for e in out] == ["sources", "text"]
    assert out[1].data.delta == "Hi"  # type: ignore[union-attr]


async def test_model_failure_mid_answer_is_error_then_end(clock: Callable[[], float]) -> None:
    events, raises = load_stream("model_fails")
    assert raises == "ModelError"
    error = ModelError("The language model failed to answer.")
    out = await collect(transform(replay(events, error=error), **IDS, clock=clock))
    tail = [(e.type, e.to_wire()["data"]) for e in out[4:]]
    assert tail == [
        ("sources", {"sources": [s.model_dump() for s in out[4].data.sources]}),  # type: ignore[union-attr]
        ("workflow_step", {"step": "generate", "status": "started", "label": "Writing the answer..."}),
        ("text", {"delta": "The ", "agent": "specs"}),
        ("text", {"delta": "kettle ", "agent": "specs"}),
        ("workflow_step", {"step": "generate", "status": "failed", "label": "Answer failed"}),
        ("error", {"code": "MODEL_ERROR", "message": "The language model failed to answer.",
                   "retryable": False}),
        ("end", {"reason": "error"}),
    ]  # fmt: skip
    assert_run_invariants(out, reason="error")


async def test_node_that_raises_gives_a_generic_error_and_logs_no_secret(
    clock: Callable[[], float], caplog: pytest.LogCaptureFixture
) -> None:
    events, raises = load_stream("node_raises")
    assert raises == "RuntimeError"
    error = RuntimeError("classifier exploded: token=sk-secret-123")
    with caplog.at_level(logging.ERROR, logger="graphwire.errors"):
        out = await collect(transform(replay(events, error=error), **IDS, clock=clock))
    assert wire(out) == [
        _env(0, "workflow_step", {"step": "classify", "status": "started",
                                  "label": "Routing your question..."}),
        _env(1, "workflow_step", {"step": "classify", "status": "failed",
                                  "label": "Routing failed"}),
        _env(2, "error", {"code": "PROCESSING_ERROR", "retryable": False,
                          "message": "The question could not be processed because of an "
                                     "internal error."}),
        _env(3, "end", {"reason": "error"}),
    ]  # fmt: skip
    assert "sk-secret-123" not in json.dumps(wire(out))
    assert "RuntimeError" in caplog.text and "classifier exploded" in caplog.text
    assert "sk-secret-123" not in caplog.text


class _Upstream:
    """An event source that yields some events, then waits forever; records being closed."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.closed = False

    async def stream(self) -> AsyncIterator[dict[str, Any]]:
        try:
            for event in self.events:
                yield event
            await asyncio.Event().wait()
        finally:
            self.closed = True


async def test_cancelling_the_consumer_closes_the_stream_and_ends_cancelled() -> None:
    events, _ = load_stream("answer")
    upstream = _Upstream(events[:12])
    received: list[Any] = []

    async def consume() -> None:
        async for envelope in transform(upstream.stream(), **IDS):
            received.append(envelope)

    task = asyncio.create_task(consume())
    while not any(e.type == "text" for e in received):
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert upstream.closed
    assert_run_invariants(received, reason="cancelled")


async def test_breaking_out_closes_the_stream_at_once() -> None:
    events, _ = load_stream("answer")
    upstream = _Upstream(events)
    async with aclosing(transform(upstream.stream(), **IDS)) as envelopes:
        async for envelope in envelopes:
            if envelope.type == "text":
                break
    assert upstream.closed


def test_nothing_is_emitted_after_end() -> None:
    machine = RunTransformer(**IDS)
    ending = machine.cancel()
    assert [e.type for e in ending] == ["end"] and machine.ended
    assert (
        machine.complete() == [] and machine.fail(RuntimeError()) == [] and machine.cancel() == []
    )
    assert machine.feed({"event": "on_chat_model_stream", "tags": [ANSWER_TAG],
                         "data": {"chunk": AIMessageChunk(content="late")}}) == []  # fmt: skip


_ANSWER_EVENTS, _ = load_stream("answer")


@settings(max_examples=60, deadline=None)
@given(
    cut=st.integers(min_value=0, max_value=len(_ANSWER_EVENTS)),
    ending=st.sampled_from(["complete", "error", "cancelled"]),
)
def test_any_prefix_and_any_ending_keeps_the_invariants(cut: int, ending: str) -> None:
    machine = RunTransformer(**IDS)
    out = [env for event in _ANSWER_EVENTS[:cut] for env in machine.feed(event)]
    if ending == "complete":
        out += machine.complete()
    elif ending == "error":
        out += machine.fail(TimeoutError())
    else:
        out += machine.cancel()
    assert_run_invariants(out, reason=ending)
    text = "".join(e.data.delta for e in out if e.type == "text")  # type: ignore[union-attr]
    if ending == "complete":
        assert out[-2].data.text == text  # type: ignore[union-attr]
