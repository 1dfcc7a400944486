"""The transformer: ``graph.astream_events(version="v2")`` in, graphwire.v1 run envelopes out.

:class:`RunTransformer` is a pure state machine (events in, envelopes out; it knows nothing of
sockets or tasks); :func:`transform` is the thin async driver that feeds it, closes the event
stream deterministically and turns the way the stream ended into ``final``/``error``/``end``.

Example:
    >>> events = graph.astream_events(inputs, config, version="v2")     # doctest: +SKIP
    >>> async for envelope in transform(events, run_id="r_1", session_id="s_1"):  # doctest: +SKIP
    ...     print(envelope.to_wire())
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, cast

from langchain_core.documents import Document
from langchain_core.messages import BaseMessage

from graphwire.transport.protocol import (
    EndData,
    EndEnvelope,
    EndReason,
    ErrorEnvelope,
    FinalData,
    FinalEnvelope,
    RunEnvelope,
    Source,
    SourcesData,
    SourcesEnvelope,
    StepName,
    StepStatus,
    TextEnvelope,
    Timing,
    WorkflowStepData,
    WorkflowStepEnvelope,
)
from graphwire.transport.protocol.errors import describe_exception
from graphwire.transport.protocol.markers import ANSWER_TAG, ROLE_KEY
from graphwire.transport.runs.usage import estimate_usage, prompt_messages, reported_usage

__all__ = ["TIME_LIMIT", "RunTransformer", "document_to_source", "transform"]

TIME_LIMIT = "graphwire: run time limit"
"""The message of the cancellation that ends a run at its time limit (``error`` ``TIMEOUT``)."""

LABELS: dict[tuple[StepName, StepStatus], str] = {
    ("classify", "started"): "Routing your question...",
    ("retrieve", "started"): "Searching knowledge base...",
    ("generate", "started"): "Writing the answer...",
    ("generate", "completed"): "Answer ready",
    ("classify", "failed"): "Routing failed",
    ("retrieve", "failed"): "Search failed",
    ("generate", "failed"): "Answer failed",
}


def document_to_source(doc: Document) -> Source:
    """A retrieved LangChain document as a protocol ``Source``."""
    meta = doc.metadata
    return Source(
        id=str(meta.get("id", "")),
        title=str(meta.get("title", "")),
        uri=str(meta.get("uri", "")),
        snippet=str(meta.get("snippet") or doc.page_content[:240]),
        score=round(float(meta.get("score", 0.0)), 4),
    )


def _content_text(content: Any) -> str:
    """Text of a message's content, whether a string or a list of content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [b if isinstance(b, str) else b.get("text", "") for b in content]
        return "".join(p for p in parts if isinstance(p, str))
    return ""


