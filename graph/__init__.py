"""The agent graph: state, builder and checkpointers.

Example:
    >>> from graph import build_graph
    >>> graph = build_graph()
"""

from __future__ import annotations

from graphwire.graph.builder import build_graph
from graphwire.graph.checkpointers import open_checkpointer
from graphwire.graph.state import ConversationState

__all__ = ["ConversationState", "build_graph", "open_checkpointer"]
