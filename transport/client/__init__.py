"""The Python client of a graphwire server: the same calls and envelopes over WebSocket and SSE.

``core`` is the asyncio client (:class:`GraphwireClient`), ``ws`` and ``sse`` its two channels,
``cursor`` where a client is in a run (resume from the last ``seq``), ``backoff`` the
reconnection delays, ``errors`` one exception per protocol code, ``sync`` the blocking client for
scripts.

May import :mod:`graphwire.transport.protocol`; nothing else of graphwire (no server code).
"""

from __future__ import annotations

from graphwire.transport.client.core import (
    GraphwireClient,
    History,
    HistoryMessage,
    Transport,
    endpoints,
)
from graphwire.transport.client.errors import (
    AuthenticationError,
    BusyError,
    ConnectionFailedError,
    ForbiddenError,
    InvalidRequestError,
    MessageTooLargeError,
    ModelFailedError,
    NotFoundError,
    RateLimitedError,
    ResumeError,
    RunCancelledError,
    RunFailedError,
    RunTimeoutError,
    ServerError,
    resume_error,
    server_error,
)
from graphwire.transport.client.sync import (
    SyncGraphwireClient,
)

__all__ = [
    "AuthenticationError",
    "BusyError",
    "ConnectionFailedError",
    "ForbiddenError",
    "GraphwireClient",
    "History",
    "HistoryMessage",
    "InvalidRequestError",
    "MessageTooLargeError",
    "ModelFailedError",
    "NotFoundError",
    "RateLimitedError",
    "ResumeError",
    "RunCancelledError",
    "RunFailedError",
    "RunTimeoutError",
    "ServerError",
    "SyncGraphwireClient",
    "Transport",
    "endpoints",
    "resume_error",
    "server_error",
]
