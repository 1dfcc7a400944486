"""What each client frame does on a ``/ws/chat`` connection (``docs/protocol.md`` section 5).

:func:`dispatch` carries out one frame that :func:`graphwire.api.ws.frames.read_frame` has already
read. A frame the server refuses (not authenticated, another user's run, ``BUSY``, a bad token …)
raises :class:`graphwire.transport.protocol.errors.GraphwireError`; the connection sends that as the
frame's ``error`` and stays open.
"""

from __future__ import annotations

from typing import Protocol

from graphwire.api.auth import ANONYMOUS, User
from graphwire.api.intake import address_key, start_run
from graphwire.api.state import AppState
from graphwire.api.ws.listening import RunListeners
from graphwire.api.ws.sender import FrameSender
from graphwire.transport.protocol import (
    AuthFrame,
    AuthSuccessData,
    AuthSuccessEnvelope,
    ClientFrame,
    ErrorCode,
    MessageFrame,
    PingFrame,
    PongEnvelope,
    ResumeFrame,
    StopFrame,
    SubscribeFrame,
    UnsubscribeFrame,
)
from graphwire.transport.protocol.errors import GraphwireError

__all__ = ["Connection", "dispatch"]


class Connection(Protocol):
    """The parts of a connection its frames act on
    (:class:`graphwire.api.ws.connection.ChatConnection`).
    """

    id: str
    state: AppState
    sender: FrameSender
    user: User | None
    listeners: RunListeners | None

    @property
    def address(self) -> str | None:
        """The client's IP address, if the server knows it."""
        ...

    def runs(self) -> RunListeners:
        """The runs the socket listens to, made on first use."""
        ...

    def authenticated(self, user: User) -> None:
        """``user`` proved who they are on this socket."""
        ...


async def dispatch(conn: Connection, frame: ClientFrame) -> None:
    """Do what ``frame`` asks; raises :class:`GraphwireError` when the server refuses it."""
    if isinstance(frame, PingFrame):
        await conn.sender.put(PongEnvelope())
        return
    if isinstance(frame, AuthFrame):
        await _authenticate(conn, frame.token)
        return
    user = _require_user(conn)
    if isinstance(frame, MessageFrame):
        await _start(conn, frame, user)
    elif isinstance(frame, StopFrame):
        await _stop(conn, frame, user)
    elif isinstance(frame, ResumeFrame):
        run = conn.state.registry.get(frame.run_id, user_id=user.id)
        conn.runs().forward(run, after_seq=frame.after_seq, replace=True)
    elif isinstance(frame, SubscribeFrame):
        settings = conn.state.settings
        limits = (settings.max_subscriptions_per_connection, settings.max_subscriptions_per_user)
        quota = user.id if conn.state.auth.enabled else address_key(conn.address)
        await conn.runs().subscribe(frame.session_id, user_id=user.id, quota=quota, limits=limits)
    elif isinstance(frame, UnsubscribeFrame) and conn.listeners is not None:
        conn.listeners.unsubscribe(frame.session_id)


def _require_user(conn: Connection) -> User:
    if conn.user is None:
        raise GraphwireError("authenticate first with an auth frame", code=ErrorCode.AUTH_REQUIRED)
    return conn.user


async def _authenticate(conn: Connection, token: str) -> None:
    auth = conn.state.auth
    if not auth.enabled:
        conn.user = conn.user or ANONYMOUS
        await conn.sender.put(AuthSuccessEnvelope(data=AuthSuccessData(user=ANONYMOUS.public())))
        return
    user = auth.verify(token)
    if conn.user is not None and conn.user.id != user.id:
        raise GraphwireError(
            "this connection is already authenticated as another user",
            code=ErrorCode.FORBIDDEN,
        )
    conn.authenticated(user)
    await conn.sender.put(AuthSuccessEnvelope(data=AuthSuccessData(user=user.public())))


async def _start(conn: Connection, frame: MessageFrame, user: User) -> None:
    run = await start_run(
        conn.state,
        user_id=user.id,
        client_key=conn.id,
        address=conn.address,
        message=frame.message,
        session_id=frame.session_id,
        run_id=frame.run_id,
        options=frame.options,
    )
    conn.runs().start(run)


async def _stop(conn: Connection, frame: StopFrame, user: User) -> None:
    if frame.run_id is not None:
        await conn.state.registry.cancel_for(user_id=user.id, run_id=frame.run_id)
    elif conn.listeners is not None:
        await conn.listeners.stop_started()
