"""A WebSocket connection's deadlines: authenticating in time, the token's expiry, the idle
timeout, and sends that stall because the client stopped reading.

Each is a timer on the event loop, not a polling task, so an idle socket costs no CPU and little
memory. When one passes, the connection hears of it through ``on_deadline``; what it does then
(an error, a close code) is the connection's business.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal, Protocol

from graphwire.api.auth import User
from graphwire.api.settings import Settings
from graphwire.api.ws.sender import FrameSender

__all__ = ["Deadline", "Deadlines", "Watched"]

Deadline = Literal["auth", "expiry", "idle", "stalled"]


class Watched(Protocol):
    """What the deadlines read of their connection, and how they tell it one passed."""

    user: User | None
    last_activity: float
    sender: FrameSender

    @property
    def listening(self) -> bool:
        """True while a run's envelopes may still come (the connection is not idle then)."""
        ...

    def on_deadline(self, deadline: Deadline) -> None: ...


class Deadlines:
    """The four timers of one connection; :meth:`cancel` them all when it closes."""

    __slots__ = ("_auth", "_expiry", "_idle", "_leeway", "_owner", "_send", "_settings")

    def __init__(self, settings: Settings, *, leeway: float) -> None:
        self._owner: Watched | None = None  # set by arm(): a socket refused before holds no cycle
        self._settings = settings
        self._leeway = leeway
        self._auth: asyncio.TimerHandle | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._send: asyncio.TimerHandle | None = None

    def arm(self, owner: Watched) -> None:
        """Start the clocks for ``owner``, a connection just accepted."""
        self._owner, settings = owner, self._settings
        loop = asyncio.get_running_loop()
        if owner.user is None:
            self._auth = loop.call_later(settings.auth_timeout, self._passed, "auth")
        self._arm_expiry(owner.user)
        self._idle = loop.call_later(settings.idle_timeout, self._idle_check)
        self._send = loop.call_later(settings.send_timeout, self._send_check)

    def authenticated(self, user: User) -> None:
        """``user`` authenticated: no more auth deadline; their token's expiry instead."""
        if self._auth is not None:
            self._auth.cancel()
            self._auth = None
        self._arm_expiry(user)

    def cancel(self) -> None:
        """Stop every timer and let go of the connection (no reference cycle is left)."""
        for timer in (self._auth, self._expiry, self._idle, self._send):
            if timer is not None:
                timer.cancel()
        self._auth = self._expiry = self._idle = self._send = None
        self._owner = None

    def _arm_expiry(self, user: User | None) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        expires = user.expires_at if user is not None else None
        if expires is not None:
            delay = max(0.0, expires + self._leeway - time.time())
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_later(delay, self._passed, "expiry")

    def _passed(self, deadline: Deadline) -> None:
        owner = self._owner
        if owner is None:
            return
        if deadline == "auth":
            self._auth = None
            if owner.user is not None:
                return
        owner.on_deadline(deadline)

    def _idle_check(self) -> None:
        owner, timeout = self._owner, self._settings.idle_timeout
        if owner is None:
            return
        listening = owner.listening
        quiet_for = time.monotonic() - owner.last_activity
        if not listening and quiet_for >= timeout:
            self._idle = None
            owner.on_deadline("idle")
            return
        delay = timeout - (0.0 if listening else quiet_for)
        self._idle = asyncio.get_running_loop().call_later(delay, self._idle_check)

    def _send_check(self) -> None:
        """A send blocked for the send timeout means the client stopped reading.

        The next look is due when the send in progress will have blocked that long (or a send
        timeout from now, when nothing is being sent), so a stalled send is noticed one send
        timeout after it began, not up to half a timeout later as with a fixed period.
        """
        owner, timeout = self._owner, self._settings.send_timeout
        if owner is None:
            return
        started, now = owner.sender.sending_since, time.monotonic()
        if started is not None and now - started >= timeout:
            self._send = None
            owner.on_deadline("stalled")
            return
        delay = timeout if started is None else started + timeout - now
        self._send = asyncio.get_running_loop().call_later(delay, self._send_check)
