"""graphwire's transport: the wire protocol, the transformer and the in-process API.

``stream_answer``, ``ask`` and ``transform`` are imported on first use, so that importing the
protocol types does not import the graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transport.errors import ConfigurationError, GraphwireError, describe_exception
from transport.protocol import PROTOCOL, ErrorCode, parse_client_frame, parse_envelope

if TYPE_CHECKING:
    from transport.inprocess import ask, stream_answer
    from transport.transformer import RunTransformer, transform

__all__ = [
    "PROTOCOL",
    "ConfigurationError",
    "ErrorCode",
    "GraphwireError",
    "RunTransformer",
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
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'transport' has no attribute {name!r}")
