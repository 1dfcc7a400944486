"""The Python client of a graphwire server: the same calls and envelopes over WebSocket and SSE.

``stream`` yields a run's envelopes as the typed models of :mod:`graphwire.transport.protocol`;
``ask`` runs a question to its end, calling ``on_text``, ``on_sources``, … as envelopes arrive. A
dropped connection is re-opened with exponential backoff and jitter, and the run is resumed from the
last ``seq`` delivered: the caller sees no gap and no duplicate, or a typed
:class:`~graphwire.transport.client.errors.ResumeError` when the server no longer keeps the run.
Refusals and failed runs raise typed exceptions carrying the protocol code
(:mod:`graphwire.transport.client.errors`). Breaking out of ``stream`` only stops listening: the run
goes on on the server (and can be resumed) until ``stop`` cancels it.

Example:
    >>> async with GraphwireClient("ws://127.0.0.1:8000/ws/chat") as client:  # doctest: +SKIP
    ...     async for envelope in client.stream("How heavy is the battery?"):
    ...         if envelope.type == "text":
    ...             print(envelope.data.delta, end="")
"""

from __future__ import annotations

import asyncio
import inspect
import random as _random
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, Literal, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ConfigDict

from graphwire.transport.client.backoff import Backoff
from graphwire.transport.client.errors import RunCancelledError, server_error
from graphwire.transport.client.sse import SseChannel, request_json
from graphwire.transport.client.ws import WebSocketChannel
from graphwire.transport.protocol import (
    EndEnvelope,
    ErrorEnvelope,
    FinalData,
    FinalEnvelope,
    MessageFrame,
    Multitask,
    RunEnvelope,
    SourcesEnvelope,
    TextEnvelope,
    WorkflowStepEnvelope,
)
from graphwire.transport.protocol.ids import new_run_id

__all__ = ["GraphwireClient", "History", "HistoryMessage", "Transport", "endpoints"]

Transport = Literal["ws", "sse"]
E = TypeVar("E")
Callback = Callable[[E], Awaitable[None] | None]


class HistoryMessage(BaseModel):
    """One message of a conversation; ``agent`` is set on assistant messages."""

    model_config = ConfigDict(frozen=True)

    id: str | None = None
    role: Literal["user", "assistant", "system"]
    content: str
    agent: str | None = None


