"""The WebSocket adapter's sending half: one bounded queue per connection, no writer task.

Producers (run forwarders, replies to frames) ``put`` envelopes. When nobody is sending, the
producer sends at once itself (no hop through another task: the common case costs one send);
while a send is in progress, envelopes wait in a queue that the sending producer drains in
order. The queue is bounded: a producer that finds it full waits up to ``send_timeout`` and then
gets :class:`SlowConsumerError`, so a client that stops reading costs at most ``queue_size``
envelopes of memory. A send that itself hangs is caught by the connection's watchdog through
:attr:`FrameSender.sending_since`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from transport.protocol import Envelope

__all__ = ["FrameSender", "SlowConsumerError"]


class SlowConsumerError(Exception):
    """The client did not read fast enough."""


class FrameSender:
    """Serialises envelopes to a socket, in order, through a bounded queue."""

    def __init__(
        self,
        send_text: Callable[[str], Awaitable[None]],
        *,
        queue_size: int,
        send_timeout: float,
        on_sent: Callable[[Envelope], None] | None = None,
    ) -> None:
        self._send_text = send_text
        self._queue: deque[Envelope] = deque()
        self._max = queue_size
        self._send_timeout = send_timeout
        self._on_sent = on_sent
        self._writing = False
        self._space = asyncio.Event()
        self._space.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._orphans: set[asyncio.Task[None]] = set()
        self.sending_since: float | None = None
        """Loop time at which the send in progress began (None when idle)."""

    async def put(self, envelope: Envelope) -> None:
        """Send or queue one envelope; :class:`SlowConsumerError` if the queue stays full."""
        while len(self._queue) >= self._max:
            self._space.clear()
            try:
                async with asyncio.timeout(self._send_timeout):
                    await self._space.wait()
            except TimeoutError as exc:
                raise SlowConsumerError("outbound queue full") from exc
        self._queue.append(envelope)
        if not self._writing:
            await self._drain()

    async def flushed(self, within: float) -> bool:
        """Wait until everything queued has been sent; False if that takes over ``within`` s."""
        try:
            async with asyncio.timeout(within):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def _drain(self) -> None:
        self._writing = True
        self._idle.clear()
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                envelope = self._queue.popleft()
                self._space.set()
                self.sending_since = loop.time()
                await self._send_text(envelope.to_json())
                self.sending_since = None
                if self._on_sent is not None:
                    self._on_sent(envelope)
        finally:
            self._writing = False
            self.sending_since = None
            if self._queue:  # the sending producer was cancelled: hand the rest on
                task = asyncio.create_task(self._drain_quietly())
                self._orphans.add(task)
                task.add_done_callback(self._orphans.discard)
            else:
                self._idle.set()

    async def _drain_quietly(self) -> None:
        try:
            if not self._writing:
                await self._drain()
        except Exception:  # the socket is gone; the connection's own loop notices and ends
            self._queue.clear()
            self._idle.set()

    def abandon(self) -> None:
        """Drop what is queued (the connection is closing) and stop any hand-on task."""
        self._queue.clear()
        self._space.set()
        self._idle.set()
        for task in list(self._orphans):
            task.cancel()
