"""The WebSocket adapter's sending half, against a socket whose sends the test holds and releases.

The server tests drive it over real sockets; these pin down its order and bounds exactly.
"""

from __future__ import annotations

import asyncio
import gc

import pytest

from graphwire.api.ws.sender import FrameSender, SlowConsumerError
from graphwire.transport.protocol import TextEnvelope


def _text(seq: int) -> TextEnvelope:
    return TextEnvelope.streamed(run_id="r", session_id="s", seq=seq, delta=f"t{seq}", agent="a")


class HeldSocket:
    """Sends complete at once, or, while ``hold`` is set, wait until it is cleared."""

    def __init__(self) -> None:
        self.wire: list[str] = []
        self.open = asyncio.Event()
        self.open.set()

    def hold(self) -> None:
        self.open.clear()

    def release(self) -> None:
        self.open.set()

    async def send_text(self, text: str) -> None:
        await self.open.wait()
        self.wire.append(text)


def _sender(socket: HeldSocket, sent: list[int], size: int = 3) -> FrameSender:
    return FrameSender(
        socket.send_text,
        queue_size=size,
        send_timeout=0.2,
        on_sent=lambda envelope: sent.append(envelope.seq or 0),
    )


async def test_offered_envelopes_go_out_in_order_whether_the_socket_waits_or_not() -> None:
    socket, sent = HeldSocket(), []
    sender = _sender(socket, sent)
    assert sender.offer(_text(0))  # nothing in the way: sent right there, no task
    assert socket.wire == [_text(0).to_json()] and sent == [0]
    socket.hold()
    assert sender.offer(_text(1))  # this send waits for the client ...
    assert sender.sending_since is not None
    assert sender.offer(_text(2)) and sender.offer(_text(3)) and sender.offer(_text(4))
    assert not sender.offer(_text(5))  # ... and the queue behind it holds three: full
    socket.release()
    assert await sender.flushed(1.0)
    assert sent == [0, 1, 2, 3, 4] and sender.sending_since is None
    assert socket.wire == [_text(seq).to_json() for seq in range(5)]
    assert sender.offer(_text(5))  # idle again: straight out
    assert sent[-1] == 5


async def test_put_waits_for_room_then_gives_up_on_a_client_that_stopped_reading() -> None:
    socket, sent = HeldSocket(), []
    sender = _sender(socket, sent, size=1)
    socket.hold()
    first = asyncio.create_task(sender.put(_text(0)))  # the producer sending waits with it
    await asyncio.sleep(0)
    await sender.put(_text(1))  # queued behind it
    waiting = asyncio.create_task(sender.put(_text(2)))  # no room: waits
    await asyncio.sleep(0.05)
    assert not waiting.done()
    socket.release()
    await asyncio.gather(first, waiting)
    assert await sender.flushed(1.0) and sent == [0, 1, 2]
    socket.hold()
    blocked = asyncio.create_task(sender.put(_text(3)))
    await asyncio.sleep(0)
    await sender.put(_text(4))
    with pytest.raises(SlowConsumerError):  # the queue stayed full past the send timeout
        await sender.put(_text(5))
    blocked.cancel()
    await asyncio.gather(blocked, return_exceptions=True)


async def test_an_abandoned_sender_keeps_nothing_of_its_connection() -> None:
    socket, sent = HeldSocket(), []

    class Connection:
        def __init__(self) -> None:
            self.sender = FrameSender(
                socket.send_text, queue_size=4, send_timeout=1.0, on_sent=self.count
            )

        def count(self, envelope: object) -> None:
            sent.append(1)

    gc.disable()  # so that only reference counting can free it
    try:
        connection = Connection()
        connection.sender.offer(_text(0))
        connection.sender.abandon()
        # type(o), not isinstance: a dead weakref.proxy among the objects raises on isinstance
        before = sum(type(o) is Connection for o in gc.get_objects())
        del connection
        after = sum(type(o) is Connection for o in gc.get_objects())
    finally:
        gc.enable()
    assert sent == [1] and (before, after) == (1, 0)


class FailingSocket(HeldSocket):
    """Like :class:`HeldSocket`, but a held send fails once released; records cancellations."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelled = 0

    async def send_text(self, text: str) -> None:
        held = not self.open.is_set()
        try:
            await self.open.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if held:
            raise ConnectionError("the client went away")
        self.wire.append(text)


async def test_a_send_that_had_to_wait_reports_its_failure_and_can_be_cancelled() -> None:
    socket, failures = FailingSocket(), []
    sender = FrameSender(
        socket.send_text, queue_size=3, send_timeout=0.2, on_failure=failures.append
    )
    socket.hold()
    assert sender.offer(_text(0))  # started here, taken over by a task when it had to wait
    socket.release()
    for _ in range(5):
        await asyncio.sleep(0)
    assert [type(f) for f in failures] == [ConnectionError] and socket.wire == []
    assert await sender.flushed(1.0)  # the failed send left the sender idle
    socket.hold()
    assert sender.offer(_text(1))
    sender.abandon()  # the connection closes: the waiting send is cancelled, not left hanging
    for _ in range(5):
        await asyncio.sleep(0)
    assert socket.cancelled == 1 and len(failures) == 1 and socket.wire == []
