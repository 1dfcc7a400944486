"""The real graphwire server with the real ``ChatOpenAI`` behind it, against a loopback OpenAI
stub, driven by real WebSocket and SSE clients; and ``graphwire serve`` as a user starts it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from graphwire.transport.protocol import ErrorCode, parse_envelope
from tests.conftest import assert_run_invariants
from tests.openai_stub import OpenAIStub, Reply, serve_stub
from tests.server import running
from tests.serving import free_port, wait_ready
from tests.test_hosted_graph import F3, KEY, ROUTE_FAULTS, WORDS, hosted_settings
from tests.test_serve_cli import GRAPHWIRE, MINIPACK
from tests.test_server_http import read_stream
from tests.test_server_ws import open_chat, recv, run_until_end


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with serve_stub() as live:
        yield live


def script_answer(stub: OpenAIStub, **reply: Any) -> None:
    stub.routes.append(Reply(chunks=["Thinking: ", ROUTE_FAULTS], tool_arguments=ROUTE_FAULTS))
    stub.answers.append(Reply(**{"chunks": WORDS, "usage": (412, 7), **reply}))


def assert_hosted_answer(run: list[Any]) -> None:
    """Routing, sources, the streamed text and the provider's usage, as the stub sent them."""
    assert_run_invariants(run, reason="complete")
    classify = next(
        e.data for e in run if e.type == "workflow_step" and e.data.status == "completed"
    )
    assert (classify.step, classify.agent, classify.confidence) == ("classify", "faults", 0.92)
    sources = next(e.data.sources for e in run if e.type == "sources")
    assert sources and all(s.id.startswith("faults/") for s in sources)
    assert [e.data.delta for e in run if e.type == "text"] == WORDS
    final = run[-2].data
    assert (final.text, final.agent, final.model, final.finish_reason) == (
        "".join(WORDS),
        "faults",
        "stub-model",
        "stop",
    )
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.estimated) == (
        412,
        7,
        None,
    )
    assert final.sources == sources


async def test_websocket_streams_a_hosted_answer_with_routing_sources_and_usage(
    stub: OpenAIStub,
) -> None:
    script_answer(stub)
    with running(hosted_settings(stub)) as live:
        async with await open_chat(live) as ws:
            await ws.send(json.dumps({"type": "message", "message": F3}))
            assert_hosted_answer(await run_until_end(ws))


async def test_sse_and_json_routes_serve_a_hosted_answer(stub: OpenAIStub) -> None:
    script_answer(stub)
    script_answer(stub, usage=None)
    with running(hosted_settings(stub)) as live:
        async with httpx.AsyncClient(base_url=live.http, timeout=30) as client:
            stream = await read_stream(client, "POST", "/api/v1/chat/stream", json={"message": F3})
            assert_hosted_answer(stream.envelopes)
            answer = (await client.post("/api/v1/chat", json={"message": F3})).json()
    assert answer["text"] == "".join(WORDS) and answer["agent"] == "faults"
    assert answer["usage"]["estimated"] is True and answer["usage"]["output_tokens"] == len(WORDS)


async def test_stop_over_the_websocket_closes_the_providers_http_stream(
    stub: OpenAIStub,
) -> None:
    script_answer(stub, chunks=[f"word{i} " for i in range(600)], delay=0.05)  # 30 s if let run
    with running(hosted_settings(stub)) as live:
        async with await open_chat(live) as ws:
            await ws.send(json.dumps({"type": "message", "message": F3}))
            seen: list[dict[str, Any]] = []
            while sum(e["type"] == "text" for e in seen) < 3:
                seen.append(await recv(ws))
            await ws.send(json.dumps({"type": "stop", "run_id": seen[0]["run_id"]}))
            run = [parse_envelope(e) for e in seen] + await run_until_end(ws, seen[0]["run_id"])
            assert_run_invariants(run, reason="cancelled")
            (answer,) = stub.requests("answer")
            assert answer.disconnected.wait(timeout=10), "the provider's stream stayed open"
            assert not answer.completed and answer.chunks_sent < 600


