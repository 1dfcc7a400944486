"""The embedded offline chat model: a real LangChain chat model that needs no key and no network.

It answers extractively from the passages in its system message (see
:mod:`graphwire.agents.extractive`), streams word by word through LangChain's callback system (so
``astream_events`` shows ``on_chat_model_stream`` exactly as with a hosted model) and reports usage
and a finish reason. Its "tokens" are words: usage counts words of the prompt and of the answer.

Example:
    >>> model = OfflineChatModel(token_delay=0)
    >>> model.invoke("hello").content[:30]
    'I could not find anything abou'
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from graphwire.agents.extractive import compose_answer
from graphwire.agents.prompts import parse_passages

__all__ = ["OfflineChatModel"]

_WORD = re.compile(r"\S+\s*")


def _text(message: BaseMessage) -> str:
    return message.content if isinstance(message.content, str) else str(message.text)


class OfflineChatModel(BaseChatModel):
    """Deterministic extractive chat model; ``token_delay`` seconds between streamed words."""

    model_name: str = "graphwire-offline"
    token_delay: float = Field(default=0.02, ge=0.0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_sentences: int = Field(default=3, ge=1)

    @property
    def _llm_type(self) -> str:
        return "graphwire-offline"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "max_sentences": self.max_sentences}

    # ------------------------------------------------------------------ answering

    def _answer(self, messages: Sequence[BaseMessage]) -> tuple[list[str], str, UsageMetadata]:
        """Words of the answer, finish reason and usage for a prompt."""
        system = "\n".join(_text(m) for m in messages if m.type == "system")
        questions = [_text(m) for m in messages if m.type == "human"]
        question = questions[-1] if questions else ""
        context = " ".join(questions[-2:-1])  # the previous question, for follow-ups
        answers = [_text(m) for m in messages if m.type == "ai"]
        answer = compose_answer(
            question,
            parse_passages(system),
            context=context,
            previous_answer=answers[-1] if context and answers else "",
            max_sentences=self.max_sentences,
        )
        words = _WORD.findall(answer)
        finish = "stop"
        if self.max_tokens is not None and len(words) > self.max_tokens:
            words, finish = words[: self.max_tokens], "length"
        prompt_words = sum(len(_WORD.findall(_text(m))) for m in messages)
        usage = UsageMetadata(
            input_tokens=prompt_words,
            output_tokens=len(words),
            total_tokens=prompt_words + len(words),
        )
        return words, finish, usage

    def _metadata(self, finish: str) -> dict[str, Any]:
        return {"finish_reason": finish, "model_name": self.model_name}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        words, finish, usage = self._answer(messages)
        message = AIMessage(
            content="".join(words), usage_metadata=usage, response_metadata=self._metadata(finish)
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        words, finish, usage = self._answer(messages)
        for i, word in enumerate(words):
            if i and self.token_delay:
                time.sleep(self.token_delay)
            yield ChatGenerationChunk(message=AIMessageChunk(content=word))
        yield self._last_chunk(finish, usage)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        words, finish, usage = self._answer(messages)
        for i, word in enumerate(words):
            if i and self.token_delay:
                await asyncio.sleep(self.token_delay)
            yield ChatGenerationChunk(message=AIMessageChunk(content=word))
        yield self._last_chunk(finish, usage)

    def _last_chunk(self, finish: str, usage: UsageMetadata) -> ChatGenerationChunk:
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content="", usage_metadata=usage, response_metadata=self._metadata(finish)
            )
        )
