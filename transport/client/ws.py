"""The Python client's WebSocket channel: one connection, kept up, shared by every run followed.

One supervisor task per channel connects (with backoff), authenticates with an ``auth`` frame,
announces every followed run (its ``message`` the first time, then ``resume`` from the last
``seq`` delivered) and reads, routing envelopes to each run's queue by ``run_id``. When the
connection drops it does it all again; when the server closes for good (an auth failure, 1009)
or the attempts run out, every follower gets a typed exception. With nothing to follow, a
dropped connection is only re-opened when a run needs it.

Example:
    >>> channel = WebSocketChannel("ws://127.0.0.1:8000/ws/chat", token=None)  # doctest: +SKIP
    >>> await channel.open()                                                   # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from graphwire.transport.client.backoff import Backoff
from graphwire.transport.client.cursor import RunCursor
from graphwire.transport.client.errors import (
    AuthenticationError,
    ConnectionFailedError,
    ServerError,
    resume_error,
    server_error,
)
from graphwire.transport.protocol import (
    AuthFrame,
    AuthSuccessEnvelope,
    ConnectedEnvelope,
    Envelope,
    ErrorCode,
    ErrorData,
    ErrorEnvelope,
    MessageFrame,
    ResumeFrame,
    RunEnvelope,
    StopFrame,
    parse_envelope,
)
from graphwire.transport.protocol.errors import redact

__all__ = ["WebSocketChannel"]

log = logging.getLogger("graphwire.client")

_TRANSIENT = (OSError, TimeoutError, InvalidHandshake, ConnectionClosed, ValidationError)
_MAX_FRAME = 16 * 1024 * 1024


@dataclass(eq=False)
class _Follower:
    cursor: RunCursor
    message: MessageFrame | None  # the frame that starts the run, until the server confirms it
    queue: asyncio.Queue[RunEnvelope | BaseException] = field(default_factory=asyncio.Queue)
    sent_on: ClientConnection | None = None
    message_sent: bool = False
    pending: bool = False  # a frame of ours awaits its first envelope (or its refusal)


class WebSocketChannel:
    """Runs over ``/ws/chat``; see the module docstring."""

    def __init__(
        self, url: str, *, token: str | None, backoff: Backoff | None = None, timeout: float = 10.0
    ) -> None:
        self.url = url
        self._shown = redact(url)  # the URL for messages: a ?token=… in it never shows
        self.token = token
        self.backoff = backoff or Backoff()
        self.timeout = timeout
        self._followers: list[_Follower] = []  # a run may have several (a resume, say)
        self._ws: ClientConnection | None = None
        self._up = asyncio.Event()
        self._lock = asyncio.Lock()
        self._supervisor: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._auth_error: ServerError | None = None
        self._closing = False

    # ------------------------------------------------------------------ public

    async def open(self) -> None:
        """Connect and authenticate now; raises what the server or the network said."""
        await self._connection()

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), self.timeout)
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        self._fail_all(ConnectionFailedError("the client was closed"))

    async def follow(
        self, run_id: str, *, message: MessageFrame | None, after_seq: int = -1
    ) -> AsyncGenerator[RunEnvelope, None]:
        """The run's envelopes after ``after_seq``, starting it first when ``message`` is given."""
        follower = _Follower(RunCursor(run_id, after_seq=after_seq), message)
        self._followers.append(follower)
        try:
            self._ensure_supervisor()
            if self._up.is_set() and self._ws is not None:
                with contextlib.suppress(ConnectionClosed):  # the supervisor re-announces it
                    async with self._lock:
                        await self._announce(follower, self._ws)
            while True:
                item = await follower.queue.get()
                if isinstance(item, BaseException):
                    raise item
                if follower.cursor.accept(item):
                    yield item
                    if follower.cursor.ended:
                        return
        finally:
            self._followers.remove(follower)

    async def stop(self, run_id: str | None) -> None:
        """Ask the server to stop ``run_id``, or every run this client started and follows."""
        if run_id is not None:
            targets = [run_id]
        else:
            targets = list(
                dict.fromkeys(f.cursor.run_id for f in self._followers if f.message_sent)
            )
        for target in targets:
            await self._send(StopFrame(run_id=target).model_dump_json(exclude_none=True))

    # ------------------------------------------------------------------ connection

    def _ensure_supervisor(self) -> asyncio.Task[None]:
        if self._supervisor is None or self._supervisor.done():
            self._failure = None
            self._supervisor = asyncio.create_task(self._supervise(), name="graphwire-ws")
        return self._supervisor

    async def _connection(self) -> ClientConnection:
        """The open connection, waiting for the supervisor to (re)connect if it must."""
        while True:
            supervisor = self._ensure_supervisor()
            if self._up.is_set() and self._ws is not None:
                return self._ws
            up = asyncio.ensure_future(self._up.wait())
            try:
                await asyncio.wait({up, supervisor}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                up.cancel()
            if supervisor.done() and not self._up.is_set():
                raise self._failure or ConnectionFailedError("the connection closed")

    async def _send(self, text: str) -> None:
        for _ in range(self.backoff.attempts):
            ws = await self._connection()
            try:
                await ws.send(text)
                return
            except ConnectionClosed:
                self._up.clear()  # the supervisor sets it again once it has reconnected
        raise ConnectionFailedError("the connection kept closing", attempts=self.backoff.attempts)

    async def _supervise(self) -> None:
        failures = waits = 0
        pause = False  # the first connection is tried at once; later ones after a backoff delay
        problem = f"the connection to {self._shown} dropped"
        while not self._closing:
            if pause:
                await self.backoff.wait(waits, after=problem)
                waits += 1
            pause = True
            try:
                ws = await self._connect()
            except ServerError as exc:  # refused: the same token will be refused again
                self._fail_all(exc)
                return
            except _TRANSIENT as exc:
                failures += 1
                if failures >= self.backoff.attempts:
                    self._fail_all(
                        ConnectionFailedError(
                            f"could not connect to {self._shown} after {failures} attempts "
                            f"({type(exc).__name__})",
                            attempts=failures,
                        )
                    )
                    return
                problem = f"cannot reach {self._shown} ({type(exc).__name__})"
                continue
            failures = waits = 0
            problem = f"the connection to {self._shown} dropped"
            fatal = self._fatal(await self._serve(ws))
            if fatal is not None:
                self._fail_all(fatal)
                return
            if not self._followers:
                return  # reconnect lazily, when a run needs the connection

    async def _connect(self) -> ClientConnection:
        try:
            ws = await connect(self.url, open_timeout=self.timeout, max_size=_MAX_FRAME)
        except InvalidStatus as exc:
            raise _refused_handshake(exc) from None
        try:
            hello = parse_envelope(await asyncio.wait_for(ws.recv(), self.timeout))
            if not isinstance(hello, ConnectedEnvelope):
                raise ConnectionFailedError(f"expected 'connected', got {hello.type!r}")
            if hello.data.auth_required:
                await self._authenticate(ws)
        except BaseException:
            await ws.close()
            raise
        return ws

    async def _authenticate(self, ws: ClientConnection) -> None:
        if self.token is None:
            raise AuthenticationError(
                "the server requires a token: pass token=…", code=ErrorCode.AUTH_REQUIRED
            )
        await ws.send(AuthFrame(token=self.token).model_dump_json())
        while True:
            reply = parse_envelope(await asyncio.wait_for(ws.recv(), self.timeout))
            if isinstance(reply, AuthSuccessEnvelope):
                return
            if isinstance(reply, ErrorEnvelope):
                raise server_error(reply.data)

    async def _serve(self, ws: ClientConnection) -> int:
        """Announce the followed runs and route what arrives, until the connection closes."""
        self._auth_error = None
        self._ws = ws
        self._up.set()
        try:
            async with self._lock:
                for follower in list(self._followers):
                    await self._announce(follower, ws)
            async for raw in ws:
                await self._route(raw, ws)
        except ConnectionClosed:
            pass
        finally:
            self._up.clear()
            self._ws = None
        return ws.close_code or 1006

    def _fatal(self, code: int) -> BaseException | None:
        if code == 1008 and self._auth_error is not None:
            return self._auth_error  # the token expired: reconnecting with it cannot help
        if code == 1009:
            return ConnectionFailedError("the server refused a frame as too large", close_code=code)
        return None  # 1000, 1006, 1008 (read too slowly), 1011, 1012, 1013: reconnect

    def _following(self, run_id: str | None) -> list[_Follower]:
        return [f for f in self._followers if f.cursor.run_id == run_id]

    def _fail_all(self, error: BaseException) -> None:
        self._failure = error
        for follower in self._followers:
            follower.queue.put_nowait(error)

    # ------------------------------------------------------------------ runs

    async def _announce(self, follower: _Follower, ws: ClientConnection) -> None:
        """Tell this connection about a run: start it, or resume it after the last seq seen."""
        if follower.sent_on is ws:
            return
        follower.sent_on = ws
        follower.pending = True
        if follower.message is not None and not follower.message_sent:
            follower.message_sent = True
            await ws.send(follower.message.model_dump_json(exclude_none=True))
            return
        cursor = follower.cursor
        await ws.send(
            ResumeFrame(run_id=cursor.run_id, after_seq=cursor.last_seq).model_dump_json()
        )

    async def _route(self, raw: str | bytes, ws: ClientConnection) -> None:
        try:
            envelope: Envelope = parse_envelope(raw)
        except ValidationError:
            log.warning("ignoring a frame that is not a graphwire.v1 envelope")
            return
        if isinstance(envelope, ErrorEnvelope) and envelope.seq is None:
            await self._refused(envelope, ws)
            return
        if envelope.seq is None or envelope.run_id is None:
            return  # pong, auth_success: nothing waits for them here
        for follower in self._following(envelope.run_id):
            follower.message = None  # the server has the run: from now on, resume it
            follower.pending = False
            follower.queue.put_nowait(envelope)  # type: ignore[arg-type]

    async def _refused(self, envelope: ErrorEnvelope, ws: ClientConnection) -> None:
        if envelope.run_id is None:
            self._refused_without_run(envelope)
            return
        followers = [f for f in self._following(envelope.run_id) if f.pending]
        for follower in followers:
            await self._refused_for(follower, envelope, ws)

    async def _refused_for(
        self, follower: _Follower, envelope: ErrorEnvelope, ws: ClientConnection
    ) -> None:
        data = envelope.data
        cursor = follower.cursor
        follower.pending = False
        if data.code == ErrorCode.NOT_FOUND and follower.message is not None:
            # Our resume after a drop: the server never got the message, so send it again.
            follower.message_sent = False
            follower.sent_on = None
            async with self._lock:
                await self._announce(follower, ws)
            return
        if data.code == ErrorCode.NOT_FOUND:
            error: BaseException = resume_error(
                f"run {cursor.run_id} cannot be resumed after seq {cursor.last_seq}: "
                f"{data.message}",
                run_id=cursor.run_id,
                last_seq=cursor.last_seq,
            )
        else:
            error = server_error(data, run_id=envelope.run_id, session_id=envelope.session_id)
        follower.queue.put_nowait(error)

    def _refused_without_run(self, envelope: ErrorEnvelope) -> None:
        """A refusal naming no run: it answers a frame of a run that has not started yet."""
        data = envelope.data
        if data.code in (ErrorCode.AUTH_FAILED, ErrorCode.AUTH_REQUIRED):
            self._auth_error = server_error(data)  # a close 1008 follows
        for follower in self._followers:
            if follower.pending and follower.message is not None:
                follower.queue.put_nowait(server_error(data, session_id=envelope.session_id))


def _refused_handshake(exc: InvalidStatus) -> BaseException:
    """A refused handshake: a typed error when the server said why (4xx), else retry."""
    response = exc.response
    try:
        body = json.loads(response.body or b"")
        data = ErrorData(code=body["code"], message=body["message"])
    except (ValueError, KeyError, TypeError, ValidationError):
        return exc
    if 400 <= response.status_code < 500:
        return server_error(data, status=response.status_code)
    return exc
