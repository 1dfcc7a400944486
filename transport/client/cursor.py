"""Where a client is in one run: the last ``seq`` it delivered, so a resume repeats nothing.

Example:
    >>> cursor = RunCursor("r_1")
    >>> cursor.last_seq
    -1
"""

from __future__ import annotations

from graphwire.transport.client.errors import resume_error
from graphwire.transport.protocol import EndEnvelope, RunEnvelope

__all__ = ["RunCursor"]


class RunCursor:
    """Delivers each envelope of run ``run_id`` once, in order, and refuses a gap."""

    def __init__(self, run_id: str, *, after_seq: int = -1) -> None:
        self.run_id = run_id
        self.last_seq = after_seq
        self.session_id: str | None = None
        self.ended = False

    def accept(self, envelope: RunEnvelope) -> bool:
        """Whether ``envelope`` is new (deliver it) or seen before (drop it).

        Raises :class:`~graphwire.transport.client.errors.ResumeError` when envelopes were skipped.
        """
        seq = envelope.seq
        if seq is None or envelope.run_id != self.run_id or seq <= self.last_seq:
            return False
        if seq != self.last_seq + 1:
            raise resume_error(
                f"run {self.run_id} jumped from seq {self.last_seq} to {seq}",
                run_id=self.run_id,
                last_seq=self.last_seq,
            )
        self.last_seq = seq
        self.session_id = envelope.session_id
        self.ended = isinstance(envelope, EndEnvelope)
        return True