async def test_a_provider_that_never_answers_ends_the_run_with_timeout(stub: OpenAIStub) -> None:
    stub.routes.append(Reply(tool_arguments=ROUTE_FAULTS))
    stub.answers.append(Reply(hang=True))
    with running(hosted_settings(stub, request_timeout=0.5)) as live:
        async with httpx.AsyncClient(base_url=live.http, timeout=30) as client:
            stream = await read_stream(client, "POST", "/api/v1/chat/stream", json={"message": F3})
    run = stream.envelopes
    assert_run_invariants(run, reason="error")
    assert (run[-2].data.code, run[-2].data.retryable) == (ErrorCode.TIMEOUT, True)
    assert stub.requests("answer")[0].disconnected.wait(timeout=10)


async def test_a_rejected_key_over_the_websocket_is_model_error_without_the_key(
    stub: OpenAIStub,
) -> None:
    stub.routes.append(Reply(tool_arguments=ROUTE_FAULTS))
    stub.answers.append(Reply(status=401, error_message=f"Incorrect API key provided: {KEY}"))
    with running(hosted_settings(stub)) as live:
        async with await open_chat(live) as ws:
            await ws.send(json.dumps({"type": "message", "message": F3}))
            run = await run_until_end(ws)
    assert_run_invariants(run, reason="error")
    assert (run[-2].data.code, run[-2].data.retryable) == (ErrorCode.MODEL_ERROR, False)
    assert "SECRET" not in json.dumps([e.to_wire() for e in run])


def test_serve_without_a_key_for_openai_fails_fast_and_says_which_setting(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if "OPENAI" not in k}
    result = subprocess.run(
        [str(GRAPHWIRE), "serve", "--port", str(free_port()), "--pack", str(MINIPACK)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
        env={**env, "GRAPHWIRE_MODEL": "openai:gpt-4o-mini"},
    )  # fmt: skip
    assert result.returncode == 2
    assert "OPENAI_API_KEY or GRAPHWIRE_OPENAI_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_graphwire_serve_with_only_settings_streams_hosted_answers(
    stub: OpenAIStub, tmp_path: Path
) -> None:
    script_answer(stub)
    script_answer(stub)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if "OPENAI" not in k and "GRAPHWIRE" not in k}
    env |= {
        "GRAPHWIRE_MODEL": "openai:stub-model",
        "GRAPHWIRE_CLASSIFIER_MODEL": "openai:stub-router",
        "GRAPHWIRE_OPENAI_BASE_URL": stub.url,
        "OPENAI_API_KEY": KEY,
        "GRAPHWIRE_CHECKPOINT_PATH": ":memory:",
        "GRAPHWIRE_ALLOWED_ORIGINS": "*",
    }
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(GRAPHWIRE), "serve", "--port", str(port), "--pack", str(MINIPACK)],
            cwd=tmp_path, env=env, stdout=sink, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(process, port)
            with httpx.stream(
                "POST", f"{base}/api/v1/chat/stream", json={"message": F3}, timeout=30
            ) as sse:
                lines = [line for line in sse.iter_lines() if line.startswith("data: ")]
            assert_hosted_answer([parse_envelope(line.removeprefix("data: ")) for line in lines])
            assert _ws_run(f"ws://127.0.0.1:{port}/ws/chat")[-1]["data"]["reason"] == "complete"
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
    assert stub.requests("answer")[0].headers["authorization"] == f"Bearer {KEY}"
    logged = log.read_text()
    assert "AUTHENTICATION IS OFF" in logged and KEY not in logged


def _ws_run(url: str) -> list[dict[str, Any]]:
    from websockets.sync.client import connect

    with connect(url) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "connected"
        ws.send(json.dumps({"type": "message", "message": F3}))
        run: list[dict[str, Any]] = []
        while not run or run[-1]["type"] != "end":
            run.append(json.loads(ws.recv(timeout=30)))
    assert_hosted_answer([parse_envelope(e) for e in run])
    return run
