"""The whole graph with the real ``ChatOpenAI`` over real HTTP, against a loopback OpenAI stub.

Routing (tool calls), streaming, usage (reported and estimated), finish reasons, prompts and
history, retries, and every provider failure the error boundary maps.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pydantic import SecretStr

from graphwire.api.runtime import open_graph
from graphwire.api.settings import Settings
from graphwire.graph.builder import Graph
from graphwire.transport.protocol import ErrorCode
from graphwire.transport.runs import stream_answer
from tests.conftest import assert_run_invariants, collect
from tests.openai_stub import OpenAIStub, Reply, serve_stub
from tests.server import server_settings

KEY = "sk-test-SECRET-0123456789abcdef"
F3 = "What does error F3 mean?"
ROUTE_FAULTS = '{"agent": "faults", "confidence": 0.92, "reason": "an error code"}'
WORDS = ["Error ", "F3 ", "means ", "the ", "sensor ", "failed. ", "[faults/codes#0]"]


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with serve_stub() as live:
        yield live


def hosted_settings(stub: OpenAIStub, **overrides: Any) -> Settings:
    """Specialists and classifier on the stub; no retries unless a test asks for them."""
    values: dict[str, Any] = {
        "model": "openai:stub-model",
        "classifier_model": "openai:stub-router",
        "openai_base_url": stub.url,
        "openai_api_key": SecretStr(KEY),
        "max_retries": 0,
        "request_timeout": 10.0,
        **overrides,
    }
    return server_settings(**values)


@asynccontextmanager
async def hosted_graph(stub: OpenAIStub, **overrides: Any) -> AsyncIterator[Graph]:
    async with open_graph(hosted_settings(stub, **overrides)) as graph:
        yield graph


async def ask_stub(graph: Graph, question: str = F3, **kwargs: Any) -> list[Any]:
    return await collect(stream_answer(graph, question, **kwargs))


def text_of(envelopes: list[Any]) -> str:
    return "".join(e.data.delta for e in envelopes if e.type == "text")


def only(envelopes: list[Any], kind: str) -> Any:
    found = [e for e in envelopes if e.type == kind]
    assert len(found) == 1, [e.type for e in envelopes]
    return found[0].data


async def test_a_routed_streamed_answer_carries_the_providers_usage_and_finish_reason(
    stub: OpenAIStub,
) -> None:
    stub.routes.append(
        Reply(chunks=["Routing ", "now: ", ROUTE_FAULTS], tool_arguments=ROUTE_FAULTS)
    )
    stub.answers.append(Reply(chunks=WORDS, usage=(412, 9)))
    async with hosted_graph(stub) as graph:
        out = await ask_stub(graph)
    assert_run_invariants(out, reason="complete")
    step = out[1].data
    assert (step.step, step.status, step.agent, step.confidence) == (
        "classify",
        "completed",
        "faults",
        0.92,
    )
    assert step.detail == "an error code"
    assert [e.data.delta for e in out if e.type == "text"] == WORDS  # one envelope per chunk
    assert "Routing" not in text_of(out) and "{" not in text_of(out)  # the router's tokens stay in
    final = only(out, "final")
    assert final.text == "".join(WORDS) and final.agent == "faults"
    assert (final.model, final.finish_reason) == ("stub-model", "stop")
    assert final.usage.model_dump() == {
        "input_tokens": 412,
        "output_tokens": 9,
        "total_tokens": 421,
        "estimated": None,
    }
    assert [s.id for s in final.sources] == [s.id for s in only(out, "sources").sources]
    assert final.sources and final.sources[0].id.startswith("faults/")


async def test_the_requests_carry_the_schema_the_passages_and_the_settings(
    stub: OpenAIStub,
) -> None:
    stub.routes.append(Reply(tool_arguments=ROUTE_FAULTS))
    stub.answers.append(Reply(chunks=WORDS))
    async with hosted_graph(stub, temperature=0.2, max_tokens=300) as graph:
        out = await ask_stub(graph)
    assert_run_invariants(out, reason="complete")
    (route,) = stub.requests("route")
    tool = route.body["tools"][0]["function"]
    assert tool["name"] == "route"
    assert tool["parameters"]["properties"]["agent"]["enum"] == [
        "specs",
        "care",
        "faults",
        "general",
    ]
    assert route.body["tool_choice"] == {"type": "function", "function": {"name": "route"}}
    assert route.body["model"] == "stub-router"
    (answer,) = stub.requests("answer")
    body = answer.body
    assert body["model"] == "stub-model" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert (body["temperature"], body["max_completion_tokens"], body["max_tokens"]) == (
        0.2,
        300,
        300,
    )
    assert answer.headers["authorization"] == f"Bearer {KEY}"
    for source in only(out, "sources").sources:  # every passage travels with its id
        assert f'<passage id="{source.id}"' in answer.system_prompt
    assert "Cite each fact with the id of its passage" in answer.system_prompt
    assert body["messages"][-1] == {"role": "user", "content": F3}


async def test_a_server_that_sends_no_usage_gets_an_estimate_marked_as_such(
    stub: OpenAIStub,
) -> None:
    stub.routes.append(Reply(tool_arguments=ROUTE_FAULTS))
    stub.answers.append(Reply(chunks=WORDS, usage=None))
    async with hosted_graph(stub) as graph:
        out = await ask_stub(graph)
    assert_run_invariants(out, reason="complete")
    usage = only(out, "final").usage
    assert usage.estimated is True
    assert usage.output_tokens == len(WORDS)  # one token per streamed chunk
    prompt_chars = sum(len(m["content"]) for m in stub.requests("answer")[0].body["messages"])
    assert prompt_chars / 8 < usage.input_tokens < prompt_chars / 2  # about 4 characters a token
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    wire = next(e for e in out if e.type == "final").to_wire()
    assert wire["data"]["usage"]["estimated"] is True


async def test_a_capped_answer_ends_with_finish_reason_length(stub: OpenAIStub) -> None:
    stub.routes.append(Reply(tool_arguments=ROUTE_FAULTS))
    stub.answers.append(Reply(chunks=WORDS[:3], finish_reason="length"))
    async with hosted_graph(stub, max_tokens=3) as graph:
        out = await ask_stub(graph)
    assert_run_invariants(out, reason="complete")
    final = only(out, "final")
    assert (final.finish_reason, final.text, final.usage.output_tokens) == (
        "length",
        "Error F3 means ",
        3,
    )


async def test_history_from_the_checkpointer_is_sent_within_its_token_budget(
    stub: OpenAIStub,
) -> None:
    long_question = (
        "What does error F3 mean? " + "Please explain it thoroughly. " * 32
    )  # ~250 tokens
    second_answer = "Second answer, in some detail. " * 7  # ~55 tokens
    stub.routes.extend([Reply(tool_arguments=ROUTE_FAULTS)] * 3)
    stub.answers.extend(
        [Reply(chunks=["First answer."]), Reply(chunks=[second_answer]), Reply(chunks=["Third."])]
    )
    async with hosted_graph(stub, history_tokens=300) as graph:
        first = await ask_stub(graph, long_question, session_id="s_hist")
        await ask_stub(graph, "And error F1?", session_id="s_hist")
        await ask_stub(graph, "And what about F2?", session_id="s_hist")
    assert_run_invariants(first, reason="complete")
    second, third = (s.body["messages"] for s in stub.requests("answer")[1:])
    assert [(m["role"], m["content"]) for m in second[1:]] == [
        ("user", long_question), ("assistant", "First answer."), ("user", "And error F1?"),
    ]  # fmt: skip
    # Three turns no longer fit 300 tokens: the oldest whole turn is left out.
    assert [(m["role"], m["content"]) for m in third[1:]] == [
        ("user", "And error F1?"), ("assistant", second_answer), ("user", "And what about F2?"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("route", "why"),
    [
        (
            Reply(tool_arguments='{"agent": "weather", "confidence": 0.9, "reason": "rain"}'),
            "unusable",
        ),
        (Reply(tool_arguments='{"agent": "faults", "confid'), "unusable"),
        (Reply(tool_arguments="not json at all"), "unusable"),
        (Reply(chunks=["I would say faults."]), "unusable"),
        (Reply(status=500), "failed (MODEL_ERROR)"),
    ],
    ids=["unknown-agent", "truncated-json", "not-json", "no-tool-call", "http-500"],
)
async def test_unusable_or_failed_routing_falls_back_to_offline_and_says_so(
    stub: OpenAIStub, route: Reply, why: str
) -> None:
    stub.routes.append(route)
    stub.answers.append(Reply(chunks=WORDS))
    async with hosted_graph(stub) as graph:
        out = await ask_stub(graph)
    assert_run_invariants(out, reason="complete")
    step = out[1].data
    assert (step.step, step.status, step.agent) == ("classify", "completed", "faults")
    assert step.detail.startswith(f"model routing {why}, offline routing used")
    assert text_of(out) == "".join(WORDS)
    assert "I would say" not in text_of(out) and "weather" not in text_of(out)


async def test_a_429_is_retried_and_the_retry_answers(stub: OpenAIStub) -> None:
    stub.routes.append(Reply(tool_arguments=ROUTE_FAULTS))
    stub.answers.extend([Reply(status=429, headers={"retry-after-ms": "10"}), Reply(chunks=WORDS)])
    async with hosted_graph(stub, max_retries=1) as graph:
        out = await ask_stub(graph)
    assert_run_invariants(out, reason="complete")
    assert [s.reply.status for s in stub.requests("answer")] == [429, 200]
    assert text_of(out) == "".join(WORDS)


@pytest.mark.parametrize(
    ("reply", "code", "retryable", "requests"),
    [
        (Reply(status=429, headers={"retry-after-ms": "10"}), ErrorCode.MODEL_ERROR, True, 2),
        (Reply(status=500), ErrorCode.MODEL_ERROR, True, 2),
        (Reply(status=503), ErrorCode.MODEL_ERROR, True, 2),
        (
            Reply(status=404, error_message="The model `stub-model` does not exist"),
            ErrorCode.MODEL_ERROR,
            False,
            1,
        ),
        (Reply(chunks=WORDS, drop_after=3), ErrorCode.MODEL_ERROR, True, 1),
        (Reply(hang=True), ErrorCode.TIMEOUT, True, 2),
        (Reply(chunks=WORDS, stall_after=3), ErrorCode.TIMEOUT, True, 1),
    ],
    ids=["429", "500", "503", "404", "dropped-mid-stream", "no-response", "stalled-mid-stream"],
)
async def test_provider_failures_map_to_protocol_errors(
    stub: OpenAIStub, reply: Reply, code: ErrorCode, retryable: bool, requests: int
) -> None:
    stub.routes.append(Reply(tool_arguments=ROUTE_FAULTS))
    stub.answers.extend(
        [reply, reply]
    )  # one retry is allowed: a failure that is retried fails twice
    async with hosted_graph(stub, max_retries=1, request_timeout=0.5) as graph:
        out = await ask_stub(graph)
    assert_run_invariants(out, reason="error")
    error = only(out, "error")
    assert (error.code, error.retryable) == (code, retryable)
    assert len(stub.requests("answer")) == requests
    failed = [(e.data.step, e.data.status) for e in out if e.type == "workflow_step"][-1]
    assert failed == ("generate", "failed")


async def test_a_rejected_key_is_not_retryable_and_never_shown_or_logged(
    stub: OpenAIStub, caplog: pytest.LogCaptureFixture
) -> None:
    echo = f"Incorrect API key provided: {KEY}. You can find your API key at …"
    stub.routes.append(Reply(status=401, error_message=echo))
    stub.answers.append(Reply(status=401, error_message=echo))
    caplog.set_level(logging.INFO)  # what a deployment logs (DEBUG shows third parties' raw I/O)
    async with hosted_graph(stub, max_retries=2) as graph:
        out = await ask_stub(graph)
    assert_run_invariants(out, reason="error")
    error = only(out, "error")
    assert (error.code, error.retryable) == (ErrorCode.MODEL_ERROR, False)
    assert error.message == "The language model refused the request (HTTP 401)."
    assert out[1].data.detail.startswith("model routing failed (MODEL_ERROR), offline routing used")
    assert len(stub.requests("answer")) == 1  # a 401 is not retried
    assert "SECRET" not in json.dumps([e.to_wire() for e in out])
    assert caplog.records and not [r for r in caplog.records if "SECRET" in r.getMessage()]
