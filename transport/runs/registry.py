"""The run registry: runs as tasks that outlive the connections that started them.

The registry starts each run (:class:`graphwire.transport.runs.run.Run`) as a task that writes the
transformer's envelopes to its own event log, which WebSocket connections, SSE responses and
in-process iterators read from any seq. Runs are serialised per session (``BUSY``, or
``multitask`` ``interrupt`` / ``enqueue``); a run nobody listens to for ``grace`` seconds is
cancelled; a finished run's log is kept ``retention`` seconds. Who owns each conversation, and
who subscribes to it, is :class:`graphwire.transport.runs.sessions.Sessions`
(``registry.sessions``).

Example:
    >>> registry = RunRegistry(graph)                                       # doctest: +SKIP
    >>> run = await registry.start(question="How heavy is it?", user_id="alice")  # doctest: +SKIP
    >>> async for envelope in run.follow(after_seq=-1):                     # doctest: +SKIP
    ...     print(envelope.type)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from langchain_core.runnables import Runnable
from langgraph.checkpoint.base import BaseCheckpointSaver

from graphwire.transport.protocol import EndReason, ErrorCode, Multitask
from graphwire.transport.protocol.errors import GraphwireError, NotFoundError, ShuttingDownError
from graphwire.transport.protocol.ids import check_id, new_run_id, new_session_id
from graphwire.transport.protocol.wirejson import JSONRefused, check_text
from graphwire.transport.runs.eventlog import EventLog, MemoryEventLog
from graphwire.transport.runs.run import RESUME_GRACE, Run
from graphwire.transport.runs.sessions import Session, Sessions

__all__ = ["Multitask", "RunObserver", "RunRegistry"]

log = logging.getLogger("graphwire.runs")


class RunObserver(Protocol):
    """Told about runs starting and ending (metrics implement it)."""

    def run_started(self) -> None: ...
    def run_finished(self, reason: EndReason, first_token_ms: float | None) -> None: ...


class RunRegistry:
    """Starts, tracks, serves and cancels runs; one per server process."""

    def __init__(
        self,
        graph: Runnable[Any, Any],
        *,
        retention: float = 300.0,
        grace: float = RESUME_GRACE,
        max_log_envelopes: int = 20_000,
        run_timeout: float | None = 300.0,
        observer: RunObserver | None = None,
        log_factory: Callable[[str], EventLog] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.graph = graph
        self.retention = retention
        self.grace = grace
        self.run_timeout = run_timeout
        self.observer = observer
        self._log_factory = log_factory or (
            lambda run_id: MemoryEventLog(run_id, max_envelopes=max_log_envelopes)
        )
        self.clock = clock
        self._runs: dict[str, Run] = {}
        self._reserved: dict[str, str] = {}  # client-chosen run ids being started → their user
        saver = getattr(graph, "checkpointer", None)
        self.sessions = Sessions(saver if isinstance(saver, BaseCheckpointSaver) else None)
        self._closing = False
        self._background: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ queries

    @property
    def active_count(self) -> int:
        return sum(r.active for r in self._runs.values())

    @property
    def closing(self) -> bool:
        """True once :meth:`close` began: no run starts any more."""
        return self._closing

    def get(self, run_id: str, *, user_id: str) -> Run:
        """The run ``run_id`` if it is still kept and belongs to ``user_id``."""
        run = self._runs.get(run_id)
        if run is None:
            raise NotFoundError(f"run {run_id} is unknown or no longer kept")
        if run.user_id != user_id:
            raise GraphwireError("this run belongs to another user", code=ErrorCode.FORBIDDEN)
        return run

    # ------------------------------------------------------------------ starting

    async def start(
        self,
        *,
        question: str,
        user_id: str,
        session_id: str | None = None,
        run_id: str | None = None,
        multitask: Multitask = "reject",
    ) -> Run:
        """Start a run (or queue it behind the session's running one).

        Raises ``GraphwireError`` with ``EMPTY_MESSAGE``, ``BUSY``, ``FORBIDDEN`` (another
        user's conversation or run id) or ``INVALID_MESSAGE`` (a malformed id, or a run id
        already in use), or :class:`ShuttingDownError` once :meth:`close` began; nothing is
        started then. A client-chosen run id is reserved before anything awaits, so two starts
        cannot share it; starts in one conversation take turns (:meth:`Sessions.starting`).
        """
        if self._closing:
            raise ShuttingDownError("the server is shutting down; ask again in a moment")
        _check_input(question, session_id, run_id)
        if run_id is not None:
            self._reserve(run_id, user_id)
        try:
            if not session_id:  # a new conversation: nothing stored can own the id we mint
                session_id = new_session_id()
                return await self._start_in(
                    self.sessions.open(session_id, owner=user_id),
                    session_id, question, user_id, run_id, multitask,
                )  # fmt: skip
            async with self.sessions.starting(session_id):
                session = await self.sessions.claim(session_id, user_id=user_id)
                return await self._start_in(
                    session, session_id, question, user_id, run_id, multitask
                )
        finally:
            if run_id is not None:
                self._reserved.pop(run_id, None)

    def _reserve(self, run_id: str, user_id: str) -> None:
        """Hold a client-chosen run id for this start; refused if a run has it already."""
        owner = self._reserved.get(run_id)
        if owner is None and (kept := self._runs.get(run_id)) is not None:
            owner = kept.user_id
        if owner is None:
            self._reserved[run_id] = user_id
        elif owner != user_id:
            raise GraphwireError("this run id belongs to another user", code=ErrorCode.FORBIDDEN)
        else:
            raise GraphwireError(
                f"run id {run_id} is already in use", code=ErrorCode.INVALID_MESSAGE
            )

    async def _start_in(
        self,
        session: Session,
        session_id: str,
        question: str,
        user_id: str,
        run_id: str | None,
        multitask: Multitask,
    ) -> Run:
        running = session.active_runs()
        if running and multitask == "reject":
            raise GraphwireError(
                "a run is still going in this conversation; wait for its end or stop it",
                code=ErrorCode.BUSY,
                retryable=True,
            )
        if running and multitask == "interrupt":
            for other in running:
                await self.cancel(other)
        run_id = run_id or new_run_id()
        run = Run(
            run_id=run_id,
            session_id=session_id,
            user_id=user_id,
            question=question,
            log=self._log_factory(run_id),
            created_at=self.clock(),
            grace=self.grace,
            on_orphaned=self._cancel_orphan,
        )
        previous = session.active_runs()[-1] if multitask == "enqueue" and running else None
        self._runs[run.run_id] = run
        session.runs.append(run)
        run.task = asyncio.create_task(self._execute(run, previous), name=f"run {run.run_id}")
        if self.observer:
            self.observer.run_started()
        for tell in list(session.subscribers):
            try:
                tell(run)
            except Exception:  # one subscriber's failure must not stop the run for the rest
                log.exception("a subscriber of conversation %s failed", session_id)
        run.arm_orphan_timer()
        return run

    async def _execute(self, run: Run, previous: Run | None) -> None:
        try:
            await run.execute(self.graph, previous, time_limit=self.run_timeout)
        finally:
            self._mark_done(run)

    def _mark_done(self, run: Run) -> None:
        if run.finish(self.clock()) and self.observer:
            self.observer.run_finished(run.end_reason or "cancelled", run.first_token_ms)

    async def _settle(self, run: Run) -> None:
        """After its task is gone: a task cancelled before it first ran never wrote its end."""
        if run.active:
            await run.seal()
            self._mark_done(run)

    # ------------------------------------------------------------------ stopping

    async def cancel(self, run: Run) -> None:
        """Stop ``run`` and wait until its ``end`` is logged."""
        if run.task is not None and not run.task.done():
            run.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run.task
        await self._settle(run)

    async def cancel_for(self, *, user_id: str, run_id: str) -> Run:
        run = self.get(run_id, user_id=user_id)
        await self.cancel(run)
        return run

    def _cancel_orphan(self, run: Run) -> None:
        """``run`` went ``grace`` seconds without a listener: cancel it."""
        log.info("run %s had no listener for %.0f s: cancelling it", run.run_id, self.grace)
        task = asyncio.create_task(self.cancel(run))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ housekeeping

    async def forget_session(self, session_id: str, *, user_id: str) -> None:
        """Stop the session's runs and forget it (its conversation is deleted by the caller)."""
        if not await self.sessions.check(session_id, user_id=user_id):
            return
        session = self.sessions.pop(session_id)
        for run in session.runs if session is not None else []:
            await self.cancel(run)
            self._runs.pop(run.run_id, None)

    def sweep(self) -> int:
        """Drop finished runs older than the retention period, and the conversations left
        with no run and no subscriber here; returns how many runs were dropped."""
        now = self.clock()
        expired = [
            r
            for r in self._runs.values()
            if r.finished_at is not None and now - r.finished_at >= self.retention
        ]
        for run in expired:
            del self._runs[run.run_id]
            self.sessions.drop_run(run)
        return len(expired)

    async def sweep_forever(self, interval: float = 5.0) -> None:
        """Run :meth:`sweep` every ``interval`` seconds (a lifespan task)."""
        while True:
            await asyncio.sleep(interval)
            self.sweep()

    async def close(self, wait: float = 5.0) -> None:
        """Refuse new runs and cancel every active one; each logs its ``end``."""
        self._closing = True
        active = [r for r in self._runs.values() if r.active]
        for run in active:
            if run.task is not None:
                run.task.cancel()
        tasks = [r.task for r in active if r.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=wait)
        for run in active:
            await self._settle(run)


def _check_input(question: str, session_id: str | None, run_id: str | None) -> None:
    """What every transport already checked, checked again for in-process callers."""
    try:
        check_text(question)
    except JSONRefused as exc:
        raise GraphwireError(f"the message: {exc}", code=ErrorCode.INVALID_MESSAGE) from None
    if not question.strip():
        raise GraphwireError("the message is empty", code=ErrorCode.EMPTY_MESSAGE)
    for name, value in (("session_id", session_id), ("run_id", run_id)):
        try:
            if value:
                check_id(value)
        except ValueError as exc:
            raise GraphwireError(f"{name}: {exc}", code=ErrorCode.INVALID_MESSAGE) from None
