"""An OpenAI-compatible chat completions server on loopback, scripted per request, for tests.

It speaks the wire format ``ChatOpenAI`` speaks: ``POST /v1/chat/completions``, answered as one
JSON body, or with ``stream: true`` as server-sent chunks (``data: {...}`` … ``data: [DONE]``),
a usage chunk when the client asks for one (``stream_options.include_usage``), and tool calls.
Requests that carry ``tools`` (the classifier's) take replies from :attr:`OpenAIStub.routes`,
the others (the specialists') from :attr:`OpenAIStub.answers`; an unscripted request gets a 500.
Every request is recorded with what was sent back and when the client closed the connection.

Example:
    >>> with serve_stub() as stub:                                    # doctest: +SKIP
    ...     stub.answers.append(Reply(chunks=["Hello ", "there."]))
    ...     model = ChatOpenAI(model="stub-model", base_url=stub.url, api_key="sk-test")
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Reply:
    """One scripted response.

    ``status`` other than 200 answers with an OpenAI-style error body (``error_message``) and
    ``headers``. ``hang`` waits, sending nothing, until the client goes away; ``stall_after``
    sends that many chunks and then hangs. ``tool_arguments`` (a JSON string, valid or not)
    answers with a call of the request's first tool, after any ``chunks`` of content.
    """

    chunks: list[str] = field(default_factory=list)
    delay: float = 0.0
    finish_reason: str | None = None
    usage: tuple[int, int] | None = (321, -1)
    """(prompt_tokens, completion_tokens) to report; -1: one per chunk; None: no usage at all."""
    tool_arguments: str | None = None
    status: int = 200
    error_message: str = "scripted failure"
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    stall_after: int | None = None
    drop_after: int | None = None
    """Send that many chunks, then break the connection (a server that died mid-answer)."""


@dataclass
class Seen:
    """One request the stub received and what became of it."""

    body: dict[str, Any]
    headers: dict[str, str]
    reply: Reply
    chunks_sent: int = 0
    completed: bool = False
    disconnected: threading.Event = field(default_factory=threading.Event)

    @property
    def system_prompt(self) -> str:
        return "\n".join(
            str(m.get("content")) for m in self.body["messages"] if m["role"] == "system"
        )


@dataclass
class OpenAIStub:
    """The scripts, the record of requests and the address (``url`` ends in ``/v1``)."""

    answers: deque[Reply] = field(default_factory=deque)
    routes: deque[Reply] = field(default_factory=deque)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def requests(self, kind: str) -> list[Seen]:
        """Recorded requests of one kind: ``"answer"`` or ``"route"``."""
        with self._lock:
            return [s for s in self.seen if ("tools" in s.body) == (kind == "route")]

    def _next(self, body: dict[str, Any], headers: dict[str, str]) -> Seen:
        with self._lock:
            queue = self.routes if "tools" in body else self.answers
            reply = queue.popleft() if queue else Reply(status=500, error_message="unscripted")
            seen = Seen(body=body, headers=headers, reply=reply)
            self.seen.append(seen)
            return seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        seen = self._next(json.loads(raw or b"{}"), headers)
        watcher = asyncio.create_task(_watch_disconnect(receive, seen))
        try:
            await _respond(seen, send)
        finally:
            watcher.cancel()


async def _watch_disconnect(receive: Receive, seen: Seen) -> None:
    """After the body, ``receive`` returns only ``http.disconnect``: the client closed, unless
    the response was complete (then the server reports its own end the same way)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    if not seen.completed:
        seen.disconnected.set()


