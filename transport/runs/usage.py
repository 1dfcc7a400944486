"""Token usage for ``final`` when the model did not report any.

Some OpenAI-compatible servers send no usage when they stream. Then usage is estimated: the
prompt at about four characters a token (LangChain's approximate counter), the answer at one
token per streamed chunk (such servers send one token per chunk) or, for an answer that came in
one piece, at four characters a token; and it is marked ``estimated``.

Example:
    >>> estimate_usage([HumanMessage("How heavy is it?")], "12 kg.", chunks=3).output_tokens
    3
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.messages.utils import count_tokens_approximately

from graphwire.transport.protocol import Usage

__all__ = ["estimate_usage", "prompt_messages", "reported_usage"]

CHARS_PER_TOKEN = 4.0


def prompt_messages(model_input: Any) -> list[BaseMessage]:
    """The messages of an ``on_chat_model_start`` event's ``input``, however they are nested.

    >>> prompt_messages({"messages": [[HumanMessage("hi")]]})
    [HumanMessage(content='hi', additional_kwargs={}, response_metadata={})]
    """
    if isinstance(model_input, Mapping):
        model_input = model_input.get("messages", [])
    if isinstance(model_input, BaseMessage):
        return [model_input]
    if isinstance(model_input, list | tuple):
        return [m for item in model_input for m in prompt_messages(item)]
    return []


def reported_usage(message: Any) -> Usage | None:
    """The usage a model put on its reply (``usage_metadata``), if it put any there.

    >>> reported_usage(AIMessage("hi")) is None
    True
    """
    usage: Mapping[str, Any] | None = getattr(message, "usage_metadata", None)
    if not usage:
        return None
    return Usage(
        input_tokens=int(usage.get("input_tokens", 0)),
        output_tokens=int(usage.get("output_tokens", 0)),
        total_tokens=int(usage.get("total_tokens", 0)),
    )


def estimate_usage(prompt: list[BaseMessage], text: str, *, chunks: int) -> Usage:
    """Estimated usage of a reply ``text`` streamed in ``chunks`` chunks to ``prompt``."""
    input_tokens = count_tokens_approximately(prompt, chars_per_token=CHARS_PER_TOKEN)
    output_tokens = chunks or math.ceil(len(text) / CHARS_PER_TOKEN)
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
        estimated=True,
    )
