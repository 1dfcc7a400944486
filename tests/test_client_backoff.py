"""Reconnection delays against servers that refuse: exponential, jittered, bounded, then a typed error.

Sleeping and randomness are injected: the recorded delays are checked against
``[initial * 2**n * (1 - jitter), min(max_delay, initial * 2**n)]``, with no wall clock involved
(except one loose lower bound with the real ``asyncio.sleep``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from graphwire.transport.client.backoff import Backoff
from graphwire.transport.client.core import GraphwireClient, Transport
from graphwire.transport.client.errors import ConnectionFailedError
from graphwire.transport.protocol import RunEnvelope

INITIAL, MAXIMUM, JITTER, ATTEMPTS = 0.1, 0.5, 0.5, 6


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once the socket is closed


@asynccontextmanager
async def hanging_up() -> AsyncIterator[int]:
    """A listener that accepts every connection and closes it at once."""

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def address(port: int, transport: Transport) -> str:
    return f"ws://127.0.0.1:{port}/ws/chat" if transport == "ws" else f"http://127.0.0.1:{port}"


def assert_backoff(delays: list[float], *, after_drop: bool = False) -> None:
    # No wait before the first attempt and none after the last; a connection that dropped is
    # re-opened after a wait, which makes one more when the drop was seen before the run began.
    counts = (ATTEMPTS - 1, ATTEMPTS) if after_drop else (ATTEMPTS - 1,)
    assert len(delays) in counts, delays
    for n, delay in enumerate(delays):
        ceiling = min(MAXIMUM, INITIAL * 2**n)
        assert ceiling * (1 - JITTER) <= delay <= ceiling, (n, delay)
    assert delays[-1] <= MAXIMUM


async def refused(port: int, transport: Transport, **options: object) -> list[float]:
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)

    client = GraphwireClient(address(port, transport), initial_delay=INITIAL, max_delay=MAXIMUM,
                             jitter=JITTER, max_attempts=ATTEMPTS, sleep=record, timeout=5,
                             **options)  # type: ignore[arg-type]  # fmt: skip
    with pytest.raises(ConnectionFailedError) as failed:
        async with client:
            pass
    assert failed.value.attempts == ATTEMPTS and failed.value.retryable
    return delays


@pytest.mark.parametrize("transport", ["ws", "sse"])
async def test_a_closed_port_is_retried_with_jittered_exponential_backoff(
    transport: Transport,
) -> None:
    assert_backoff(await refused(closed_port(), transport))


@pytest.mark.parametrize("transport", ["ws", "sse"])
async def test_a_listener_that_hangs_up_is_retried_the_same_way(transport: Transport) -> None:
    async with hanging_up() as port:
        assert_backoff(await refused(port, transport))


@pytest.mark.parametrize("transport", ["ws", "sse"])
async def test_the_jitter_spans_its_whole_range(transport: Transport) -> None:
    dice = iter([0.0, 1.0, 0.5, 0.25, 0.75])
    delays = await refused(closed_port(), transport, random=lambda: next(dice))
    assert delays == pytest.approx([0.1, 0.1, 0.3, 0.5 * 0.875, 0.5 * 0.625])


@pytest.mark.parametrize("transport", ["ws", "sse"])
async def test_each_retry_is_logged_with_what_failed_and_never_the_token(
    transport: Transport, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="graphwire.client")
    port = closed_port()
    url = f"{address(port, transport)}?token=sekrit-token-123"
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)

    client = GraphwireClient(url, initial_delay=INITIAL, max_delay=MAXIMUM, jitter=JITTER,
                             max_attempts=ATTEMPTS, sleep=record, timeout=5)  # fmt: skip
    with pytest.raises(ConnectionFailedError) as failed:
        async with client:
            pass
    retries = [r.getMessage() for r in caplog.records if r.name == "graphwire.client"]
    assert len(retries) == len(delays) == ATTEMPTS - 1
    for n, (line, delay) in enumerate(zip(retries, delays, strict=True), start=1):
        assert f"127.0.0.1:{port}" in line, line
        assert f"trying again in {delay:.1f} s (retry {n} of {ATTEMPTS - 1})" in line, line
    assert "sekrit" not in " ".join(retries) + str(failed.value)


async def test_the_real_clock_waits_at_least_the_delays() -> None:
    client = GraphwireClient(address(closed_port(), "ws"), initial_delay=0.05, max_delay=1,
                             jitter=0, max_attempts=3)  # fmt: skip
    started = time.monotonic()
    with pytest.raises(ConnectionFailedError):
        async with client:
            pass
    assert time.monotonic() - started >= 0.05 + 0.1  # a loose lower bound, never an upper one


@pytest.mark.parametrize("transport", ["ws", "sse"])
async def test_a_run_whose_server_went_away_fails_typed_after_the_attempts(
    transport: Transport,
) -> None:
    """A run (not only the first connection) gives up with the same policy."""
    from tests.server import running

    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)

    with running() as live:
        client = GraphwireClient(address(live.port, transport), initial_delay=INITIAL, max_delay=MAXIMUM,
                                 jitter=JITTER, max_attempts=ATTEMPTS, sleep=record)  # fmt: skip
        await client.__aenter__()
    # The server has stopped: asking now meets a closed port.
    seen: list[RunEnvelope] = []
    try:
        with pytest.raises(ConnectionFailedError):
            async for envelope in client.stream("What does error F3 mean?"):
                seen.append(envelope)
    finally:
        await client.__aexit__(None, None, None)
    assert not seen
    assert_backoff(delays, after_drop=transport == "ws")


def test_backoff_settings_are_checked() -> None:
    for bad in ({"initial": -1}, {"initial": 2, "maximum": 1}, {"attempts": 0}, {"jitter": 1.5}):
        with pytest.raises(ValueError):
            Backoff(**bad)  # type: ignore[arg-type]