async def _start(send: Send, status: int, content_type: str, extra: Mapping[str, str]) -> None:
    headers = [(b"content-type", content_type.encode())]
    headers += [(k.encode(), v.encode()) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def _body(send: Send, data: bytes, *, more: bool) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": more})


async def _hang(seen: Seen) -> None:
    while not seen.disconnected.is_set():
        await asyncio.sleep(0.02)


async def _respond(seen: Seen, send: Send) -> None:
    reply, body = seen.reply, seen.body
    if reply.hang:
        await _hang(seen)
        return
    if reply.status != 200:
        error = {"error": {"message": reply.error_message, "type": "stub", "code": None}}
        await _start(send, reply.status, "application/json", reply.headers)
        seen.completed = True
        await _body(send, json.dumps(error).encode(), more=False)
        return
    if not body.get("stream"):
        await _start(send, 200, "application/json", reply.headers)
        seen.completed = True
        await _body(send, json.dumps(_completion(seen)).encode(), more=False)
        return
    await _start(send, 200, "text/event-stream", reply.headers)
    for i, chunk in enumerate(_stream_chunks(seen)):
        if reply.stall_after is not None and i >= reply.stall_after:
            await _hang(seen)
            return
        if reply.drop_after is not None and i >= reply.drop_after:
            raise ConnectionAbortedError("the stub drops the connection, as scripted")
        if seen.disconnected.is_set():
            return
        if i and reply.delay:
            await asyncio.sleep(reply.delay)
        await _body(send, f"data: {json.dumps(chunk)}\n\n".encode(), more=True)
        seen.chunks_sent += 1
    seen.completed = True
    await _body(send, b"data: [DONE]\n\n", more=False)


def _tool_name(body: Mapping[str, Any]) -> str:
    return str(body["tools"][0]["function"]["name"])


def _usage(seen: Seen) -> dict[str, int] | None:
    if seen.reply.usage is None:
        return None
    prompt, completion = seen.reply.usage
    completion = len(seen.reply.chunks) if completion < 0 else completion
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _envelope(seen: Seen, kind: str, choices: list[Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": kind,
        "created": int(time.time()),
        "model": str(seen.body.get("model", "stub")),
        "choices": choices,
    }


def _completion(seen: Seen) -> dict[str, Any]:
    reply = seen.reply
    message: dict[str, Any] = {"role": "assistant", "content": "".join(reply.chunks) or None}
    finish = reply.finish_reason or "stop"
    if reply.tool_arguments is not None:
        function = {"name": _tool_name(seen.body), "arguments": reply.tool_arguments}
        message["tool_calls"] = [{"id": "call_stub", "type": "function", "function": function}]
        finish = reply.finish_reason or "tool_calls"
    out = _envelope(
        seen, "chat.completion", [{"index": 0, "message": message, "finish_reason": finish}]
    )
    if (usage := _usage(seen)) is not None:
        out["usage"] = usage
    return out


def _stream_chunks(seen: Seen) -> Iterator[dict[str, Any]]:
    reply, kind = seen.reply, "chat.completion.chunk"

    def delta(d: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return _envelope(seen, kind, [{"index": 0, "delta": d, "finish_reason": finish}])

    yield delta({"role": "assistant", "content": ""})
    for text in reply.chunks:
        yield delta({"content": text})
    finish = reply.finish_reason or "stop"
    if reply.tool_arguments is not None:
        call = {"index": 0, "id": "call_stub", "type": "function"}
        yield delta(
            {"tool_calls": [{**call, "function": {"name": _tool_name(seen.body), "arguments": ""}}]}
        )
        args = reply.tool_arguments
        for piece in (args[: len(args) // 2], args[len(args) // 2 :]):
            yield delta({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        finish = reply.finish_reason or "tool_calls"
    yield delta({}, finish)
    usage = _usage(seen)
    if usage is not None and seen.body.get("stream_options", {}).get("include_usage"):
        yield {**_envelope(seen, kind, []), "usage": usage}


@contextmanager
def serve_stub() -> Iterator[OpenAIStub]:
    """Serve a fresh :class:`OpenAIStub` on 127.0.0.1 and a free port until the block ends."""
    stub = OpenAIStub()
    config = uvicorn.Config(stub, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="openai-stub", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the OpenAI stub did not start")
        time.sleep(0.02)
    stub.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/v1"
    try:
        yield stub
    finally:
        server.should_exit = True
        thread.join(timeout=20)
