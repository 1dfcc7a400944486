"""The specialist's prompt: its system prompt, the retrieved passages, the conversation.

Passages travel inside the system message in a small tagged format that any chat model can read
and that :func:`parse_passages` reads back (the offline model answers from them).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.documents import Document
from langchain_core.messages import BaseMessage, SystemMessage, trim_messages
from langchain_core.messages.utils import count_tokens_approximately

from graphwire.agents.packs import AgentSpec

__all__ = [
    "Passage",
    "build_answer_messages",
    "format_passages",
    "parse_passages",
    "trim_history",
]

INSTRUCTIONS = (
    "Answer only from the passages below. Cite each fact with the id of its passage in square "
    "brackets, like [specs/motor#2]. If the passages do not contain the answer, say plainly that "
    "the knowledge base has nothing on it."
)

_PASSAGE = re.compile(
    r'<passage id="(?P<id>[^"]*)" title="(?P<title>[^"]*)">\n(?P<text>.*?)\n</passage>', re.S
)


@dataclass(frozen=True, slots=True)
class Passage:
    id: str
    title: str
    text: str


def format_passages(docs: Sequence[Document]) -> str:
    """The passages block of the system message."""
    parts = [
        f'<passage id="{html.escape(str(d.metadata.get("id", "")))}" '
        f'title="{html.escape(str(d.metadata.get("title", "")))}">\n{d.page_content}\n</passage>'
        for d in docs
    ]
    return "<passages>\n" + "\n".join(parts) + "\n</passages>"


def parse_passages(text: str) -> list[Passage]:
    """The passages of a system message made with :func:`format_passages`, in order."""
    return [
        Passage(html.unescape(m["id"]), html.unescape(m["title"]), m["text"])
        for m in _PASSAGE.finditer(text)
    ]


def build_answer_messages(
    agent: AgentSpec, docs: Sequence[Document], history: Sequence[BaseMessage]
) -> list[BaseMessage]:
    """System prompt with passages, then the conversation (whose last message is the question)."""
    system = f"{agent.system_prompt.strip()}\n\n{INSTRUCTIONS}\n\n{format_passages(docs)}"
    return [SystemMessage(system), *history]


def trim_history(history: Sequence[BaseMessage], *, max_tokens: int) -> list[BaseMessage]:
    """The latest whole turns of ``history`` that fit ``max_tokens`` (counted approximately,
    about four characters a token), starting with a question; ``[]`` when none fits.

    >>> old, recent = [HumanMessage("a" * 400), AIMessage("b")], [HumanMessage("c"), AIMessage("d")]
    >>> trim_history([*old, *recent], max_tokens=20) == recent
    True
    """
    if max_tokens <= 0 or not history:
        return []
    return trim_messages(
        list(history),
        max_tokens=max_tokens,
        token_counter=count_tokens_approximately,
        strategy="last",
        start_on="human",
        allow_partial=False,
    )
