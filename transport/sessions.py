"""The conversations one server process knows: who owns each, its runs here, who follows it.

A conversation belongs to the user who started it. One this process has not seen yet (after a
restart, say) may still be in the checkpointer: the owner stored with it decides, and is
remembered from then on. A conversation with no run and no subscriber left here is forgotten;
its stored owner still guards it. :class:`Sessions` is the run registry's book of them.

Example:
    >>> sessions = Sessions(checkpointer=None)
    >>> session = sessions.open("s_1", owner="alice")
    >>> asyncio.run(sessions.check("s_1", user_id="alice"))
    True
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from transport.errors import GraphwireError
from transport.protocol import ErrorCode

if TYPE_CHECKING:
    from transport.run import Run

__all__ = ["ANONYMOUS_OWNER", "Session", "Sessions"]

ANONYMOUS_OWNER = "anonymous"  # conversations stored before owners were recorded


@dataclass(eq=False)
class Session:
    """One conversation as this process holds it."""

    owner: str
    runs: list[Run] = field(default_factory=list)  # started or queued, oldest first
    subscribers: set[asyncio.Queue[Run]] = field(default_factory=set)

    def active_runs(self) -> list[Run]:
        return [r for r in self.runs if r.active]


class Sessions:
    """The conversations of one process, by id; see the module docstring."""

    def __init__(self, checkpointer: BaseCheckpointSaver[Any] | None) -> None:
        self.checkpointer = checkpointer
        self._sessions: dict[str, Session] = {}

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
                return False
            session = self._sessions.setdefault(session_id, Session(owner=owner))
        if session.owner != user_id:
            raise GraphwireError(
                "this conversation belongs to another user", code=ErrorCode.FORBIDDEN
            )
        return True

    async def claim(self, session_id: str, *, user_id: str) -> Session:
        """The conversation, which ``user_id`` owns from now on if nobody did (checked first)."""
        if not await self.check(session_id, user_id=user_id):
            return self.open(session_id, owner=user_id)
        return self._sessions[session_id]

    async def subscribe(self, session_id: str, *, user_id: str) -> asyncio.Queue[Run]:
        """A queue that receives every run started in ``session_id`` from now on."""
        session = await self.claim(session_id, user_id=user_id)
        queue: asyncio.Queue[Run] = asyncio.Queue()
        session.subscribers.add(queue)
        return queue

    def unsubscribe(self, session_id: str, queue: asyncio.Queue[Run]) -> None:
        session = self._sessions.get(session_id)
        if session is not None:
            session.subscribers.discard(queue)

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
            if not session.runs and not session.subscribers:
                del self._sessions[run.session_id]

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
