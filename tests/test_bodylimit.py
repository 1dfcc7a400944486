"""HTTP request bodies: bounded before authentication, and read with the protocol's JSON limits.

A 100 MB POST with no token used to be read and parsed before its 401; JSON nested 5,000 deep, a
number of 5,000 digits or invalid UTF-8 got FastAPI's own ``400 {"detail": ...}``, and ``NaN``
was accepted. Real uvicorn, real httpx; the server runs on a thread of this process, so this
process's resident memory is the server's.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.types import Message
from websockets.asyncio.client import connect

from graphwire.api.http.bodylimit import BodyLimit
from tests.server import Running, running, server_settings

F3 = "What does error F3 mean?"
SECRET = "b" * 32
LIMIT = 65_536
FLOOD = 50 * 1024 * 1024  # bytes: far over the limit, and far over any noise in RSS
SURROGATE = "\\ud800"  # as the JSON escape a client writes
JSON = {"Content-Type": "application/json"}
LENIENT = {"rate_limit_per_minute": 10_000, "user_rate_limit_per_minute": 10_000}


@pytest.fixture(scope="module")
def secured() -> Iterator[Running]:
    settings = server_settings(jwt_secret=SecretStr(SECRET), max_body_bytes=LIMIT, **LENIENT)
    with running(settings) as live:
        yield live


@pytest.fixture(scope="module")
def open_server() -> Iterator[Running]:
    with running(server_settings(max_body_bytes=LIMIT, **LENIENT)) as live:
        yield live


# --------------------------------------------------------------------------- helpers


def rss() -> int:
    """This process's resident memory, in bytes."""
    for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/<pid>/status")


class PeakGrowth:
    """The largest growth of resident memory seen while the block runs (sampled every 2 ms)."""

    def __init__(self) -> None:
        self.base = rss()
        self.peak = self.base
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.002):
            self.peak = max(self.peak, rss())

    def __enter__(self) -> PeakGrowth:
        self._sampler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._sampler.join()
        self.peak = max(self.peak, rss())

    @property
    def growth(self) -> int:
        return self.peak - self.base


def flood(total: int, block: int = 65_536) -> Iterator[bytes]:
    """A chat body of exactly ``total`` bytes, made as it is sent (the client keeps none of it)."""
    head, tail = b'{"message": "', b'"}'
    yield head
    chunk = b"a" * block
    left = total - len(head) - len(tail)
    while left > 0:
        yield chunk[:left]
        left -= block
    yield tail


def exact(size: int) -> bytes:
    """A valid chat body of exactly ``size`` bytes (JSON allows trailing whitespace)."""
    body = json.dumps({"message": F3}).encode()
    return body + b" " * (size - len(body))


def chunked(body: bytes) -> Iterator[bytes]:
    """``body`` as a generator: httpx sends it with ``Transfer-Encoding: chunked``."""
    half = len(body) // 2
    yield body[:half]
    yield body[half:]


async def achunked(body: bytes) -> AsyncIterator[bytes]:
    """The same, for an ``AsyncClient``."""
    for part in chunked(body):
        yield part


def problem(response: httpx.Response) -> tuple[int, str, str]:
    """(status, code, message) of an error in the project's shape, and nothing else."""
    body = response.json()
    assert sorted(body) == ["code", "message"], body
    return response.status_code, body["code"], body["message"]


def ask(live: Running) -> None:
    """The server still answers a normal question."""
    response = httpx.post(f"{live.http}/api/v1/chat", json={"message": F3}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["agent"] == "faults"


# --------------------------------------------------------------------------- the size limit


def test_an_over_limit_body_with_content_length_gets_413_before_auth_and_is_never_kept(
    secured: Running,
) -> None:
    with PeakGrowth() as memory:
        response = httpx.post(
            f"{secured.http}/api/v1/chat",
            content=flood(FLOOD),
            headers={**JSON, "Content-Length": str(FLOOD)},
            timeout=60,
        )
    assert problem(response) == (
        413,
        "MESSAGE_TOO_LARGE",
        f"a request body of {FLOOD} bytes is over the {LIMIT}-byte limit",
    )
    assert memory.growth < FLOOD // 5, f"RSS grew by {memory.growth / 2**20:.1f} MiB"


def test_an_over_limit_chunked_body_gets_413_before_auth_and_is_never_kept(
    secured: Running,
) -> None:
    with PeakGrowth() as memory:
        response = httpx.post(
            f"{secured.http}/api/v1/chat", content=flood(FLOOD), headers=JSON, timeout=60
        )
    assert response.request.headers["transfer-encoding"] == "chunked"
    status, code, message = problem(response)
    assert (status, code) == (413, "MESSAGE_TOO_LARGE")
    assert re.fullmatch(
        rf"a request body of at least \d+ bytes is over the {LIMIT}-byte limit", message
    )
    assert memory.growth < FLOOD // 5, f"RSS grew by {memory.growth / 2**20:.1f} MiB"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_at_the_limit_reaches_auth_and_one_byte_more_does_not(
    secured: Running, framing: str
) -> None:
    def post(body: bytes) -> httpx.Response:
        content = body if framing == "content-length" else chunked(body)
        return httpx.post(f"{secured.http}/api/v1/chat", content=content, headers=JSON)

    assert problem(post(exact(LIMIT)))[:2] == (401, "AUTH_REQUIRED")
    assert problem(post(exact(LIMIT + 1)))[:2] == (413, "MESSAGE_TOO_LARGE")


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_at_the_limit_is_answered_and_one_byte_more_is_refused(
    open_server: Running, framing: str
) -> None:
    def post(body: bytes) -> httpx.Response:
        content = body if framing == "content-length" else chunked(body)
        return httpx.post(
            f"{open_server.http}/api/v1/chat", content=content, headers=JSON, timeout=30
        )

    answered = post(exact(LIMIT))
    assert answered.status_code == 200, answered.text
    assert answered.json()["agent"] == "faults"
    assert problem(post(exact(LIMIT + 1)))[:2] == (413, "MESSAGE_TOO_LARGE")


