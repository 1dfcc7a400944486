"""The conversations one server process knows: who owns each, its runs here, who follows it.

A conversation belongs to the user who started it. One this process has not seen yet (after a
restart, say) may still be in the checkpointer: the owner stored with it decides, and is
remembered from then on. Claiming is atomic: of two first messages for the same new id, from
one user or two, the first to be checked owns it, and the other is checked against that owner.
Starting runs in one conversation is serialised by :meth:`Sessions.starting`, so two messages
at the same moment cannot both find it idle.

A conversation with no run and no subscriber left here is forgotten; its stored owner still
guards it. :class:`Sessions` is the run registry's book of them.

Example:
    >>> sessions = Sessions(checkpointer=None)
    >>> session = sessions.open("s_1", owner="alice")
    >>> asyncio.run(sessions.check("s_1", user_id="alice"))
    True
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from graphwire.transport.protocol import ErrorCode
from graphwire.transport.protocol.errors import GraphwireError

if TYPE_CHECKING:
    from graphwire.transport.runs.run import Run

__all__ = ["ANONYMOUS_OWNER", "Session", "Sessions", "Subscriber"]

ANONYMOUS_OWNER = "anonymous"  # conversations stored before owners were recorded

Subscriber = Callable[["Run"], None]
"""Told synchronously of each run a conversation starts (it must not wait)."""


@dataclass(eq=False)
class Session:
    """One conversation as this process holds it."""

    owner: str
    runs: list[Run] = field(default_factory=list)  # started or queued, oldest first
    subscribers: dict[Subscriber, str] = field(default_factory=dict)  # → whose quota it uses

    def active_runs(self) -> list[Run]:
        return [r for r in self.runs if r.active]


class Sessions:
    """The conversations of one process, by id; see the module docstring."""

    def __init__(self, checkpointer: BaseCheckpointSaver[Any] | None) -> None:
        self.checkpointer = checkpointer
        self._sessions: dict[str, Session] = {}
        self._starting: dict[str, tuple[asyncio.Lock, int]] = {}  # lock, how many hold or wait
        self._subscriptions: dict[str, int] = {}  # user id → subscriptions held

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions

    def open(self, session_id: str, *, owner: str) -> Session:
        """A new conversation (an id just minted: nothing stored can own it)."""
        session = self._sessions[session_id] = Session(owner=owner)
        return session

    async def check(self, session_id: str, *, user_id: str) -> bool:
        """Whether the conversation exists; ``FORBIDDEN`` if it belongs to someone else."""
        session = self._sessions.get(session_id)
        if session is None:
            owner = await self._stored_owner(session_id)
            if owner is None:
                session = self._sessions.get(session_id)  # claimed while we looked it up?
                if session is None:
                    return False
            else:
                session = self._sessions.setdefault(session_id, Session(owner=owner))
        _check_owner(session, user_id)
        return True

    async def claim(self, session_id: str, *, user_id: str) -> Session:
        """The conversation, which ``user_id`` owns from now on if nobody did (checked first).

        The look-up of a stored owner awaits; whoever claims first once it is done owns the id
        (``setdefault``), so a claim never replaces an owner another claim has just set.
        """
        session = self._sessions.get(session_id)
        if session is None:
            stored = await self._stored_owner(session_id)
            session = self._sessions.setdefault(session_id, Session(owner=stored or user_id))
        _check_owner(session, user_id)
        return session

    @asynccontextmanager
    async def starting(self, session_id: str) -> AsyncIterator[None]:
        """Hold the conversation while a run is started in it (one start at a time)."""
        lock, holders = self._starting.get(session_id) or (asyncio.Lock(), 0)
        self._starting[session_id] = (lock, holders + 1)
        try:
            async with lock:
                yield
        finally:
            lock, holders = self._starting[session_id]
            if holders == 1:
                del self._starting[session_id]
            else:
                self._starting[session_id] = (lock, holders - 1)

    async def subscribe(
        self,
        session_id: str,
        subscriber: Subscriber,
        *,
        user_id: str,
        limit: int,
        quota: str | None = None,
    ) -> None:
        """Tell ``subscriber`` of every run started in ``session_id`` from now on.

        ``RATE_LIMITED`` if the ``quota`` key (``user_id`` unless given: anonymous callers are
        told apart by address) already holds ``limit`` subscriptions, over all sockets.
        """
        quota = quota or user_id
        held = self._subscriptions.get(quota, 0)
        if held >= limit:
            raise GraphwireError(
                f"this user already follows {limit} conversations, the most allowed "
                "(GRAPHWIRE_MAX_SUBSCRIPTIONS_PER_USER); unsubscribe from one first",
                code=ErrorCode.RATE_LIMITED,
            )
        session = await self.claim(session_id, user_id=user_id)
        if subscriber not in session.subscribers:
            session.subscribers[subscriber] = quota
            self._subscriptions[quota] = self._subscriptions.get(quota, 0) + 1

    def unsubscribe(self, session_id: str, subscriber: Subscriber) -> None:
        """Stop telling ``subscriber``; a conversation left with nothing here is forgotten."""
        session = self._sessions.get(session_id)
        if session is None or (quota := session.subscribers.pop(subscriber, None)) is None:
            return
        left = self._subscriptions[quota] - 1
        if left:
            self._subscriptions[quota] = left
        else:
            del self._subscriptions[quota]
        self._forget_if_unused(session_id, session)

    def subscriptions(self, quota: str) -> int:
        """How many subscriptions the user (or anonymous address) ``quota`` holds here."""
        return self._subscriptions.get(quota, 0)

    def active_runs(self, session_id: str) -> list[Run]:
        session = self._sessions.get(session_id)
        return session.active_runs() if session else []

    def pop(self, session_id: str) -> Session | None:
        """Forget the conversation here (its deletion from the checkpointer is the caller's)."""
        return self._sessions.pop(session_id, None)

    def drop_run(self, run: Run) -> None:
        """A run no longer kept; the conversation goes too once nothing of it is left here."""
        session = self._sessions.get(run.session_id)
        if session is not None:
            session.runs.remove(run)
            self._forget_if_unused(run.session_id, session)

    def _forget_if_unused(self, session_id: str, session: Session) -> None:
        if (
            not session.runs
            and not session.subscribers
            and self._sessions.get(session_id) is session
        ):
            del self._sessions[session_id]

    async def _stored_owner(self, session_id: str) -> str | None:
        """The owner the checkpointer holds for the conversation; None if none is stored.

        Read straight from the checkpointer: the graph's ``aget_state`` would also work out
        the next steps of the graph, which costs more than the lookup on every new session.
        """
        if self.checkpointer is None:
            return None
        stored = await self.checkpointer.aget_tuple({"configurable": {"thread_id": session_id}})
        if stored is None:
            return None
        values = stored.checkpoint.get("channel_values") or {}
        if not values.get("messages"):
            return None
        return str(values.get("owner") or ANONYMOUS_OWNER)


def _check_owner(session: Session, user_id: str) -> None:
    if session.owner != user_id:
        raise GraphwireError("this conversation belongs to another user", code=ErrorCode.FORBIDDEN)
