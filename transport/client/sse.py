"""The Python client's SSE channel: one HTTP stream per run, resumed with ``Last-Event-ID``.

A run starts with ``POST /api/v1/chat/stream``. When its stream breaks off before the run's
``end``, the channel waits (backoff) and reads on with ``GET /api/v1/runs/{run_id}/stream`` and
``Last-Event-ID: <run_id>:<seq>``; if the first request never reached the server, the run is
unknown there, and the ``POST`` is sent again with the same ``run_id``. Stopping is
``POST /api/v1/runs/{run_id}/cancel``.

Example:
    >>> channel = SseChannel(httpx.AsyncClient(base_url="http://127.0.0.1:8000"))  # doctest: +SKIP
    >>> async for envelope in channel.follow("r_1", message=None):                # doctest: +SKIP
    ...     print(envelope.type)
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import quote

import httpx
from httpx_sse import ServerSentEvent, aconnect_sse
from pydantic import ValidationError

from graphwire.transport.client.backoff import Backoff
from graphwire.transport.client.cursor import RunCursor
from graphwire.transport.client.errors import (
    ConnectionFailedError,
    RateLimitedError,
    ServerError,
    resume_error,
    server_error,
)
from graphwire.transport.protocol import (
    ErrorCode,
    ErrorData,
    ErrorEnvelope,
    MessageFrame,
    RunEnvelope,
)
from graphwire.transport.protocol import parse_envelope as _parse

__all__ = ["SseChannel", "refusal", "request_json"]

log = logging.getLogger("graphwire.client")

_TRANSIENT = (httpx.TransportError, httpx.DecodingError)


class _Retry(Exception):
    """The server answered, but in a way worth trying again (a proxy's 502, say)."""


def refusal(response: httpx.Response, *, run_id: str | None = None) -> ServerError | None:
    """The typed error of a refused request (its ``{code, message}`` body), if it has one."""
    try:
        body = response.json()
        data = ErrorData(code=body["code"], message=body["message"])
    except (ValueError, KeyError, TypeError, ValidationError):
        return None
    error = server_error(data, run_id=run_id, status=response.status_code)
    if isinstance(error, RateLimitedError):
        retry_after = response.headers.get("retry-after", "")
        error.retry_after = float(retry_after) if retry_after.isdigit() else None
    if data.code in (ErrorCode.BUSY, ErrorCode.RATE_LIMITED):
        error.retryable = True
    return error


async def request_json(
    http: httpx.AsyncClient, backoff: Backoff, method: str, url: str
) -> dict[str, Any]:
    """One JSON request, retried with backoff while the network fails; refusals are raised typed."""
    failures = 0
    while True:
        try:
            response = await http.request(method, url)
            if response.status_code < 400:
                return dict(response.json()) if response.content else {}
            error = refusal(response)
            if error is not None and response.status_code < 500:
                raise error
            raise _Retry(f"HTTP {response.status_code}") if error is None else error
        except (*_TRANSIENT, _Retry) as exc:
            failures += 1
            problem = f"{method} {http.base_url.join(url)} failed ({type(exc).__name__}: {exc})"
            if failures >= backoff.attempts:
                raise ConnectionFailedError(
                    f"{problem}, {failures} times in a row", attempts=failures
                ) from exc
            await backoff.wait(failures - 1, after=problem)


class SseChannel:
    """Runs over the SSE routes; see the module docstring."""

    def __init__(self, http: httpx.AsyncClient, *, backoff: Backoff | None = None) -> None:
        self.http = http
        self.backoff = backoff or Backoff()
        self._started: set[str] = set()

    async def open(self) -> None:
        """Check that the server answers (``GET /health``), retrying with backoff."""
        await request_json(self.http, self.backoff, "GET", "/health")

    async def close(self) -> None:
        self._started.clear()

    async def stop(self, run_id: str | None) -> None:
        """Cancel ``run_id``, or every run this client started and still follows."""
        for target in [run_id] if run_id is not None else sorted(self._started):
            await request_json(
                self.http, self.backoff, "POST", f"/api/v1/runs/{quote(target, safe='')}/cancel"
            )

    async def follow(
        self, run_id: str, *, message: MessageFrame | None, after_seq: int = -1
    ) -> AsyncGenerator[RunEnvelope, None]:
        """The run's envelopes after ``after_seq``, starting it first when ``message`` is given."""
        cursor = RunCursor(run_id, after_seq=after_seq)
        unconfirmed = message  # the POST until the server has answered it with a stream
        posted = False
        failures = waits = 0
        if message is not None:
            self._started.add(run_id)
        try:
            while True:
                method, url, kwargs = self._request(cursor, unconfirmed, posted)
                posted = posted or method == "POST"
                try:
                    async with aconnect_sse(self.http, method, url, **kwargs) as source:
                        response = source.response
                        if response.status_code != 200:
                            await response.aread()
                            if self._should_repost(response, cursor, unconfirmed, posted):
                                posted = False
                                continue
                            raise self._refused(response, cursor)
                        unconfirmed = None
                        async for event in source.aiter_sse():
                            envelope = self._envelope(event, cursor)
                            failures = waits = 0
                            if cursor.accept(envelope):
                                yield envelope
                                if cursor.ended:
                                    return
                except (*_TRANSIENT, _Retry) as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                else:
                    problem = "the stream ended before the run's end"
                # The stream broke off before the run's end: wait, then read on from last_seq.
                failures += 1
                if failures >= self.backoff.attempts:
                    raise ConnectionFailedError(
                        f"lost run {run_id} after seq {cursor.last_seq}, {failures} attempts "
                        f"in a row failed (last: {problem})",
                        attempts=failures,
                    )
                await self.backoff.wait(
                    waits, after=f"run {run_id} broke off after seq {cursor.last_seq} ({problem})"
                )
                waits += 1
        finally:
            self._started.discard(run_id)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _request(
        cursor: RunCursor, unconfirmed: MessageFrame | None, posted: bool
    ) -> tuple[str, str, dict[str, Any]]:
        if unconfirmed is not None and not posted:
            body = unconfirmed.model_dump(exclude={"type"}, exclude_none=True)
            return "POST", "/api/v1/chat/stream", {"json": body}
        url = f"/api/v1/runs/{quote(cursor.run_id, safe='')}/stream"
        if cursor.last_seq < 0:
            return "GET", url, {"params": {"after_seq": -1}}
        return "GET", url, {"headers": {"Last-Event-ID": f"{cursor.run_id}:{cursor.last_seq}"}}

    @staticmethod
    def _should_repost(
        response: httpx.Response, cursor: RunCursor, unconfirmed: MessageFrame | None, posted: bool
    ) -> bool:
        """A resume found no run, though ours was never confirmed: the POST never arrived."""
        return response.status_code == 404 and unconfirmed is not None and posted

    @staticmethod
    def _refused(response: httpx.Response, cursor: RunCursor) -> BaseException:
        error = refusal(response, run_id=cursor.run_id)
        if response.status_code == 204 or (error is not None and error.code == ErrorCode.NOT_FOUND):
            reason = error.message if error is not None else "nothing is left to read"
            return resume_error(
                f"run {cursor.run_id} cannot be resumed after seq {cursor.last_seq}: {reason}",
                run_id=cursor.run_id,
                last_seq=cursor.last_seq,
            )
        if error is None or response.status_code >= 502:
            return _Retry(f"HTTP {response.status_code}")
        return error

    @staticmethod
    def _envelope(event: ServerSentEvent, cursor: RunCursor) -> RunEnvelope:
        try:
            envelope = _parse(event.data)
        except ValidationError:
            raise _Retry(f"an {event.event!r} event that is not a graphwire.v1 envelope") from None
        if isinstance(envelope, ErrorEnvelope) and envelope.seq is None:
            # The server could not keep serving this stream (its log lost the envelopes).
            raise resume_error(
                f"run {cursor.run_id} broke off after seq {cursor.last_seq}: "
                f"{envelope.data.message}",
                run_id=cursor.run_id,
                last_seq=cursor.last_seq,
            )
        if envelope.seq is None or envelope.type in ("connected", "auth_success", "pong"):
            raise _Retry(f"unexpected {envelope.type!r} event on an SSE stream")
        return envelope  # type: ignore[return-value]