@dataclass
class RunTransformer:
    """Turns one run's events into envelopes; one instance per run.

    ``feed`` each event in order, then call exactly one of ``complete``, ``fail`` or ``cancel``.
    Every call returns the envelopes to send, already numbered; after the ``end`` every call
    returns ``[]``.
    """

    run_id: str
    session_id: str
    clock: Callable[[], float] = time.monotonic
    start_seq: int = 0
    """The seq of the first envelope (0 for a whole run; more to continue a log)."""
    _seq: int = 0
    _ended: bool = False
    _started_at: float | None = None
    _first_token_at: float | None = None
    _agent: str = "general"
    _confidence: float = 0.0
    _retrieved: list[Source] = field(default_factory=list)
    _sources_sent: bool = False
    _open_steps: list[StepName] = field(default_factory=list)
    _deltas: list[str] = field(default_factory=list)
    _answer: BaseMessage | None = None
    _model: str = ""
    _prompt: Any = None
    _chunks: int = 0
    _root_output: Any = None

    def __post_init__(self) -> None:
        self._seq = self.start_seq

    @property
    def ended(self) -> bool:
        return self._ended

    def start(self) -> None:
        """Start the run's clock (timing is measured from here); ``feed`` starts it otherwise."""
        if self._started_at is None:
            self._started_at = self.clock()

    # ------------------------------------------------------------------ events

    def feed(self, event: Mapping[str, Any]) -> list[RunEnvelope]:
        """Envelopes for one ``astream_events`` v2 event (often none)."""
        if self._ended:
            return []
        self.start()
        kind = event.get("event")
        tags: Sequence[str] = event.get("tags") or ()
        if kind == "on_chat_model_stream":  # most events are tokens: they come first
            if ANSWER_TAG not in tags:
                return []
            chunk = event.get("data", {}).get("chunk")
            return self._text(_content_text(getattr(chunk, "content", "")))
        metadata: Mapping[str, Any] = event.get("metadata") or {}
        if kind in ("on_chain_start", "on_chain_end"):
            return self._on_chain(event, kind, metadata, tags)
        if kind == "on_retriever_start":
            return [self._step("retrieve", "started")]
        if kind == "on_retriever_end":
            return self._on_retrieved(event)
        if ANSWER_TAG in tags:
            if kind == "on_chat_model_start":
                return self._on_answer_start(event, metadata)
            if kind == "on_chat_model_end":
                return self._on_answer_end(event)
        return []

    def _on_chain(
        self, event: Mapping[str, Any], kind: str, metadata: Mapping[str, Any], tags: Sequence[str]
    ) -> list[RunEnvelope]:
        if not event.get("parent_ids"):  # the graph itself
            if kind == "on_chain_end":
                self._root_output = event.get("data", {}).get("output")
            return []
        is_node = event.get("name") == metadata.get("langgraph_node") and any(
            t.startswith("graph:step:") for t in tags
        )
        if not is_node or metadata.get(ROLE_KEY) != "classify":
            return []
        if kind == "on_chain_start":
            return [self._step("classify", "started")]
        output = event.get("data", {}).get("output") or {}
        if isinstance(output, Mapping):
            self._agent = str(output.get("agent", self._agent))
            self._confidence = float(output.get("confidence", 0.0))
            note = output.get("route_note")
        else:
            note = None
        label = f"Routed to {self._agent} ({self._confidence:.0%})"
        return [
            self._step(
                "classify",
                "completed",
                label=label,
                agent=self._agent,
                confidence=self._confidence,
                detail=str(note) if note else None,
            )
        ]

    def _on_retrieved(self, event: Mapping[str, Any]) -> list[RunEnvelope]:
        docs = event.get("data", {}).get("output") or []
        found = [document_to_source(d) for d in docs if isinstance(d, Document)]
        known = {s.id for s in self._retrieved}
        self._retrieved.extend(s for s in found if s.id not in known)
        label = f"Found {len(found)} passage{'s' if len(found) != 1 else ''}"
        return [self._step("retrieve", "completed", label=label, count=len(found))]

    def _on_answer_start(
        self, event: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> list[RunEnvelope]:
        self._model = str(metadata.get("ls_model_name") or self._model)
        self._prompt = event.get("data", {}).get("input")  # for usage, if the model reports none
        return [*self._flush_sources(), self._step("generate", "started")]

    def _on_answer_end(self, event: Mapping[str, Any]) -> list[RunEnvelope]:
        output = event.get("data", {}).get("output")
        out: list[RunEnvelope] = []
        if isinstance(output, BaseMessage):
            self._answer = output
            self._chunks = len(self._deltas)  # 0: it did not stream
            if not self._deltas:  # a model that did not stream: its whole text is one delta
                out.extend(self._text(_content_text(output.content)))
        out.append(self._step("generate", "completed"))
        return out

    def _text(self, delta: str) -> list[RunEnvelope]:
        if not delta:
            return []
        if self._first_token_at is None:
            self._first_token_at = self.clock()
        self._deltas.append(delta)
        out = self._flush_sources() if not self._sources_sent else []  # (once per run)
        seq = self._seq
        self._seq += 1
        out.append(
            TextEnvelope.streamed(
                run_id=self.run_id,
                session_id=self.session_id,
                seq=seq,
                delta=delta,
                agent=self._agent,
            )
        )
        return out

    # ------------------------------------------------------------------ endings

    def complete(self) -> list[RunEnvelope]:
        """``final`` then ``end complete``: the stream ran out normally."""
        if self._ended:
            return []
        out = list(self._flush_sources())
        if not self._deltas:
            out.extend(self._text(self._text_from_output()))
        out.append(FinalEnvelope(**self._ids(), data=self._final_data()))
        out.append(self._end("complete"))
        return out

    def fail(self, exc: BaseException) -> list[RunEnvelope]:
        """Failed steps, one ``error``, then ``end error``."""
        if self._ended:
            return []
        out: list[RunEnvelope] = [self._step(s, "failed") for s in list(self._open_steps)]
        out.append(ErrorEnvelope(**self._ids(), data=describe_exception(exc)))
        out.append(self._end("error"))
        return out

    def cancel(self) -> list[RunEnvelope]:
        """``end cancelled``: the run was stopped; no ``final`` and no ``error``."""
        if self._ended:
            return []
        return [self._end("cancelled")]

    # ------------------------------------------------------------------ helpers

    def _ids(self) -> dict[str, Any]:
        seq = self._seq
        self._seq += 1
        return {"run_id": self.run_id, "session_id": self.session_id, "seq": seq}

    def _step(self, step: StepName, status: StepStatus, **extra: Any) -> WorkflowStepEnvelope:
        if status == "started":
            self._open_steps.append(step)
        elif step in self._open_steps:
            self._open_steps.remove(step)
        label = extra.pop("label", None) or LABELS.get((step, status), step)
        data = WorkflowStepData(step=step, status=status, label=label, **extra)
        return WorkflowStepEnvelope(**self._ids(), data=data)

    def _flush_sources(self) -> list[RunEnvelope]:
        if self._sources_sent:
            return []
        self._sources_sent = True
        return [SourcesEnvelope(**self._ids(), data=SourcesData(sources=list(self._retrieved)))]

    def _end(self, reason: EndReason) -> EndEnvelope:
        self._ended = True
        return EndEnvelope(**self._ids(), data=EndData(reason=reason))

    def _text_from_output(self) -> str:
        """The graph's last AI message, for a graph that answered without a tagged model call."""
        output = self._root_output
        messages = output.get("messages") if isinstance(output, Mapping) else None
        if messages and isinstance(messages[-1], BaseMessage) and messages[-1].type == "ai":
            self._answer = messages[-1]
            return _content_text(messages[-1].content)
        return ""

    def _final_data(self) -> FinalData:
        answer = self._answer
        meta: Mapping[str, Any] = getattr(answer, "response_metadata", None) or {}
        text = "".join(self._deltas)
        usage = reported_usage(answer) or estimate_usage(
            prompt_messages(self._prompt), text, chunks=self._chunks
        )
        now = self.clock()
        start = self._started_at if self._started_at is not None else now
        first = self._first_token_at
        return FinalData(
            text=text,
            agent=self._agent,
            confidence=self._confidence,
            sources=list(self._retrieved),
            message_id=str(getattr(answer, "id", None) or f"m_{self.run_id}"),
            model=str(meta.get("model_name") or meta.get("model") or self._model or "unknown"),
            finish_reason=str(meta.get("finish_reason") or "stop"),
            usage=usage,
            timing=Timing(
                first_token_ms=None if first is None else round((first - start) * 1000, 1),
                total_ms=round((now - start) * 1000, 1),
            ),
        )


async def transform(
    events: AsyncIterator[Any],
    *,
    run_id: str,
    session_id: str,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncGenerator[RunEnvelope, None]:
    """Yield the run's envelopes for an ``astream_events(version="v2")`` stream.

    The event stream is always closed before the last envelope is yielded, so cancelling the
    consumer (or breaking out of the loop) cancels the graph and its model call at once. An
    exception from the graph becomes ``error`` + ``end``; a cancellation while waiting on the
    graph yields ``end cancelled`` and then re-raises ``CancelledError`` on the next step.
    """
    machine = RunTransformer(run_id=run_id, session_id=session_id, clock=clock)
    machine.start()
    cancelled: asyncio.CancelledError | None = None
    try:
        # astream_events returns an async generator: closing it cancels the graph's task.
        async with aclosing(cast(AsyncGenerator[Any, None], events)) as stream:
            async for event in stream:
                for envelope in machine.feed(event):
                    yield envelope
    except asyncio.CancelledError as exc:
        if exc.args and exc.args[0] == TIME_LIMIT:  # our own deadline, not a stop
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            ending = machine.fail(TimeoutError())
        else:
            cancelled = exc
            ending = machine.cancel()
    except Exception as exc:
        ending = machine.fail(exc)
    else:
        ending = machine.complete()
    for envelope in ending:
        yield envelope
    if cancelled is not None:
        raise cancelled
