"""``/ws/chat``: one :class:`ChatConnection` per socket.

Per connection: the receive loop (the endpoint's own task: parses and answers frames, and
notices a vanished client even while the graph is silent), a bounded outbound queue
(:class:`transport.ws.FrameSender`: whoever has something to send sends it, no writer task),
and timers for the auth deadline, token expiry, idle timeout and stalled sends.

For each run it listens to with envelopes to replay, a forwarder task reads the run's log until
it has caught up; from then on (and at once when there is nothing to replay, as for a run it
has just started) the run's own task hands each new envelope straight to the socket (a sink,
:meth:`transport.runs.RunRegistry.push_to`), so a live token costs no task switch. A client too
slow for that goes back to a forwarder. Runs belong to the registry, not to the socket: when
the socket goes, it stops listening and the runs carry on
for the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Coroutine
from contextlib import aclosing
from typing import Any

from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from api.auth import AuthError, User, extract_token
from api.httperrors import error_response
from api.intake import start_run
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
    parse_client_frame,
)
from transport.runs import Run, Sink
from transport.ws import FrameSender, SlowConsumerError

__all__ = ["ChatConnection"]

log = logging.getLogger("graphwire.ws")

CLOSE_IDLE = 1000
CLOSE_POLICY = 1008
CLOSE_RESTART = 1012
CLOSE_TRY_LATER = 1013


class _Refused(Exception):
    """A frame refused before any run started: one ``error`` envelope, the socket stays open."""

    def __init__(self, error: GraphwireError, *, run_id: str | None, session_id: str | None):
        super().__init__(error.message)
        self.error, self.run_id, self.session_id = error, run_id, session_id


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
        "forwarders",
        "id",
        "last_activity",
        "pushing",
        "sender",
        "settings",
        "started",
        "state",
        "subscriptions",
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
        self.forwarders: dict[str, asyncio.Task[None]] = {}
        self.pushing: dict[str, tuple[Run, Sink]] = {}
        self.started: list[Run] = []
        self.subscriptions: dict[str, tuple[asyncio.Queue[Run], asyncio.Task[None]]] = {}
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
        except (WebSocketDisconnect, ConnectionError, RuntimeError):
            pass  # the peer went away mid-send (Starlette says so with RuntimeError)
        finally:
            self._closed = True
            for timer in self._timers.values():
                timer.cancel()
            self.sender.abandon()
            for task in [*self.forwarders.values(), *(self._chores or ())]:
                task.cancel()
            for run_id in list(self.pushing):
                self._stop_pushing(run_id)
            for session_id, (queue, task) in self.subscriptions.items():
                task.cancel()
                self.state.registry.unsubscribe(session_id, queue)
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
        listening = (
            any(not t.done() for t in self.forwarders.values())
            or any(run.active for run, _ in self.pushing.values())
            or self.subscriptions
        )
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
            self._finish(CLOSE_POLICY, "client too slow")
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
        pumping = [t for t in self.forwarders.values() if not t.done()]
        if pumping:  # the runs have ended: each forwarder stops once it has queued the end
            await asyncio.wait(pumping, timeout=self.settings.send_timeout)
        await self._end_after_flush(CLOSE_RESTART, "server restart")

    # ------------------------------------------------------------------ tasks

    def _count_sent(self, _: object) -> None:
        self._sent_counter["ws"] += 1

    def _socket_failed(self, exc: BaseException) -> None:
        """A send that had to wait for the client failed (the socket is gone)."""
        self._finish(CLOSE_IDLE, "")

    async def _receive(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                self._finish(CLOSE_IDLE, "")
                return
            self.last_activity = time.monotonic()
            raw = message.get("text")
            if raw is None:
                raw_bytes = message.get("bytes") or b""
                size = len(raw_bytes)
            else:
                size = len(raw.encode("utf-8"))
            try:
                if size > self.settings.max_frame_bytes:
                    limit = self.settings.max_frame_bytes
                    raise _Refused(
                        GraphwireError(
                            f"a frame of {size} bytes is over the {limit}-byte limit",
                            code=ErrorCode.MESSAGE_TOO_LARGE,
                        ),
                        run_id=None,
                        session_id=None,
                    )
                if raw is None:
                    raw = raw_bytes.decode("utf-8", errors="strict")
                await self._handle(raw)
            except _Refused as refused:
                await self._send_error(
                    describe_exception(refused.error), refused.run_id, refused.session_id
                )
            except UnicodeDecodeError:
                await self._send_error(
                    ErrorData(code=ErrorCode.INVALID_MESSAGE, message="a frame must be UTF-8 JSON"),
                    None,
                    None,
                )

    # ------------------------------------------------------------------ frames

    async def _handle(self, raw: str) -> None:
        try:
            decoded = json.loads(raw)
        except json.JSONDecodeError:
            raise _Refused(
                GraphwireError("a frame must be a JSON object", code=ErrorCode.INVALID_MESSAGE),
                run_id=None,
                session_id=None,
            ) from None
        run_id = decoded.get("run_id") if isinstance(decoded, dict) else None
        session_id = decoded.get("session_id") if isinstance(decoded, dict) else None
        run_id = run_id if isinstance(run_id, str) else None
        session_id = session_id if isinstance(session_id, str) else None
        try:
            frame = parse_client_frame(decoded)
        except ValidationError as exc:
            raise _Refused(
                GraphwireError(_explain(exc), code=ErrorCode.INVALID_MESSAGE),
                run_id=run_id,
                session_id=session_id,
            ) from None
        try:
            await self._dispatch(frame)
        except GraphwireError as exc:
            raise _Refused(exc, run_id=run_id, session_id=session_id) from None

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
            self._forward(run, after_seq=frame.after_seq, replace=True)
        elif isinstance(frame, SubscribeFrame):
            await self._subscribe(frame.session_id, user)

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
        self.started = [r for r in self.started if r.active]  # (a long-lived socket's history)
        self.started.append(run)
        self._forward(run, after_seq=-1)

    async def _stop(self, frame: StopFrame, user: User) -> None:
        if frame.run_id is not None:
            await self.state.registry.cancel_for(user_id=user.id, run_id=frame.run_id)
            return
        for run in [r for r in self.started if r.active]:
            await self.state.registry.cancel(run)

    async def _subscribe(self, session_id: str, user: User) -> None:
        if session_id in self.subscriptions:
            return
        queue = await self.state.registry.subscribe(session_id, user_id=user.id)
        for run in self.state.registry.active_runs(session_id):
            self._forward(run, after_seq=-1)

        async def forward_new_runs() -> None:
            while True:
                self._forward(await queue.get(), after_seq=-1)

        self.subscriptions[session_id] = (queue, asyncio.create_task(forward_new_runs()))

    def _forward(self, run: Run, *, after_seq: int, replace: bool = False) -> None:
        """Send the run's envelopes after ``after_seq`` on this socket (once per run)."""
        current = self.forwarders.get(run.run_id)
        listening = run.run_id in self.pushing or (current is not None and not current.done())
        if listening and not replace:
            return
        self._stop_pushing(run.run_id)
        if current is not None:
            current.cancel()
            del self.forwarders[run.run_id]
        sink = self._sink(run)
        if self.state.registry.push_to(run, sink, after_seq=after_seq):  # nothing to replay
            self.pushing[run.run_id] = (run, sink)
            return
        self.forwarders[run.run_id] = asyncio.create_task(self._pump(run, after_seq, sink))

    async def _pump(self, run: Run, after_seq: int, sink: Sink) -> None:
        """Read the run's log until caught up, then let the run push to this socket."""
        registry = self.state.registry
        try:
            async with aclosing(registry.follow(run, after_seq=after_seq)) as envelopes:
                async for envelope in envelopes:
                    await self.sender.put(envelope)
                    seq = envelope.seq  # no await between reading it and asking to be pushed to
                    if seq is not None and registry.push_to(run, sink, after_seq=seq):
                        self.pushing[run.run_id] = (run, sink)
                        return
        except GraphwireError as exc:  # the log no longer holds that range
            await self._send_error(describe_exception(exc), run.run_id, run.session_id)
        except SlowConsumerError:
            self._finish(CLOSE_POLICY, "client too slow")
        except (WebSocketDisconnect, ConnectionError, RuntimeError):
            self._finish(CLOSE_IDLE, "")  # the socket is gone; the receive loop ends too

    def _sink(self, run: Run) -> Sink:
        """What the run's task calls with each live envelope: send it now, never wait."""

        def deliver(envelope: Any) -> bool:
            if envelope.type == "end":  # the registry drops the run's sinks after its end
                self.pushing.pop(run.run_id, None)
            try:
                if self.sender.offer(envelope):
                    return True
            except (WebSocketDisconnect, ConnectionError, RuntimeError):
                self.pushing.pop(run.run_id, None)
                self._finish(CLOSE_IDLE, "")
                return False
            # The queue is full: this client reads slower than the run writes. Go back to
            # reading the log from this envelope on, at the client's pace (bounded by put).
            self.pushing.pop(run.run_id, None)
            self.forwarders[run.run_id] = asyncio.create_task(
                self._pump(run, envelope.seq - 1, self._sink(run))
            )
            return False

        return deliver

    def _stop_pushing(self, run_id: str) -> None:
        listening = self.pushing.pop(run_id, None)
        if listening is not None:
            self.state.registry.stop_pushing(*listening)

    async def _send_error(
        self, data: ErrorData, run_id: str | None = None, session_id: str | None = None
    ) -> None:
        envelope: Envelope = ErrorEnvelope(run_id=run_id, session_id=session_id, data=data)
        try:
            await self.sender.put(envelope)
        except SlowConsumerError:
            self._finish(CLOSE_POLICY, "client too slow")


def _explain(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid frame"
    first = errors[0]
    if first["type"] == "union_tag_invalid":
        return "unknown frame type; expected auth, message, stop, resume, subscribe or ping"
    if first["type"] in ("union_tag_not_found", "model_attributes_type"):
        return "a frame must be a JSON object with a 'type'"
    where = ".".join(str(p) for p in first["loc"][1:])  # loc[0] is the frame type
    return f"invalid frame: {where}: {first['msg']}" if where else f"invalid frame: {first['msg']}"
