"""``/ws/chat``: one :class:`ChatConnection` per socket.

Per connection: the receive loop (the endpoint's own task: parses and answers frames, and
notices a vanished client even while the graph is silent), a bounded outbound queue
(:class:`graphwire.api.ws.sender.FrameSender`: whoever has something to send sends it, no writer
task), and :class:`graphwire.api.ws.deadlines.Deadlines` (auth deadline, token expiry, idle timeout,
stalled sends).

How the runs' envelopes reach the socket (replayed by a forwarder, then pushed by the run's own
task) is :class:`graphwire.api.ws.listening.RunListeners`, made when the socket first listens to a
run. Runs belong to the registry, not to the socket: when the socket goes, it stops listening and
the runs carry on for the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Coroutine
from typing import Any

from starlette.websockets import WebSocket, WebSocketState

from graphwire.api.auth import ANONYMOUS, AuthError, User, extract_token
from graphwire.api.http.errors import error_response
from graphwire.api.state import AppState
from graphwire.api.ws.deadlines import Deadline, Deadlines
from graphwire.api.ws.dispatch import dispatch
from graphwire.api.ws.frames import FrameRefused, frame_ids, read_frame
from graphwire.api.ws.listening import SOCKET_GONE, RunListeners
from graphwire.api.ws.sender import FrameSender, SlowConsumerError
from graphwire.transport.protocol import (
    ConnectedData,
    ConnectedEnvelope,
    Envelope,
    ErrorCode,
    ErrorData,
    ErrorEnvelope,
)
from graphwire.transport.protocol.errors import GraphwireError, describe_exception

__all__ = ["ChatConnection"]

log = logging.getLogger("graphwire.ws")

CLOSE_IDLE = 1000
CLOSE_POLICY = 1008
CLOSE_RESTART = 1012
CLOSE_TRY_LATER = 1013

SLOW_REASON = "client too slow"
SLOW_CLOSE_WAIT = 1.0
"""Seconds a client dropped for not reading gets for its close frame (it queues behind what the
client did not read, so waiting a whole send timeout again would rarely get it out)."""


class ChatConnection:
    """Serves one WebSocket.

    Slotted, with nothing made before it is needed: thousands of idle sockets each hold one.
    """

    __slots__ = (
        "_chores",
        "_close_code",
        "_closed",
        "_deadlines",
        "_main",
        "_sent_counter",
        "id",
        "last_activity",
        "listeners",
        "sender",
        "settings",
        "state",
        "user",
        "ws",
    )

    def __init__(self, websocket: WebSocket, state: AppState) -> None:
        self.ws = websocket
        self.state = state
        self.settings = state.settings
        self.id = f"c_{secrets.token_urlsafe(9)}"
        self.user: User | None = None if state.auth.enabled else ANONYMOUS
        self.sender = FrameSender(
            websocket.send_text,
            queue_size=self.settings.send_queue_size,
            send_timeout=self.settings.send_timeout,
            on_sent=self._count_sent,
            on_failure=self._socket_failed,
        )
        self._sent_counter = state.metrics.envelopes_sent
        self.listeners: RunListeners | None = None  # made when the first run is listened to
        self.last_activity = time.monotonic()
        self._closed = False
        self._close_code: tuple[int, str] | None = None
        self._main: asyncio.Task[Any] | None = None
        self._deadlines = Deadlines(self.settings, leeway=state.auth.leeway)
        self._chores: set[asyncio.Task[None]] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def serve(self) -> None:
        """Handshake checks, then the connection's task group until the socket closes."""
        try:
            if await self._admitted():
                self.state.connections.add(self)
                self.state.metrics.connections.inc()
                try:
                    await self._run()
                finally:
                    self.state.connections.discard(self)
                    self.state.metrics.connections.dec()
        finally:
            self.sender.abandon()  # its callbacks point back here: refused sockets too

    async def _admitted(self) -> bool:
        """Check the origin, any token the handshake carries, and the connection cap; refuse
        the handshake (403, 401) or close the socket (1013) if one fails."""
        if not self.state.origins.allows(self.ws.headers.get("origin"), self.ws.scope):
            await self.ws.close(code=CLOSE_POLICY, reason="origin not allowed")  # → HTTP 403
            return False
        try:
            token = extract_token(
                authorization=self.ws.headers.get("authorization"),
                query_token=self.ws.query_params.get("token"),
            )
            if token is not None and self.state.auth.enabled:
                self.user = self.state.auth.verify(token)
        except AuthError as exc:
            await self.ws.send_denial_response(error_response(exc.code, exc.message))
            return False
        await self.ws.accept()
        if len(self.state.connections) >= self.settings.max_connections or self.state.draining:
            await self.ws.close(code=CLOSE_TRY_LATER, reason="too many connections")
            return False
        return True

    async def _run(self) -> None:
        user = self.user.public() if self.user is not None else None
        await self.sender.put(
            ConnectedEnvelope(
                data=ConnectedData(
                    connection_id=self.id, auth_required=self.user is None, user=user
                )
            )
        )
        # One task per idle connection (this one, receiving); deadlines are timers, not polling
        # tasks, so an idle socket costs little memory and no CPU.
        self._main = asyncio.current_task()
        self._deadlines.arm(self)
        try:
            await self._receive()
        except asyncio.CancelledError:
            if not self._closed:
                raise  # cancelled from outside: not ours to swallow
            if self._main is not None:
                self._main.uncancel()
        except SOCKET_GONE:
            pass  # the peer went away mid-send (Starlette says so with RuntimeError)
        finally:
            self._closed = True
            self._deadlines.cancel()
            self.sender.abandon()
            for task in self._chores or ():
                task.cancel()
            if self.listeners is not None:
                self.listeners.close()
                self.listeners = None  # it calls back into this connection: no cycle left
            self.state.connection_limiter.forget(self.id)
            await self._close_socket()

    # ------------------------------------------------------------------ deadlines

    @property
    def listening(self) -> bool:
        """True while this socket listens to a run (it is not idle then)."""
        return self.listeners is not None and self.listeners.listening

    def on_deadline(self, deadline: Deadline) -> None:
        """One of :class:`graphwire.api.ws.deadlines.Deadlines` passed: say why, and close."""
        if deadline == "auth":
            message = "authenticate first: no auth frame arrived in time"
            refusal = (ErrorCode.AUTH_REQUIRED, message, "authentication timeout")
            self._chore(self._refuse_and_close(*refusal))
        elif deadline == "expiry":
            refusal = (ErrorCode.AUTH_FAILED, "the token has expired", "token expired")
            self._chore(self._refuse_and_close(*refusal))
        elif deadline == "idle":
            self._finish(CLOSE_IDLE, "idle timeout")
        else:
            self._too_slow(stalled=True)

    def _chore(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        chores = self._chores = self._chores or set()
        chores.add(task)
        task.add_done_callback(chores.discard)

    async def _refuse_and_close(self, code: ErrorCode, message: str, reason: str) -> None:
        await self._send_error(ErrorData(code=code, message=message))
        await self._end_after_flush(CLOSE_POLICY, reason)

    async def _end_after_flush(self, code: int, reason: str) -> None:
        """Close with ``code`` once what is queued (say, the error explaining why) is sent."""
        if self._close_code is None:
            self._close_code = (code, reason)
        await self.sender.flushed(self.settings.send_timeout)
        self._finish(code, reason)

    def _finish(self, code: int, reason: str) -> None:
        if self._close_code is None:
            self._close_code = (code, reason)
        if not self._closed:
            self._closed = True
            if self._main is not None and self._main is not asyncio.current_task():
                self._main.cancel()  # it is waiting in receive()

    async def _close_socket(self) -> None:
        code, reason = self._close_code or (CLOSE_IDLE, "")
        connected = WebSocketState.CONNECTED
        if self.ws.application_state == connected and self.ws.client_state == connected:
            # The peer may be gone, or not reading (then even the close frame cannot go out).
            # No wait_for: its task would keep the failure, the failure's traceback the
            # wait_for frame, and that frame the task, a cycle only the collector frees.
            wait = self.settings.send_timeout
            if reason == SLOW_REASON:  # it is not reading: its close frame waits behind the rest
                wait = min(wait, SLOW_CLOSE_WAIT)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(wait):
                    await self.ws.close(code=code, reason=reason)

    async def close_for_restart(self) -> None:
        """Server shutdown: let queued envelopes (the runs' ends) go out, then close 1012."""
        pumping = self.listeners.replaying() if self.listeners is not None else []
        if pumping:  # the runs have ended: each forwarder stops once it has queued the end
            await asyncio.wait(pumping, timeout=self.settings.send_timeout)
        await self._end_after_flush(CLOSE_RESTART, "server restart")

    # ------------------------------------------------------------------ tasks

    def _count_sent(self, _: object) -> None:
        self._sent_counter["ws"] += 1

    def _socket_failed(self, exc: BaseException) -> None:
        """A send that had to wait for the client failed (the socket is gone)."""
        self._gone()

    def _gone(self) -> None:
        self._finish(CLOSE_IDLE, "")

    def _too_slow(self, *, stalled: bool = False) -> None:
        """Drop a client that stopped reading; say why in one INFO line (the first cause wins)."""
        if self._closed:
            return
        settings, user = self.settings, self.user.id if self.user is not None else "none yet"
        waited = f"{settings.send_timeout:g} s (GRAPHWIRE_SEND_TIMEOUT)"
        why = f"its send queue stayed full ({settings.send_queue_size} envelopes) for {waited}"
        if stalled:
            why = f"a send blocked for longer than {waited}"
        log.info("dropping connection %s (user %s): it is not reading: %s", self.id, user, why)
        self._finish(CLOSE_POLICY, SLOW_REASON)

    def runs(self) -> RunListeners:
        """The runs this socket listens to, made on first use."""
        if self.listeners is None:
            self.listeners = RunListeners(
                self.state.registry,
                self.sender,
                on_error=self._send_error,
                on_slow=self._too_slow,
                on_gone=self._gone,
            )
        return self.listeners

    async def _receive(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                self._gone()
                return
            self.last_activity = time.monotonic()
            try:
                frame = read_frame(message, max_bytes=self.settings.max_frame_bytes)
            except FrameRefused as refused:  # unreadable: MESSAGE_TOO_LARGE, INVALID_MESSAGE
                error = describe_exception(refused.error)
                await self._send_error(error, refused.run_id, refused.session_id)
                continue
            try:
                await dispatch(self, frame)
            except GraphwireError as exc:  # refused by the server: FORBIDDEN, BUSY, …
                await self._send_error(describe_exception(exc), *frame_ids(frame))

    # ------------------------------------------------------------------ frames

    @property
    def address(self) -> str | None:
        """The client's IP address, if the server knows it."""
        client = self.ws.client
        return client.host if client is not None else None

    def authenticated(self, user: User) -> None:
        """``user`` proved who they are: their token's expiry is this socket's deadline now."""
        self.user = user
        self._deadlines.authenticated(user)

    async def _send_error(
        self, data: ErrorData, run_id: str | None = None, session_id: str | None = None
    ) -> None:
        envelope: Envelope = ErrorEnvelope(run_id=run_id, session_id=session_id, data=data)
        try:
            await self.sender.put(envelope)
        except SlowConsumerError:
            self._too_slow()
