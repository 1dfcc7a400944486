"""graphwire's transport: the wire protocol, the transformer, the in-process API and the client.

``stream_answer``, ``ask``, ``transform`` and the clients are imported on first use, so that
importing the protocol types imports neither the graph nor the network libraries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transport.errors import ConfigurationError, GraphwireError, describe_exception
from transport.protocol import PROTOCOL, ErrorCode, parse_client_frame, parse_envelope

if TYPE_CHECKING:
    from transport.client import GraphwireClient
    from transport.inprocess import ask, stream_answer
    from transport.syncclient import SyncGraphwireClient
    from transport.transformer import RunTransformer, transform

__all__ = [
    "PROTOCOL",
    "ConfigurationError",
    "ErrorCode",
    "GraphwireClient",
    "GraphwireError",
    "RunTransformer",
    "SyncGraphwireClient",
    "ask",
    "describe_exception",
    "parse_client_frame",
    "parse_envelope",
    "stream_answer",
    "transform",
]

_LAZY = {
    "ask": "transport.inprocess",
    "stream_answer": "transport.inprocess",
    "transform": "transport.transformer",
    "RunTransformer": "transport.transformer",
    "GraphwireClient": "transport.client",
    "SyncGraphwireClient": "transport.syncclient",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'transport' has no attribute {name!r}")
