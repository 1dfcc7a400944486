"""The WebSocket adapter's sending half: one bounded queue and one writer per connection.

Everything a connection sends goes through :class:`FrameSender`: producers (run forwarders,
replies to frames) ``put`` envelopes; one writer task sends them in order. A client that stops
reading fills the queue or stalls a send; after ``send_timeout`` the connection is declared
too slow and closed, so a stuck client costs at most ``queue_size`` envelopes of memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from transport.protocol import Envelope

__all__ = ["FrameSender", "SlowConsumerError"]


class SlowConsumerError(Exception):
    """The client did not read fast enough."""


class FrameSender:
    """Serialises envelopes to a socket through a bounded queue."""

    def __init__(
        self,
        send_text: Callable[[str], Awaitable[None]],
        *,
        queue_size: int,
        send_timeout: float,
        on_sent: Callable[[Any], None] | None = None,
    ) -> None:
        self._send_text = send_text
        self._queue: asyncio.Queue[Envelope | None] = asyncio.Queue(maxsize=queue_size)
        self._send_timeout = send_timeout
        self._on_sent = on_sent
        self.sent = 0

    async def put(self, envelope: Envelope) -> None:
        """Queue one envelope; raises :class:`SlowConsumerError` if the queue stays full."""
        if not self._queue.full():  # the usual case: no waiting, no timer
            self._queue.put_nowait(envelope)
            return
        try:
            async with asyncio.timeout(self._send_timeout):
                await self._queue.put(envelope)
        except TimeoutError as exc:
            raise SlowConsumerError("outbound queue full") from exc

    def close(self) -> None:
        """Let the writer finish what is queued, then stop."""
        with contextlib.suppress(asyncio.QueueFull):  # a stuck writer ends by its own timeout
            self._queue.put_nowait(None)

    async def run(self) -> None:
        """The writer loop; raises :class:`SlowConsumerError` when a send stalls."""
        while True:
            envelope = await self._queue.get()
            if envelope is None:
                return
            try:
                async with asyncio.timeout(self._send_timeout):
                    await self._send_text(envelope.to_json())
            except TimeoutError as exc:
                raise SlowConsumerError("send timed out") from exc
            self.sent += 1
            if self._on_sent is not None:
                self._on_sent(envelope)
