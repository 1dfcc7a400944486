"""The transformer on the live graph: real nodes, real retriever, real callback system."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from typing import Any

import pytest

from graphwire.agents import DomainPack, ModelClassifier, OfflineChatModel, OfflineClassifier
from graphwire.graph import build_graph
from graphwire.transport.protocol import ErrorCode
from graphwire.transport.protocol.errors import GraphwireError
from graphwire.transport.runs import stream_answer
from tests.conftest import assert_run_invariants, collect
from tests.fakes import (
    FailingChatModel,
    NonStreamingModel,
    ProbedOfflineModel,
    StreamProbe,
    routing_model,
)


def _text(envelopes: list[Any]) -> str:
    return "".join(e.data.delta for e in envelopes if e.type == "text")


async def test_live_run_streams_an_answer_with_sources(minipack: DomainPack) -> None:
    graph = build_graph(pack=minipack, model=OfflineChatModel(token_delay=0))
    out = await collect(stream_answer(graph, "What does error F3 mean?", session_id="s_live"))
    assert_run_invariants(out, reason="complete")
    final = out[-2].data
    assert final.agent == "faults" and final.confidence > 0.5
    assert final.text == _text(out)
    assert final.text.startswith("Error F3 means the temperature sensor failed.")
    assert final.sources[0].id == "faults/codes#1"
    assert final.model == "graphwire-offline" and final.finish_reason == "stop"
    assert final.usage.output_tokens == len([e for e in out if e.type == "text"])
    assert final.usage.total_tokens == final.usage.input_tokens + final.usage.output_tokens > 0
    assert 0 <= final.timing.first_token_ms <= final.timing.total_ms
    assert {e.session_id for e in out} == {"s_live"}
    steps = [(e.data.step, e.data.status) for e in out if e.type == "workflow_step"]
    assert steps == [
        ("classify", "started"), ("classify", "completed"),
        ("retrieve", "started"), ("retrieve", "completed"),
        ("generate", "started"), ("generate", "completed"),
    ]  # fmt: skip


async def test_a_classifier_that_streams_never_leaks_its_tokens(minipack: DomainPack) -> None:
    classifier_reply = '{"agent": "care", "confidence": 0.9, "reason": "descaling question"}'
    classifier = ModelClassifier(
        minipack,
        routing_model((f"Routing this: {classifier_reply}", classifier_reply)),
        fallback=OfflineClassifier(minipack),
    )
    graph = build_graph(pack=minipack, model=OfflineChatModel(token_delay=0), classifier=classifier)
    out = await collect(stream_answer(graph, "Can I use vinegar?"))
    assert_run_invariants(out, reason="complete")
    assert out[1].data.agent == "care" and out[1].data.detail == "descaling question"
    assert "agent" not in _text(out) and "{" not in _text(out)
    assert _text(out) == out[-2].data.text
    assert "vinegar" in _text(out)


async def test_a_model_classifier_with_unusable_output_falls_back(minipack: DomainPack) -> None:
    classifier = ModelClassifier(
        minipack,
        routing_model(("I think it is about faults", None)),
        fallback=OfflineClassifier(minipack),
    )
    graph = build_graph(pack=minipack, model=OfflineChatModel(token_delay=0), classifier=classifier)
    out = await collect(stream_answer(graph, "What does error F3 mean?"))
    step = out[1].data
    assert step.agent == "faults"
    assert step.detail.startswith("model routing unusable, offline routing used")
    assert "I think" not in _text(out)


async def test_a_node_that_raises_ends_with_error_then_end(minipack: DomainPack) -> None:
    class Broken:
        async def classify(self, question: str, history: Any) -> Any:
            raise KeyError("boom")

    graph = build_graph(pack=minipack, model=OfflineChatModel(token_delay=0), classifier=Broken())
    out = await collect(stream_answer(graph, "What does error F3 mean?"))
    assert_run_invariants(out, reason="error")
    assert out[-2].data.code == ErrorCode.PROCESSING_ERROR
    assert [e.data.status for e in out if e.type == "workflow_step"] == ["started", "failed"]


async def test_a_timeout_inside_the_model_is_a_retryable_timeout(minipack: DomainPack) -> None:
    model = FailingChatModel(tokens=["The ", "K2 "], error=TimeoutError())
    graph = build_graph(pack=minipack, model=model)
    out = await collect(stream_answer(graph, "How heavy is the kettle?"))
    assert_run_invariants(out, reason="error")
    assert _text(out) == "The K2 "
    assert out[-2].data.code == ErrorCode.TIMEOUT and out[-2].data.retryable


async def test_a_model_that_does_not_stream_still_gives_text(minipack: DomainPack) -> None:
    graph = build_graph(pack=minipack, model=NonStreamingModel(reply="One piece."))
    out = await collect(stream_answer(graph, "What does error F3 mean?"))
    assert_run_invariants(out, reason="complete")
    assert [e.data.delta for e in out if e.type == "text"] == ["One piece."]
    assert out[-2].data.model == "one-piece"


async def test_cancelling_the_run_stops_the_model_call(minipack: DomainPack) -> None:
    probe = StreamProbe()
    graph = build_graph(pack=minipack, model=ProbedOfflineModel(probe=probe, token_delay=0.05))
    received: list[Any] = []

    async def consume() -> None:
        async for envelope in stream_answer(graph, "What does error F3 mean?"):
            received.append(envelope)

    task = asyncio.create_task(consume())
    while probe.words < 3:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    words_at_cancel = probe.words
    await asyncio.sleep(0.3)  # six token delays: a model still running would have sent more

    assert probe.closed_early and not probe.finished
    assert probe.words == words_at_cancel
    assert_run_invariants(received, reason="cancelled")

    # the session is still usable: the next question in it runs to the end
    session = received[0].session_id
    fast = build_graph(pack=minipack, model=OfflineChatModel(token_delay=0))
    again = await collect(stream_answer(fast, "How do I descale it?", session_id=session))
    assert_run_invariants(again, reason="complete")


async def test_breaking_out_of_the_loop_stops_the_model_call(minipack: DomainPack) -> None:
    probe = StreamProbe()
    graph = build_graph(pack=minipack, model=ProbedOfflineModel(probe=probe, token_delay=0.02))
    async with aclosing(stream_answer(graph, "What does error F3 mean?")) as envelopes:
        async for envelope in envelopes:
            if envelope.type == "text":
                break
    assert probe.closed_early and not probe.finished


async def test_an_empty_question_is_refused_before_anything_runs(minipack: DomainPack) -> None:
    graph = build_graph(pack=minipack, model=OfflineChatModel(token_delay=0))
    with pytest.raises(GraphwireError) as caught:
        await collect(stream_answer(graph, "  \n "))
    assert caught.value.code == ErrorCode.EMPTY_MESSAGE
