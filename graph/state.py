"""The graph's state: the conversation plus the current turn's routing and sources."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

__all__ = ["ConversationState"]


class ConversationState(TypedDict, total=False):
    """Checkpointed per session (``thread_id``); ``messages`` accumulate over turns."""

    messages: Annotated[list[AnyMessage], add_messages]
    owner: str  # the user the conversation belongs to (set by the server)
    agent: str
    confidence: float
    route_note: str
    follow_up: bool
    sources: list[dict[str, Any]]
