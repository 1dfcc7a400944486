"""The server's run machinery: from a question to envelopes that outlive connections.

The data path: ``transformer`` turns a graph's ``astream_events`` into envelopes (a pure state
machine); ``inprocess`` is the in-process API (a question in, envelopes out); ``run`` is one run
as a task writing its envelopes to an ``eventlog`` that any number of listeners read from any
``seq``; ``registry`` starts, finds and stops runs; ``sessions`` knows who owns each conversation
and who follows it; ``usage`` estimates token usage when the model reports none.

May import :mod:`graphwire.transport.protocol`, :mod:`graphwire.graph` and
:mod:`graphwire.agents`; never the client or the api.
"""

from __future__ import annotations

from graphwire.transport.runs.inprocess import (
    DURABILITY,
    ask,
    ask_graph,
    run_time_limit,
    stream_answer,
)
from graphwire.transport.runs.transformer import (
    TIME_LIMIT,
    RunTransformer,
    document_to_source,
    transform,
)

__all__ = [
    "DURABILITY",
    "TIME_LIMIT",
    "RunTransformer",
    "ask",
    "ask_graph",
    "document_to_source",
    "run_time_limit",
    "stream_answer",
    "transform",
]