async def test_a_malformed_content_length_gets_400_and_the_app_is_never_called() -> None:
    # uvicorn refuses these itself before any app runs; servers that pass them on meet this.
    called: list[str] = []
    sent: list[Message] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append(scope["path"])

    async def receive() -> Message:
        raise AssertionError("the body was read")

    async def send(message: Message) -> None:
        sent.append(message)

    limited = BodyLimit(app, max_bytes=LIMIT)
    for value in (b"abc", b"-1", b"1 2", b"12, 13", b"\xd9\xa1"):
        sent.clear()
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/api/v1/chat",
            "headers": [(b"content-length", value)],
        }
        await limited(scope, receive, send)
        assert sent[0]["status"] == 400, value
        assert json.loads(sent[1]["body"]) == {
            "code": "INVALID_MESSAGE",
            "message": "Content-Length must be one whole number of bytes",
        }
    assert called == []


# --------------------------------------------------------------------------- hostile JSON

HOSTILE: dict[str, tuple[bytes, str]] = {
    "nested 5,000 deep": (b'{"message": "hi", "options": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}", "nested deeper than 32"),
    "an int of 5,000 digits": (b'{"message": "hi", "options": {"n": ' + b"9" * 5000 + b"}}", "longer than 40"),
    "NaN": (b'{"message": "hi", "options": {"n": NaN}}', "NaN is not a JSON number"),
    "a surrogate in message": (f'{{"message": "hi {SURROGATE}"}}'.encode(), "lone surrogate"),
    "a surrogate in session_id": (f'{{"message": "hi", "session_id": "s{SURROGATE}"}}'.encode(), "lone surrogate"),
    "a surrogate in an options key": (f'{{"message": "hi", "options": {{"{SURROGATE}": 1}}}}'.encode(), "lone surrogate"),
    "invalid UTF-8": (b'{"message": "hi \xff"}', "UTF-8"),
    "not JSON at all": (b"hello there", "not valid JSON"),
}  # fmt: skip


@pytest.mark.parametrize("route", ["/api/v1/chat", "/api/v1/chat/stream"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_json_body_gets_422_invalid_message_and_the_server_goes_on(
    open_server: Running, route: str, name: str
) -> None:
    body, why = HOSTILE[name]
    response = httpx.post(f"{open_server.http}{route}", content=body, headers=JSON, timeout=30)
    status, code, message = problem(response)
    assert (status, code) == (422, "INVALID_MESSAGE"), message
    assert message.startswith("invalid request body: ") and why in message, message
    ask(open_server)


@pytest.mark.parametrize(
    ("body", "headers"),
    [(b"", JSON), (b"[1, 2]", JSON), (b'"hi"', JSON), (b'{"message": "hi"}', {})],
    ids=["empty", "an array", "a string", "no content-type"],
)
def test_other_unusable_bodies_get_422_invalid_message_in_the_same_shape(
    open_server: Running, body: bytes, headers: dict[str, str]
) -> None:
    response = httpx.post(f"{open_server.http}/api/v1/chat", content=body, headers=headers)
    assert problem(response)[:2] == (422, "INVALID_MESSAGE")


# --------------------------------------------------------------------------- what passes through


async def test_gets_streams_cors_and_the_websocket_are_untouched(open_server: Running) -> None:
    async with httpx.AsyncClient(base_url=open_server.http, timeout=30) as client:
        assert (await client.get("/health")).json() == {"status": "ok"}
        got = await client.get("/api/v1/chat/stream", params={"message": F3})
        assert got.status_code == 200 and "event: end" in got.text
        # a chunked body is replayed to the app, and the SSE response still ends on its own
        posted = await client.post(
            "/api/v1/chat/stream",
            content=achunked(json.dumps({"message": F3}).encode()),
            headers=JSON,
        )
        assert posted.status_code == 200 and "event: end" in posted.text
        preflight = await client.options(
            "/api/v1/chat",
            headers={
                "Origin": "http://allowed.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Content-Type",
            },
        )
        assert preflight.status_code == 200
        refused = await client.post(
            "/api/v1/chat",
            content=exact(LIMIT + 1),
            headers={**JSON, "Origin": "http://allowed.example"},
        )
        assert refused.status_code == 413
        # the browser that sent it can read why
        assert refused.headers["access-control-allow-origin"] == "http://allowed.example"

    async with connect(open_server.ws) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connected"
        await ws.send(json.dumps({"type": "message", "message": F3}))
        seen: list[str] = []
        while not seen or seen[-1] != "end":
            seen.append(json.loads(await asyncio.wait_for(ws.recv(), 10))["type"])
        assert "final" in seen
