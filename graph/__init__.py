"""The agent graph: state, builder and checkpointers.

Example:
    >>> from graph import build_graph
    >>> graph = build_graph()
"""

from __future__ import annotations

from graph.builder import build_graph
from graph.checkpointers import open_checkpointer
from graph.state import ConversationState

__all__ = ["ConversationState", "build_graph", "open_checkpointer"]
