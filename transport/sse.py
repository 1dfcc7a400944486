"""The SSE adapter: envelopes as server-sent events (``event:`` type, ``id:`` ``run_id:seq``).

Only encoding lives here; sse-starlette's ``EventSourceResponse`` does the framing and pings.

Example:
    >>> to_event(envelope).id        # doctest: +SKIP
    'r_1:7'
"""

from __future__ import annotations

from sse_starlette import ServerSentEvent

from transport.protocol import RunEnvelope

__all__ = ["parse_last_event_id", "to_event"]


def to_event(envelope: RunEnvelope) -> ServerSentEvent:
    """One SSE event for one envelope."""
    return ServerSentEvent(
        data=envelope.to_json(), event=envelope.type, id=f"{envelope.run_id}:{envelope.seq}"
    )


def parse_last_event_id(value: str | None, *, run_id: str) -> int | None:
    """The seq in a ``Last-Event-ID: <run_id>:<seq>`` header for this run, else None.

    >>> parse_last_event_id("r_1:7", run_id="r_1")
    7
    """
    if not value:
        return None
    owner, _, seq = value.strip().rpartition(":")
    if owner != run_id or not seq.isdigit():
        return None
    return int(seq)
