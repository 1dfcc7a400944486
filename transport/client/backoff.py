"""Reconnection delays: exponential backoff with jitter, and a bounded number of attempts.

The delay before retry ``n`` (0 for the first retry) is ``min(maximum, initial * 2**n)`` scaled
down by up to ``jitter`` (a fraction) at random, so that many clients dropped at once do not all
come back at the same moment. ``sleep`` and ``random`` are injectable for tests.

Example:
    >>> backoff = Backoff(initial=0.5, maximum=4.0, attempts=5, jitter=0.0)
    >>> [backoff.delay(n) for n in range(5)]
    [0.5, 1.0, 2.0, 4.0, 4.0]
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from graphwire.transport.protocol.errors import redact

__all__ = ["Backoff"]

log = logging.getLogger("graphwire.client")


@dataclass(frozen=True)
class Backoff:
    """How long to wait between connection attempts, and how many to make in a row."""

    initial: float = 0.5
    maximum: float = 10.0
    attempts: int = 8
    jitter: float = 0.5
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    random: Callable[[], float] = field(default=_random.random, repr=False)

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < self.initial:
            raise ValueError("backoff delays need 0 <= initial <= maximum")
        if self.attempts < 1:
            raise ValueError("backoff needs at least one attempt")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("backoff jitter is a fraction between 0 and 1")

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        ceiling = min(self.maximum, self.initial * 2.0 ** min(retry, 64))
        return ceiling * (1.0 - self.jitter * self.random())

    async def wait(self, retry: int, *, after: str | None = None) -> None:
        """Sleep before retry number ``retry``; ``after`` (what failed) is logged with the delay.

        The log record (INFO, logger ``graphwire.client``) is how a caller shows progress while
        a server is unreachable: the CLI prints it, an application can route it where it likes.
        """
        delay = self.delay(retry)
        if after is not None:
            log.info(
                "%s; trying again in %.1f s (retry %d of %d)",
                redact(after),  # a URL given with ?token=… must not reach the log
                delay,
                retry + 1,
                self.attempts - 1,
            )
        await self.sleep(delay)
