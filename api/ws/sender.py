"""The WebSocket adapter's sending half: one bounded queue per connection, no writer task.

Producers ``put`` envelopes (replies to frames, replays from a run's log). When nobody is
sending, the producer sends at once itself (no hop through another task: the common case costs
one send); while a send is in progress, envelopes wait in a queue that the sending producer
drains in order. The queue is bounded: a producer that finds it full waits up to
``send_timeout`` and then gets :class:`SlowConsumerError`, so a client that stops reading costs
at most ``queue_size`` envelopes of memory. A send that itself hangs is caught by the
connection's watchdog through :attr:`FrameSender.sending_since`.

A run's live envelopes come through :meth:`FrameSender.offer` instead, called synchronously by
the run's own task, which must never wait on a client: the send is started right there and
usually completes at once (the socket's buffer has room); only if it has to wait for the
client does a task take the started send over (:func:`run_eagerly`, :class:`Started`) and
drain the queue after it. A full queue is refused, and the caller falls back to ``put``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from graphwire.transport.protocol import Envelope

__all__ = ["FrameSender", "SlowConsumerError", "Started", "run_eagerly"]


class SlowConsumerError(Exception):
    """The client did not read fast enough."""


def run_eagerly(coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run ``coroutine`` in the calling task up to its first suspension.

    If it finishes without suspending (a send into a socket buffer with room), that is all and
    ``None`` is returned: no task, no trip through the event loop. If it suspends, a task takes
    it over from where it stopped and is returned. Exceptions raised before the first suspension
    propagate to the caller. (Python 3.12's eager task factory does this for every task; this is
    the same thing for one call, on 3.11.)
    """
    try:
        pending = coroutine.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(Started(coroutine, pending))


class Started(Coroutine[Any, Any, None]):
    """A coroutine already run up to its first suspension, to be carried on by a task or an
    ``await``.

    Its first step hands the task what the coroutine is waiting on; after that, whatever the
    task sends or throws goes to the coroutine. A cancellation therefore reaches the coroutine
    even before the task has taken a step (a fresh coroutine wrapping it would swallow that).
    """

    __slots__ = ("_coroutine", "_pending", "_started")

    def __init__(self, coroutine: Coroutine[Any, Any, None], pending: Any) -> None:
        self._coroutine = coroutine
        self._pending: Any = pending
        self._started = False

    def send(self, value: Any) -> Any:
        if not self._started:  # the first step: report what the coroutine waits for
            self._started = True
            pending, self._pending = self._pending, None
            return pending
        return self._coroutine.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        self._started = True
        self._pending = None
        return self._coroutine.throw(typ, val, tb)

    def close(self) -> None:
        self._coroutine.close()

    def __await__(self) -> Generator[Any, Any, None]:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                pending = self.send(value) if error is None else self.throw(error)
            except StopIteration:
                return
            try:
                value, error = (yield pending), None
            except GeneratorExit:
                self.close()
                raise
            except BaseException as exc:  # handed on to the coroutine
                value, error = None, exc