class History(BaseModel):
    """A conversation's messages, oldest first."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    messages: list[HistoryMessage]


def endpoints(url: str) -> tuple[str, str]:
    """``(websocket URL, HTTP base URL)`` of a server given by either.

    >>> endpoints("ws://127.0.0.1:8000/ws/chat")
    ('ws://127.0.0.1:8000/ws/chat', 'http://127.0.0.1:8000')
    >>> endpoints("https://chat.example/graphwire/")
    ('wss://chat.example/graphwire/ws/chat', 'https://chat.example/graphwire')
    """
    parts = urlsplit(url)
    secure = parts.scheme in ("wss", "https")
    if parts.scheme in ("ws", "wss"):
        path = parts.path.rstrip("/") or "/ws/chat"
        base = path.removesuffix("/ws/chat")
        socket = urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
    elif parts.scheme in ("http", "https"):
        base = parts.path.rstrip("/")
        socket = urlunsplit(("wss" if secure else "ws", parts.netloc, f"{base}/ws/chat", "", ""))
    else:
        raise ValueError(f"a graphwire URL starts with ws://, wss://, http:// or https://: {url!r}")
    return socket, urlunsplit(("https" if secure else "http", parts.netloc, base, "", ""))


class GraphwireClient:
    """A connection to a graphwire server, over WebSocket (``"ws"``) or SSE (``"sse"``).

    ``transport`` defaults to what ``url`` says: ``ws://`` and ``wss://`` mean WebSocket,
    ``http://`` and ``https://`` SSE. A dropped connection is retried after
    ``min(max_delay, initial_delay * 2**n)`` seconds, less up to ``jitter`` of it at random, at most
    ``max_attempts`` times in a row; ``sleep`` and ``random`` replace the clock and the dice.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        transport: Transport | None = None,
        initial_delay: float = 0.5,
        max_delay: float = 10.0,
        max_attempts: int = 8,
        jitter: float = 0.5,
        timeout: float = 10.0,
        read_timeout: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.ws_url, self.http_url = endpoints(url)
        scheme = urlsplit(url).scheme
        self.transport: Transport = transport or ("ws" if scheme in ("ws", "wss") else "sse")
        if self.transport not in ("ws", "sse"):
            raise ValueError(f"transport is 'ws' or 'sse', not {self.transport!r}")
        self.backoff = Backoff(
            initial=initial_delay,
            maximum=max_delay,
            attempts=max_attempts,
            jitter=jitter,
            sleep=sleep,
            random=random,
        )
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._token = token
        self._http = httpx.AsyncClient(
            base_url=self.http_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, read=read_timeout),
        )
        self._timeout = timeout
        self._channel: WebSocketChannel | SseChannel | None = None

    async def __aenter__(self) -> GraphwireClient:
        if self.transport == "ws":
            channel: WebSocketChannel | SseChannel = WebSocketChannel(
                self.ws_url, token=self._token, backoff=self.backoff, timeout=self._timeout
            )
        else:
            channel = SseChannel(self._http, backoff=self.backoff)
        try:
            await channel.open()
        except BaseException:
            await channel.close()
            await self._http.aclose()
            raise
        self._channel = channel
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._channel is not None:
            await self._channel.close()
        await self._http.aclose()

    @property
    def channel(self) -> WebSocketChannel | SseChannel:
        if self._channel is None:
            raise RuntimeError("use the client inside 'async with GraphwireClient(...)'")
        return self._channel

    def stream(
        self,
        question: str,
        *,
        session_id: str | None = None,
        run_id: str | None = None,
        multitask: Multitask | None = None,
    ) -> AsyncIterator[RunEnvelope]:
        """Ask ``question`` and yield the run's envelopes, ``end`` last.

        A missing ``session_id`` starts a new conversation (every envelope carries its id).
        ``run_id`` is chosen here when not given, so the run can be resumed even if the
        connection drops before its first envelope. Refusals raise typed exceptions
        (``BusyError``, ``ForbiddenError``, …); a failed run yields its ``error`` and ``end``.
        """
        frame = MessageFrame(
            message=question,
            session_id=session_id,
            run_id=run_id or new_run_id(),
            options={"multitask": multitask} if multitask else {},
        )
        assert frame.run_id is not None
        return self.channel.follow(frame.run_id, message=frame)

    def resume(self, run_id: str, *, after_seq: int = -1) -> AsyncIterator[RunEnvelope]:
        """Yield a run's envelopes after ``after_seq`` (replayed, then live) through its ``end``.

        Raises :class:`~graphwire.transport.client.errors.ResumeError` when the server no longer
        keeps it.
        """
        return self.channel.follow(run_id, message=None, after_seq=after_seq)

    async def ask(
        self,
        question: str,
        *,
        session_id: str | None = None,
        run_id: str | None = None,
        on_workflow_step: Callback[WorkflowStepEnvelope] | None = None,
        on_sources: Callback[SourcesEnvelope] | None = None,
        on_text: Callback[TextEnvelope] | None = None,
        on_final: Callback[FinalEnvelope] | None = None,
        on_error: Callback[ErrorEnvelope] | None = None,
        on_end: Callback[EndEnvelope] | None = None,
    ) -> FinalData:
        """Run ``question`` to its end, calling the callbacks (plain or async) as envelopes arrive.

        Returns the ``final`` data; raises the run's error as a typed exception
        (``ModelFailedError``, ``RunTimeoutError``, …) and ``RunCancelledError`` after a stop.
        """
        callbacks: dict[str, Callback[Any] | None] = {
            "workflow_step": on_workflow_step,
            "sources": on_sources,
            "text": on_text,
            "final": on_final,
            "error": on_error,
            "end": on_end,
        }
        final: FinalData | None = None
        failure: Exception | None = None
        run_id = run_id or new_run_id()
        async for envelope in self.stream(question, session_id=session_id, run_id=run_id):
            callback = callbacks[envelope.type]
            if callback is not None and inspect.isawaitable(result := callback(envelope)):
                await result
            if isinstance(envelope, FinalEnvelope):
                final = envelope.data
            elif isinstance(envelope, ErrorEnvelope):
                failure = server_error(
                    envelope.data, run_id=envelope.run_id, session_id=envelope.session_id
                )
        if failure is not None:
            raise failure
        if final is None:
            raise RunCancelledError("the run was stopped before it answered", run_id=run_id)
        return final

    async def stop(self, run_id: str | None = None) -> None:
        """Stop ``run_id`` (any run of this user), or every run this client started and follows.

        The run's stream then ends with ``end`` ``cancelled``.
        """
        await self.channel.stop(run_id)

    async def history(self, session_id: str) -> History:
        """The conversation's messages, oldest first (``NotFoundError`` for an unknown one)."""
        self.channel  # noqa: B018 - inside 'async with' only, like every other call
        body = await request_json(
            self._http,
            self.backoff,
            "GET",
            f"/api/v1/sessions/{quote(session_id, safe='')}/messages",
        )
        return History.model_validate(body)
