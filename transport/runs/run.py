"""One run: a question, the task that answers it, its event log, and who listens to it.

A run writes the transformer's envelopes to its log and hands each, as it is logged, to its live
sinks (caught-up sockets), none of which may wait. Readers that are not caught up read the log
at their own pace (:meth:`Run.follow`). Every reader and sink counts as a listener; a run left
with none for ``grace`` seconds is reported to ``on_orphaned`` (the registry cancels it).
Starting, serialising and stopping runs is :class:`graphwire.transport.runs.registry.RunRegistry`'s
job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import Runnable

from graphwire.transport.protocol import EndEnvelope, EndReason, RunEnvelope
from graphwire.transport.runs.eventlog import EventLog
from graphwire.transport.runs.inprocess import ask_graph, run_time_limit
from graphwire.transport.runs.transformer import TIME_LIMIT, RunTransformer, transform

RESUME_GRACE = 30.0
"""Seconds a run with no listener keeps going, waiting for a client to resume (the default of
``GRAPHWIRE_RESUME_GRACE``)."""

__all__ = ["RESUME_GRACE", "Run", "Sink"]

log = logging.getLogger("graphwire.runs")

Sink = Callable[[RunEnvelope], bool]
"""Takes a run's live envelope synchronously from the run's task, without waiting; returns
False to be dropped (it could not keep up and goes back to reading the log)."""


@dataclass(eq=False)
class Run:
    """One question and the graph's answer to it."""

    run_id: str
    session_id: str
    user_id: str
    question: str
    log: EventLog
    created_at: float
    grace: float = RESUME_GRACE
    """Seconds a run may go without a listener before ``on_orphaned`` hears of it."""
    on_orphaned: Callable[[Run], None] | None = None
    task: asyncio.Task[None] | None = None
    finished_at: float | None = None
    listeners: int = 0
    end_reason: EndReason | None = None
    first_token_ms: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    sinks: tuple[Sink, ...] = ()  # replaced, never changed in place: safe to loop over
    _orphan_timer: asyncio.TimerHandle | None = None

    @property
    def active(self) -> bool:
        return not self.done.is_set()

    @property
    def first_seq(self) -> int:
        """The oldest ``seq`` its log still keeps (a replay from before it has a gap)."""
        return self.log.first_seq

    @property
    def last_seq(self) -> int:
        """The newest ``seq`` logged so far; -1 before the first envelope."""
        return self.log.last_seq

    # ------------------------------------------------------------------ answering

    async def execute(
        self, graph: Runnable[Any, Any], previous: Run | None, *, time_limit: float | None
    ) -> None:
        """Wait for ``previous`` (an enqueued run), then answer, logging every envelope.

        However the run stops (its end, a failure, a cancellation, ``time_limit``), its log
        gets an ``end``; a cancellation other than the time limit is raised on afterwards.
        """
        try:
            if previous is not None:
                await previous.done.wait()
            events = ask_graph(graph, self.question, session_id=self.session_id, owner=self.user_id)
            envelopes = transform(events, run_id=self.run_id, session_id=self.session_id)
            with run_time_limit(time_limit):
                async with aclosing(envelopes):  # closing it closes the graph's stream too
                    async for envelope in envelopes:
                        # (by type, not isinstance: pydantic models check through ABCMeta,
                        # and this runs once per token)
                        if envelope.type == "final":
                            self.first_token_ms = envelope.data.timing.first_token_ms
                        elif envelope.type == "end":
                            self.end_reason = envelope.data.reason
                        await self.record(envelope)
        except asyncio.CancelledError as exc:
            if not (exc.args and exc.args[0] == TIME_LIMIT):
                await self.seal()
                raise
            # The time limit struck between two envelopes rather than inside the transformer.
            if (task := asyncio.current_task()) is not None:
                task.uncancel()
            await self.seal(error=TimeoutError())
        except Exception as exc:  # transform turns graph failures into envelopes; this is ours
            await self.seal(error=exc)  # describe_exception logs it, redacted

    async def seal(self, *, error: BaseException | None = None) -> None:
        """Write the ending a run interrupted outside the transformer did not get to write:
        ``error`` + ``end`` for an exception, else ``end`` ``cancelled``, numbered on from the log.
        """
        if self.log.ended:
            return
        machine = RunTransformer(
            run_id=self.run_id, session_id=self.session_id, start_seq=self.log.last_seq + 1
        )
        for envelope in machine.fail(error) if error is not None else machine.cancel():
            if isinstance(envelope, EndEnvelope):
                self.end_reason = envelope.data.reason
            await self.record(envelope)

    async def record(self, envelope: RunEnvelope) -> None:
        """Log ``envelope``, then hand it to the live sinks (in order, none waits)."""
        await self.log.append(envelope)
        if self.sinks:
            for sink in self.sinks:
                try:
                    keep = sink(envelope)
                except Exception:  # one listener's failure must not end the run for the rest
                    log.exception("a listener of run %s failed; dropping it", self.run_id)
                    keep = False
                if not keep:
                    self.stop_pushing(sink)
            if envelope.type == "end":
                for sink in self.sinks:
                    self.stop_pushing(sink)

    def finish(self, now: float) -> bool:
        """Mark the run done at ``now``; False if it already was."""
        if self.done.is_set():
            return False
        self.finished_at = now
        self.done.set()
        self._disarm()  # nothing left to cancel
        return True

    # ------------------------------------------------------------------ listening

    async def follow(self, after_seq: int = -1) -> AsyncGenerator[RunEnvelope, None]:
        """The envelopes after ``after_seq``, replayed then live, while counted a listener."""
        self.attach()
        try:
            async with aclosing(self.log.follow(after_seq)) as envelopes:
                async for envelope in envelopes:
                    yield envelope
        finally:
            self.detach()

    def push_to(self, sink: Sink, *, after_seq: int) -> bool:
        """Hand ``sink`` the envelopes after ``after_seq`` as they are logged.

        Only possible once a reader has caught up (``after_seq`` is the newest logged seq) with a
        run still going, and it must be asked with no ``await`` since that seq was read; returns
        False otherwise (keep reading with :meth:`follow`). A sink counts as a listener until
        the run ends, it returns False, or :meth:`stop_pushing`.
        """
        if not self.active or self.log.ended or self.log.last_seq != after_seq:
            return False
        self.sinks = (*self.sinks, sink)
        self.attach()
        return True

    def stop_pushing(self, sink: Sink) -> None:
        """Stop handing ``sink`` envelopes (nothing happens if it no longer gets any)."""
        if sink in self.sinks:
            self.sinks = tuple(s for s in self.sinks if s is not sink)
            self.detach()

    def attach(self) -> None:
        """Count one more listener."""
        self.listeners += 1
        self._disarm()

    def detach(self) -> None:
        """Count one listener fewer; with none left, the grace period starts."""
        self.listeners -= 1
        self.arm_orphan_timer()

    def arm_orphan_timer(self) -> None:
        """With no listener, tell ``on_orphaned`` after the grace period, unless one comes back."""
        if self._orphan_timer is not None or self.listeners > 0:
            return
        if self.log.ended or not self.active:
            return
        loop = asyncio.get_running_loop()
        self._orphan_timer = loop.call_later(self.grace, self._orphaned)

    def _disarm(self) -> None:
        if self._orphan_timer is not None:
            self._orphan_timer.cancel()
            self._orphan_timer = None

    def _orphaned(self) -> None:
        self._orphan_timer = None
        if self.listeners == 0 and self.active and self.on_orphaned is not None:
            self.on_orphaned(self)
