"""``/ws/chat``: one :class:`ChatConnection` per socket.

Per connection: the receive loop (the endpoint's own task: parses and answers frames, and
notices a vanished client even while the graph is silent), a bounded outbound queue
(:class:`transport.ws.FrameSender`: whoever has something to send sends it, no writer task),
and timers for the auth deadline, token expiry, idle timeout and stalled sends.

How the runs' envelopes reach the socket (replayed by a forwarder, then pushed by the run's own
task) is :class:`api.listening.RunListeners`, made when the socket first listens to a run. Runs
belong to the registry, not to the socket: when the socket goes, it stops listening and the runs
carry on for the grace period.
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

from api.auth import AuthError, User, extract_token
from api.frames import FrameRefused, frame_ids, read_frame
from api.httperrors import error_response
from api.intake import start_run
from api.listening import SOCKET_GONE, RunListeners
from api.state import ANONYMOUS, AppState
from transport.errors import GraphwireError, describe_exception
from transport.protocol import (
    AuthFrame,
    AuthSuccessData,
    AuthSuccessEnvelope,
    ConnectedData,
    ConnectedEnvelope,
    Envelope,
    ErrorCode,
    ErrorData,
    ErrorEnvelope,
    MessageFrame,
    PingFrame,
    PongEnvelope,
    ResumeFrame,
    StopFrame,
    SubscribeFrame,
)
from transport.ws import FrameSender, SlowConsumerError

__all__ = ["ChatConnection"]

log = logging.getLogger("graphwire.ws")

CLOSE_IDLE = 1000
CLOSE_POLICY = 1008
CLOSE_RESTART = 1012
CLOSE_TRY_LATER = 1013


class ChatConnection:
    """Serves one WebSocket.

    Slotted, with nothing made before it is needed: thousands of idle sockets each hold one.
    """

    __slots__ = (
        "_chores",
        "_close_code",
        "_closed",
        "_main",
        "_sent_counter",
        "_timers",
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
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._chores: set[asyncio.Task[None]] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def serve(self) -> None:
        """Handshake checks, then the connection's task group until the socket closes."""
        if not self.state.origins.allows(self.ws.headers.get("origin"), self.ws.scope):
            await self.ws.close(code=CLOSE_POLICY, reason="origin not allowed")  # → HTTP 403
            return
        try:
            token = extract_token(
                authorization=self.ws.headers.get("authorization"),
                query_token=self.ws.query_params.get("token"),
            )
            if token is not None and self.state.auth.enabled:
                self.user = self.state.auth.verify(token)
        except AuthError as exc:
            await self.ws.send_denial_response(error_response(exc.code, exc.message))
            return
        await self.ws.accept()
        if len(self.state.connections) >= self.settings.max_connections or self.state.draining:
            await self.ws.close(code=CLOSE_TRY_LATER, reason="too many connections")
            return
        self.state.connections.add(self)
        self.state.metrics.connections.inc()
        try:
            await self._run()
        finally:
            self.state.connections.discard(self)
            self.state.metrics.connections.dec()

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
        self._arm_deadlines()
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
            for timer in self._timers.values():
                timer.cancel()
            self.sender.abandon()
            for task in self._chores or ():
                task.cancel()
            if self.listeners is not None:
                self.listeners.close()
                self.listeners = None  # it calls back into this connection: no cycle left
            self.state.connection_limiter.forget(self.id)
            await self._close_socket()

    # ------------------------------------------------------------------ deadlines

    def _arm_deadlines(self) -> None:
        loop = asyncio.get_running_loop()
        if self.user is None:
            self._timers["auth"] = loop.call_later(self.settings.auth_timeout, self._auth_deadline)
        self._arm_expiry()
        self._timers["idle"] = loop.call_later(self.settings.idle_timeout, self._idle_check)
        self._timers["send"] = loop.call_later(self.settings.send_timeout, self._send_check)

    def _arm_expiry(self) -> None:
        """(Re)arm the token-expiry deadline for the current user."""
        if (old := self._timers.pop("expiry", None)) is not None:
            old.cancel()
        expires = self.user.expires_at if self.user is not None else None
        if expires is not None:
            delay = max(0.0, expires + self.state.auth.leeway - time.time())
            loop = asyncio.get_running_loop()
            self._timers["expiry"] = loop.call_later(delay, self._expiry_deadline)

    def _auth_deadline(self) -> None:
        if self.user is None:
            message = "authenticate first: no auth frame arrived in time"
            self._chore(
                self._refuse_and_close(ErrorCode.AUTH_REQUIRED, message, "authentication timeout")
            )

    def _expiry_deadline(self) -> None:
        self._chore(
            self._refuse_and_close(ErrorCode.AUTH_FAILED, "the token has expired", "token expired")
        )

    def _idle_check(self) -> None:
        listening = self.listeners is not None and self.listeners.listening
        quiet_for = time.monotonic() - self.last_activity
        if not listening and quiet_for >= self.settings.idle_timeout:
            self._finish(CLOSE_IDLE, "idle timeout")
            return
        delay = self.settings.idle_timeout - (0.0 if listening else quiet_for)
        self._timers["idle"] = asyncio.get_running_loop().call_later(delay, self._idle_check)

    def _send_check(self) -> None:
        """A send blocked longer than the send timeout means the client stopped reading."""
        loop = asyncio.get_running_loop()
        started = self.sender.sending_since
        if started is not None and time.monotonic() - started > self.settings.send_timeout:
            log.info("connection %s is not reading: closing it", self.id)
            self._too_slow()
            return
        self._timers["send"] = loop.call_later(self.settings.send_timeout / 2, self._send_check)

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
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.settings.send_timeout):
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

    def _too_slow(self) -> None:
        self._finish(CLOSE_POLICY, "client too slow")

    def _runs(self) -> RunListeners:
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
                await self._dispatch(frame)
            except GraphwireError as exc:  # refused by the server: FORBIDDEN, BUSY, …
                await self._send_error(describe_exception(exc), *frame_ids(frame))

    # ------------------------------------------------------------------ frames

    async def _dispatch(self, frame: object) -> None:
        if isinstance(frame, PingFrame):
            await self.sender.put(PongEnvelope())
            return
        if isinstance(frame, AuthFrame):
            await self._authenticate(frame.token)
            return
        user = self._require_user()
        if isinstance(frame, MessageFrame):
            await self._start(frame, user)
        elif isinstance(frame, StopFrame):
            await self._stop(frame, user)
        elif isinstance(frame, ResumeFrame):
            run = self.state.registry.get(frame.run_id, user_id=user.id)
            self._runs().forward(run, after_seq=frame.after_seq, replace=True)
        elif isinstance(frame, SubscribeFrame):
            await self._runs().subscribe(frame.session_id, user_id=user.id)

    def _require_user(self) -> User:
        if self.user is None:
            raise GraphwireError(
                "authenticate first with an auth frame", code=ErrorCode.AUTH_REQUIRED
            )
        return self.user

    async def _authenticate(self, token: str) -> None:
        if not self.state.auth.enabled:
            self.user = self.user or ANONYMOUS
            await self.sender.put(
                AuthSuccessEnvelope(data=AuthSuccessData(user={"id": ANONYMOUS.id}))
            )
            return
        user = self.state.auth.verify(token)
        if self.user is not None and self.user.id != user.id:
            raise GraphwireError(
                "this connection is already authenticated as another user",
                code=ErrorCode.FORBIDDEN,
            )
        self.user = user
        if (deadline := self._timers.pop("auth", None)) is not None:
            deadline.cancel()
        self._arm_expiry()
        await self.sender.put(AuthSuccessEnvelope(data=AuthSuccessData(user=user.public())))

    async def _start(self, frame: MessageFrame, user: User) -> None:
        run = await start_run(
            self.state,
            user_id=user.id,
            client_key=self.id,
            message=frame.message,
            session_id=frame.session_id,
            run_id=frame.run_id,
            options=frame.options,
        )
        self._runs().start(run)

    async def _stop(self, frame: StopFrame, user: User) -> None:
        if frame.run_id is not None:
            await self.state.registry.cancel_for(user_id=user.id, run_id=frame.run_id)
        elif self.listeners is not None:
            await self.listeners.stop_started()

    async def _send_error(
        self, data: ErrorData, run_id: str | None = None, session_id: str | None = None
    ) -> None:
        envelope: Envelope = ErrorEnvelope(run_id=run_id, session_id=session_id, data=data)
        try:
            await self.sender.put(envelope)
        except SlowConsumerError:
            self._too_slow()
