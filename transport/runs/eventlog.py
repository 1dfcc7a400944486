"""Per-run event logs: the run writes its envelopes once, any number of listeners read them.

A listener reads from any position (``after_seq``): the envelopes already logged are replayed,
then it follows live until the run's ``end``. That gives resume after a reconnect, several
listeners on one run and SSE ``Last-Event-ID``. :class:`EventLog` is the interface; a Redis
Streams log for several server processes can implement it without touching the routes.

Example:
    >>> log = MemoryEventLog("r_1", max_envelopes=1000)
    >>> async for envelope in log.follow(after_seq=-1):   # doctest: +SKIP
    ...     print(envelope.seq, envelope.type)
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator
from typing import Protocol

from graphwire.transport.protocol import EndEnvelope, RunEnvelope, restore_envelope
from graphwire.transport.protocol.errors import NotFoundError

__all__ = ["EventLog", "MemoryEventLog"]


class EventLog(Protocol):
    """What the run registry needs of a log."""

    run_id: str

    @property
    def ended(self) -> bool:
        """Whether the run's ``end`` envelope is in the log."""
        ...

    @property
    def last_seq(self) -> int:
        """The seq of the newest envelope; -1 while empty."""
        ...

    @property
    def first_seq(self) -> int:
        """The seq of the oldest envelope still kept."""
        ...

    async def append(self, envelope: RunEnvelope) -> None:
        """Add the next envelope (its seq must be ``last_seq + 1``)."""
        ...

    def follow(self, after_seq: int = -1) -> AsyncGenerator[RunEnvelope, None]:
        """Envelopes with ``seq > after_seq``: replayed, then live, through ``end``.

        Raises :class:`NotFoundError` when part of that range is no longer kept.
        """
        ...


class MemoryEventLog:
    """An in-process log, bounded to ``max_envelopes`` (the oldest are dropped first).

    The log keeps each envelope as its JSON text (made once; every transport sends that text),
    plus, while a reader is inside :meth:`follow`, the objects of the newest few. A run's
    envelopes therefore cost one string each, not a handful of objects the garbage collector
    walks again and again while hundreds of answers stream; a reader further back turns the
    text into an envelope again.
    """

    RECENT = 4
    """How many of the newest envelopes are also kept as objects (for readers a step behind).

    Few on purpose, and none while nobody follows (a socket the run pushes to does not): an
    envelope that outlives a young-generation collection is walked again by every older one,
    and hundreds of answers streaming at once would keep thousands alive.
    """

    def __init__(self, run_id: str, *, max_envelopes: int) -> None:
        self.run_id = run_id
        self._items: deque[str] = deque()
        self._recent: deque[RunEnvelope] = deque(maxlen=self.RECENT)
        self._first_seq = 0
        self._max = max_envelopes
        self._ended = False
        self._appended: asyncio.Event | None = None  # made by the first reader that waits
        self._followers = 0  # readers inside follow(): only they use _recent

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def last_seq(self) -> int:
        return self._first_seq + len(self._items) - 1

    @property
    def first_seq(self) -> int:
        return self._first_seq

    async def append(self, envelope: RunEnvelope) -> None:
        if self._ended:
            raise RuntimeError(f"run {self.run_id} already ended")
        expected = self.last_seq + 1
        if envelope.seq != expected:
            raise ValueError(f"expected seq {expected}, got {envelope.seq}")
        self._items.append(envelope.to_json())
        if self._followers:
            self._recent.append(envelope)
        elif self._recent:  # it must hold the newest envelopes or none
            self._recent.clear()
        if len(self._items) > self._max:
            self._items.popleft()
            self._first_seq += 1
        self._ended = envelope.type == "end"  # (no isinstance: once per token)
        if self._ended:
            self._recent.clear()  # a finished run waits out its retention as text only
        # Wake every waiting reader; the next one to wait makes a fresh event.
        if (appended := self._appended) is not None:
            self._appended = None
            appended.set()

    def _envelope(self, seq: int) -> RunEnvelope:
        back = self.last_seq - seq  # 0 for the newest
        if back < len(self._recent):
            return self._recent[len(self._recent) - 1 - back]
        return restore_envelope(self._items[seq - self._first_seq])

    async def follow(self, after_seq: int = -1) -> AsyncGenerator[RunEnvelope, None]:
        cursor = after_seq + 1
        self._followers += 1
        try:
            while True:
                while cursor <= self.last_seq:
                    if cursor < self._first_seq:  # this reader fell behind the bound
                        raise NotFoundError(
                            f"run {self.run_id} no longer keeps envelopes from seq {cursor}; "
                            f"the oldest kept is {self._first_seq}"
                        )
                    envelope = self._envelope(cursor)
                    cursor += 1
                    yield envelope
                    if isinstance(envelope, EndEnvelope):
                        return
                if self._ended:
                    return
                if self._appended is None:
                    self._appended = asyncio.Event()
                await self._appended.wait()
        finally:
            self._followers -= 1
