"""The SSE adapter: envelopes as server-sent events (``event:`` type, ``id:`` ``run_id:seq``).

Only encoding lives here; sse-starlette's ``EventSourceResponse`` does the framing and pings.

Example:
    >>> to_event(envelope).id        # doctest: +SKIP
    'r_1:7'
"""

from __future__ import annotations

from sse_starlette import ServerSentEvent

from graphwire.transport.protocol import RunEnvelope

__all__ = ["parse_last_event_id", "to_event"]

_SEQ_DIGITS = 18


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
    # ASCII digits only ('²'.isdigit() is true and int() refuses it), and no more than a seq can
    # have: int() of thousands of digits is slow, and refused past 4,300.
    if owner != run_id or not (seq.isascii() and seq.isdigit()) or len(seq) > _SEQ_DIGITS:
        return None
    return int(seq)
