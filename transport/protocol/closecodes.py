"""The WebSocket close codes of ``/ws/chat`` (``docs/protocol.md`` section 5): one name each,
for the server that closes and the client that reads why.

Example:
    >>> CloseCode.TOO_BIG == 1009
    True
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["CloseCode"]


class CloseCode(IntEnum):
    """Why a ``/ws/chat`` socket closed."""

    IDLE = 1000  # the idle timeout, or a normal close
    ABNORMAL = 1006  # no close frame: the connection dropped (never sent, only seen)
    POLICY = 1008  # no auth in time, token expired, origin refused, or too slow to read
    TOO_BIG = 1009  # a frame above the size limit
    RESTART = 1012  # the server is shutting down; every live run ended first
    TRY_LATER = 1013  # too many connections
