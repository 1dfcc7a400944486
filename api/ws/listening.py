"""The runs one WebSocket listens to, and how their envelopes reach it.

For each run with envelopes to replay, a forwarder task reads the run's log until it has caught
up; from then on (and at once when there is nothing to replay, as for a run the socket has just
started) the run's own task hands each new envelope straight to the socket (a sink,
:meth:`graphwire.transport.runs.run.Run.push_to`), so a live token costs no task switch. A client
too slow for that goes back to a forwarder, which waits for room in the socket's queue. A session
subscription forwards every run its conversation starts.

A connection makes its :class:`RunListeners` when it first listens to a run: an idle socket
holds none.

Example:
    >>> listeners = RunListeners(registry, sender, on_error=send_error, on_slow=close_slow,
    ...                          on_gone=close_gone)                      # doctest: +SKIP
    >>> listeners.forward(run, after_seq=-1)                              # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

from starlette.websockets import WebSocketDisconnect

from graphwire.api.ws.sender import FrameSender, SlowConsumerError
from graphwire.transport.protocol import ErrorCode, ErrorData
from graphwire.transport.protocol.errors import GraphwireError, describe_exception
from graphwire.transport.runs.registry import RunRegistry
from graphwire.transport.runs.run import Run, Sink
from graphwire.transport.runs.sessions import Subscriber

__all__ = ["SOCKET_GONE", "RunListeners"]

ErrorSender = Callable[[ErrorData, str | None, str | None], Awaitable[None]]

SOCKET_GONE = (WebSocketDisconnect, ConnectionError, RuntimeError)
"""What a send or receive raises when the peer went away (Starlette says so with RuntimeError)."""


class RunListeners:
    """The runs one socket started and listens to; see the module docstring.

    ``on_error`` sends an ``error`` envelope (a replay the log no longer holds), ``on_slow``
    drops a client whose queue stays full, ``on_gone`` ends a connection whose socket failed.
    """

    __slots__ = (
        "closed",
        "forwarders",
        "on_error",
        "on_gone",
        "on_slow",
        "pushing",
        "registry",
        "sender",
        "started",
        "subscriptions",
    )

    def __init__(
        self,
        registry: RunRegistry,
        sender: FrameSender,
        *,
        on_error: ErrorSender,
        on_slow: Callable[[], None],
        on_gone: Callable[[], None],
    ) -> None:
        self.registry = registry
        self.sender = sender
        self.on_error, self.on_slow, self.on_gone = on_error, on_slow, on_gone
        self.forwarders: dict[str, asyncio.Task[None]] = {}
        self.pushing: dict[str, tuple[Run, Sink]] = {}
        self.started: list[Run] = []
        self.subscriptions: dict[str, Subscriber] = {}
        self.closed = False

    @property
    def listening(self) -> bool:
        """Whether a run is still going to this socket (or a conversation is subscribed to)."""
        return (
            any(not t.done() for t in self.forwarders.values())
            or any(run.active for run, _ in self.pushing.values())
            or bool(self.subscriptions)
        )

    def replaying(self) -> list[asyncio.Task[None]]:
        """The forwarders still reading a log (shutdown waits for them to queue the ends)."""
        return [t for t in self.forwarders.values() if not t.done()]

    def start(self, run: Run) -> None:
        """Listen to a run this socket has just started."""
        self.started = [r for r in self.started if r.active]  # (a long-lived socket's history)
        self.started.append(run)
        self.forward(run, after_seq=-1)

    async def stop_started(self) -> None:
        """Cancel every run this socket started that is still going."""
        for run in [r for r in self.started if r.active]:
            await self.registry.cancel(run)

    async def subscribe(
        self, session_id: str, *, user_id: str, quota: str, limits: tuple[int, int]
    ) -> None:
        """Forward the conversation's runs going now and every run it starts from now on.

        ``limits`` are the most subscriptions this socket and its user (the ``quota`` key: the
        user, or an anonymous caller's address) may hold; past either, ``RATE_LIMITED``.
        """
        if session_id in self.subscriptions:
            return
        per_connection, per_user = limits
        if len(self.subscriptions) >= per_connection:
            raise GraphwireError(
                f"this connection already follows {per_connection} conversations, the most "
                "allowed (GRAPHWIRE_MAX_SUBSCRIPTIONS_PER_CONNECTION); unsubscribe from one first",
                code=ErrorCode.RATE_LIMITED,
            )
        tell = self._forward_new_run
        await self.registry.sessions.subscribe(
            session_id, tell, user_id=user_id, limit=per_user, quota=quota
        )
        if self.closed:  # the socket closed while the owner was looked up
            self.registry.sessions.unsubscribe(session_id, tell)
            return
        self.subscriptions[session_id] = tell
        for run in self.registry.sessions.active_runs(session_id):
            self.forward(run, after_seq=-1)

    def unsubscribe(self, session_id: str) -> None:
        """Stop forwarding the conversation's new runs (runs already forwarded carry on)."""
        tell = self.subscriptions.pop(session_id, None)
        if tell is not None:
            self.registry.sessions.unsubscribe(session_id, tell)

    def _forward_new_run(self, run: Run) -> None:
        self.forward(run, after_seq=-1)

    def forward(self, run: Run, *, after_seq: int, replace: bool = False) -> None:
        """Send the run's envelopes after ``after_seq`` on this socket (once per run)."""
        current = self.forwarders.get(run.run_id)
        listening = run.run_id in self.pushing or (current is not None and not current.done())
        if listening and not replace:
            return
        self._stop_pushing(run.run_id)
        if current is not None:
            current.cancel()
            del self.forwarders[run.run_id]
        sink = self._sink(run)
        if run.push_to(sink, after_seq=after_seq):  # nothing to replay
            self.pushing[run.run_id] = (run, sink)
            return
        self.forwarders[run.run_id] = asyncio.create_task(self._pump(run, after_seq, sink))

    def close(self) -> None:
        """Stop listening to everything (the socket is closing); the runs carry on."""
        for task in self.forwarders.values():
            task.cancel()
        for run_id in list(self.pushing):
            self._stop_pushing(run_id)
        self.closed = True
        for session_id in list(self.subscriptions):
            self.unsubscribe(session_id)

    async def _pump(self, run: Run, after_seq: int, sink: Sink) -> None:
        """Read the run's log until caught up, then let the run push to this socket."""
        try:
            async with aclosing(run.follow(after_seq)) as envelopes:
                async for envelope in envelopes:
                    await self.sender.put(envelope)
                    seq = envelope.seq  # no await between reading it and asking to be pushed to
                    if seq is not None and run.push_to(sink, after_seq=seq):
                        self.pushing[run.run_id] = (run, sink)
                        return
        except GraphwireError as exc:  # the log no longer holds that range
            await self.on_error(describe_exception(exc), run.run_id, run.session_id)
        except SlowConsumerError:
            self.on_slow()
        except SOCKET_GONE:
            self.on_gone()  # the socket is gone; the receive loop ends too

    def _sink(self, run: Run) -> Sink:
        """What the run's task calls with each live envelope: send it now, never wait."""

        def deliver(envelope: Any) -> bool:
            if envelope.type == "end":  # the run drops its sinks after its end
                self.pushing.pop(run.run_id, None)
            try:
                if self.sender.offer(envelope):
                    return True
            except SOCKET_GONE:
                self.pushing.pop(run.run_id, None)
                self.on_gone()
                return False
            # The queue is full: this client reads slower than the run writes. Go back to
            # reading the log from this envelope on, at the client's pace (bounded by put).
            self.pushing.pop(run.run_id, None)
            self.forwarders[run.run_id] = asyncio.create_task(
                self._pump(run, envelope.seq - 1, self._sink(run))
            )
            return False

        return deliver

    def _stop_pushing(self, run_id: str) -> None:
        listening = self.pushing.pop(run_id, None)
        if listening is not None:
            run, sink = listening
            run.stop_pushing(sink)
