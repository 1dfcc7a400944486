"""Chat models for tests. All go through LangChain's real callback system (BaseChatModel)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

from graphwire.agents.offline_model import OfflineChatModel


def scripted_model(*replies: str) -> GenericFakeChatModel:
    """LangChain's own fake: streams each reply (split on spaces) through the callbacks."""
    return GenericFakeChatModel(messages=iter([AIMessage(content=r) for r in replies]))


class FailingChatModel(BaseChatModel):
    """Streams ``tokens`` then raises ``error``."""

    tokens: list[str]
    error: BaseException

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @property
    def _llm_type(self) -> str:
        return "failing-fake"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise self.error

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for token in self.tokens:
            yield ChatGenerationChunk(message=AIMessageChunk(content=token))
        raise self.error

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for token in self.tokens:
            await asyncio.sleep(0)
            yield ChatGenerationChunk(message=AIMessageChunk(content=token))
        raise self.error


@dataclass
class StreamProbe:
    """What a :class:`ProbedOfflineModel` saw: words sent, and whether its stream was closed."""

    words: int = 0
    started: asyncio.Event = field(default_factory=asyncio.Event)
    closed_early: bool = False
    finished: bool = False
    prompts: list[list[BaseMessage]] = field(default_factory=list)


class ProbedOfflineModel(OfflineChatModel):
    """The offline model, reporting its streaming to a :class:`StreamProbe`."""

    probe: StreamProbe

    model_config = ConfigDict(arbitrary_types_allowed=True)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        self.probe.prompts.append(list(messages))
        self.probe.started.set()
        try:
            async for chunk in super()._astream(messages, stop, run_manager, **kwargs):
                self.probe.words += 1
                yield chunk
            self.probe.finished = True
        finally:
            if not self.probe.finished:
                self.probe.closed_early = True


class NonStreamingModel(BaseChatModel):
    """Answers in one piece (no ``_astream``), like a provider without streaming."""

    reply: str

    @property
    def _llm_type(self) -> str:
        return "non-streaming-fake"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = AIMessage(
            content=self.reply,
            response_metadata={"finish_reason": "stop", "model_name": "one-piece"},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


class FloodModel(BaseChatModel):
    """Streams ``chunks`` chunks of ``size`` characters: an answer far bigger than socket buffers."""

    chunks: int = 5_000
    size: int = 400

    @property
    def _llm_type(self) -> str:
        return "flood-fake"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = AIMessage(content="x" * self.size * self.chunks)
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for i in range(self.chunks):
            if i % 100 == 0:
                await asyncio.sleep(0)
            yield ChatGenerationChunk(message=AIMessageChunk(content="x" * self.size))


class RoutingModel(BaseChatModel):
    """A tool-calling model for the classifier: each call answers with the next of ``replies``,
    a ``(content, arguments)`` pair; ``arguments`` (a JSON string, valid or not) becomes a call of
    the ``route`` tool, ``None`` no call at all. It streams its content word by word and then the
    tool call, like a hosted model; ``bind_tools`` accepts any tools."""

    replies: list[tuple[str, str | None]]
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "routing-fake"

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self

    def _next(self) -> tuple[str, str | None]:
        reply = self.replies[min(self.calls, len(self.replies) - 1)]
        self.calls += 1
        return reply

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        content, arguments = self._next()
        calls = [] if arguments is None else [_route_chunk(arguments)]
        message = AIMessageChunk(content=content, tool_call_chunks=calls)
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        content, arguments = self._next()
        for word in content.split(" "):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=f"{word} "))
            if run_manager:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
        if arguments is not None:
            chunk = ChatGenerationChunk(
                message=AIMessageChunk(content="", tool_call_chunks=[_route_chunk(arguments)])
            )
            yield chunk


def _route_chunk(arguments: str) -> Any:
    return tool_call_chunk(name="route", args=arguments, id="call_fake", index=0)


def routing_model(*replies: tuple[str, str | None]) -> RoutingModel:
    return RoutingModel(replies=list(replies))