class FrameSender:
    """Serialises envelopes to a socket, in order, through a bounded queue.

    An idle connection holds one of these, so it keeps no queue, event or task set until it
    needs one (with thousands of idle sockets, each empty ``deque`` or ``asyncio.Event`` costs
    about 0.6 KiB).
    """

    __slots__ = (
        "_idle",
        "_max",
        "_on_failure",
        "_on_sent",
        "_orphans",
        "_queue",
        "_send_text",
        "_send_timeout",
        "_space",
        "_writing",
        "sending_since",
    )

    def __init__(
        self,
        send_text: Callable[[str], Coroutine[Any, Any, None]],
        *,
        queue_size: int,
        send_timeout: float,
        on_sent: Callable[[Envelope], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._send_text = send_text
        self._queue: deque[Envelope] | None = None
        self._max = queue_size
        self._send_timeout = send_timeout
        self._on_sent = on_sent
        self._on_failure = on_failure
        self._writing = False
        self._space: asyncio.Event | None = None  # set when a full queue has room again
        self._idle: asyncio.Event | None = None  # set when nothing is queued or being sent
        self._orphans: set[asyncio.Task[None]] | None = None
        self.sending_since: float | None = None
        """``time.monotonic()`` when the send in progress began (None when idle)."""

    def _pending(self) -> deque[Envelope]:
        if self._queue is None:
            self._queue = deque()
        return self._queue

    async def put(self, envelope: Envelope) -> None:
        """Send or queue one envelope; :class:`SlowConsumerError` if the queue stays full."""
        queue = self._pending()
        while len(queue) >= self._max:
            space = self._space = self._space or asyncio.Event()
            space.clear()
            try:
                async with asyncio.timeout(self._send_timeout):
                    await space.wait()
            except TimeoutError as exc:
                raise SlowConsumerError("outbound queue full") from exc
        if self._writing or queue:
            queue.append(envelope)
        else:
            await self._drain(envelope)

    def offer(self, envelope: Envelope) -> bool:
        """Send or queue ``envelope`` without waiting; False (nothing done) if the queue is full.

        Meant for a producer that must not wait on this client (a run's own task). A send that
        fails at once raises here; one that fails later is reported to ``on_failure``.
        """
        queue = self._queue
        if self._writing or queue:  # a send is going on: join the queue behind it
            queue = self._pending()
            if len(queue) >= self._max:
                return False
            queue.append(envelope)
            return True
        sending = self._send_text(envelope.to_json())
        try:
            waiting = sending.send(None)
        except StopIteration:  # sent at once: the socket's buffer had room (the usual case)
            if self._on_sent is not None:
                self._on_sent(envelope)
            return True
        # The send waits for the client: a task finishes it, then sends what queues meanwhile
        # (started here, so that a cancellation reaches the send even before the task runs).
        self.sending_since = time.monotonic()
        task = run_eagerly(self._drain(envelope, Started(sending, waiting)))
        if task is not None:
            self._keep(task)
            task.add_done_callback(self._finished_later)
        return True

    def _keep(self, task: asyncio.Task[None]) -> None:
        orphans = self._orphans = self._orphans or set()
        orphans.add(task)
        task.add_done_callback(orphans.discard)

    def _finished_later(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None and self._on_failure:
            self._on_failure(exc)

    async def flushed(self, within: float) -> bool:
        """Wait until everything queued has been sent; False if that takes over ``within`` s."""
        if not self._writing and not self._queue:
            return True
        idle = self._idle = self._idle or asyncio.Event()
        try:
            async with asyncio.timeout(within):
                await idle.wait()
        except TimeoutError:
            return False
        return True

    async def _drain(self, first: Envelope | None = None, started: Started | None = None) -> None:
        """Send ``first`` (one that skipped the empty queue), then whatever is queued.

        ``started`` is ``first``'s send when :meth:`offer` has already begun it.
        """
        self._writing = True
        if self._idle is not None:
            self._idle.clear()
        queue = self._queue
        envelope = first
        try:
            while True:
                if envelope is None:
                    if not queue:
                        break
                    envelope = queue.popleft()
                    if self._space is not None:
                        self._space.set()
                if started is not None:  # sending_since was set when it began
                    sending, started = started, None
                    await sending
                else:
                    self.sending_since = time.monotonic()
                    await self._send_text(envelope.to_json())
                self.sending_since = None
                if self._on_sent is not None:
                    self._on_sent(envelope)
                envelope = None
                queue = self._queue  # a producer may have made it meanwhile
        finally:
            self._writing = False
            self.sending_since = None
            if self._queue:  # the sending producer was cancelled: hand the rest on
                self._keep(asyncio.create_task(self._drain_quietly()))
            else:
                self._set_idle()

    def _set_idle(self) -> None:
        if self._idle is not None:
            self._idle.set()

    async def _drain_quietly(self) -> None:
        try:
            if not self._writing:
                await self._drain()
        except Exception:  # the socket is gone; the connection's own loop notices and ends
            if self._queue is not None:
                self._queue.clear()
            self._set_idle()

    def abandon(self) -> None:
        """Drop what is queued (the connection is closing) and stop any hand-on task.

        The callbacks are dropped too: they usually belong to the connection that holds this
        sender, and keeping them would make the two a cycle that only the collector frees.
        """
        self._on_sent = self._on_failure = None
        if self._queue is not None:
            self._queue.clear()
        if self._space is not None:
            self._space.set()
        self._set_idle()
        for task in list(self._orphans or ()):
            task.cancel()
