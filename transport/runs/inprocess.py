"""The in-process API: a question in, the run's envelopes out, no server involved.

Example:
    >>> from graph import build_graph
    >>> from transport import stream_answer
    >>> graph = build_graph()
    >>> question = "What voltage is the battery?"
    >>> async for envelope in stream_answer(graph, question):  # doctest: +SKIP
    ...     print(envelope.type, envelope.data)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import aclosing, contextmanager
from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig

from graphwire.transport.protocol import (
    EndEnvelope,
    ErrorCode,
    ErrorEnvelope,
    FinalData,
    FinalEnvelope,
    RunEnvelope,
)
from graphwire.transport.protocol.errors import GraphwireError
from graphwire.transport.protocol.ids import new_run_id, new_session_id
from graphwire.transport.runs.transformer import TIME_LIMIT, transform

__all__ = ["DURABILITY", "ask", "ask_graph", "run_time_limit", "stream_answer"]

DURABILITY = "exit"
"""When LangGraph saves a run's conversation: once, as the run ends (see :func:`ask_graph`)."""


def ask_graph(
    graph: Runnable[Any, Any], question: str, *, session_id: str, owner: str | None = None
) -> AsyncIterator[Any]:
    """The graph's ``astream_events`` v2 stream for ``question`` in conversation ``session_id``.

    The conversation is saved once, when the run ends (``durability="exit"``): whether it
    completes, fails or is stopped, the checkpointer gets the question and whatever the graph
    made of it, as it would step by step, but no write happens before the first token. A run
    in progress is therefore not in the stored history yet, and a process that dies mid-run
    loses that question (the run itself could not be resumed anyway).
    """
    inputs: dict[str, Any] = {"messages": [HumanMessage(question)]}
    if owner is not None:
        inputs["owner"] = owner
    config: RunnableConfig = {"configurable": {"thread_id": session_id}}
    return graph.astream_events(inputs, config, version="v2", durability=DURABILITY)


@contextmanager
def run_time_limit(seconds: float | None) -> Iterator[None]:
    """Cancel the current task with :data:`TIME_LIMIT` once ``seconds`` have passed.

    One timer for the whole run, not one per event; the transformer turns that cancellation
    into ``error`` ``TIMEOUT`` + ``end``.
    """
    task = asyncio.current_task()
    if seconds is None or task is None:
        yield
        return
    limit = asyncio.get_running_loop().call_later(seconds, task.cancel, TIME_LIMIT)
    try:
        yield
    finally:
        limit.cancel()


async def stream_answer(
    graph: Runnable[Any, Any],
    question: str,
    *,
    session_id: str | None = None,
    run_id: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    time_limit: float | None = None,
    owner: str | None = None,
) -> AsyncGenerator[RunEnvelope, None]:
    """Yield the envelopes of one run: ``question`` asked in conversation ``session_id``.

    A missing ``session_id`` starts a new conversation (read it from any envelope). An empty
    question raises :class:`GraphwireError` (``EMPTY_MESSAGE``) before anything runs. Breaking
    out of the loop, or cancelling the task that iterates, stops the graph and the model call.
    A run still going after ``time_limit`` seconds ends with an ``error`` ``TIMEOUT``.
    ``owner`` is stored with the conversation (the server's user id) so it survives a restart.
    """
    if not question.strip():
        raise GraphwireError("the message is empty", code=ErrorCode.EMPTY_MESSAGE)
    session_id = session_id or new_session_id()
    events = ask_graph(graph, question, session_id=session_id, owner=owner)
    envelopes = transform(events, run_id=run_id or new_run_id(), session_id=session_id, clock=clock)
    with run_time_limit(time_limit):
        async with aclosing(envelopes):  # closing this generator closes the graph's stream too
            async for envelope in envelopes:
                yield envelope


async def ask(
    graph: Runnable[Any, Any], question: str, *, session_id: str | None = None
) -> FinalData:
    """Run one question to the end and return its ``final`` data.

    Raises :class:`GraphwireError` with the run's error code when the run fails.
    """
    final: FinalData | None = None
    async for envelope in stream_answer(graph, question, session_id=session_id):
        if isinstance(envelope, FinalEnvelope):
            final = envelope.data
        elif isinstance(envelope, ErrorEnvelope):
            data = envelope.data
            raise GraphwireError(data.message, code=data.code, retryable=data.retryable)
        elif isinstance(envelope, EndEnvelope) and final is None:
            raise GraphwireError("the run ended without an answer")
    assert final is not None  # an end always follows a final or an error
    return final
