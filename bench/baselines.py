"""The baseline apps the benchmark compares graphwire with (uvicorn ``--factory`` targets).

* :func:`minimal_app`, the minimal loop: the same graph (``open_graph`` with the same
  ``GRAPHWIRE_*`` settings), its ``astream_events`` v2 stream sent as ``{"delta": …}`` frames and a
  final ``{"done": true}``: what streaming costs with no protocol, run registry or event log.
* :func:`protocol_app`, the protocol loop: the minimal loop speaking ``graphwire.v1``. The same
  graph call as graphwire's (:func:`graphwire.transport.runs.inprocess.ask_graph`) through
  graphwire's own transformer, each envelope one frame as it comes: what the protocol's envelopes
  cost, without the run registry, event log, sender, limits or auth that graphwire adds around them.
* :func:`bare_app`, the transport's floor: sends precomputed frames (a recorded graphwire answer,
  ``BENCH_BARE_FRAMES``) at the offline model's pace (``BENCH_BARE_DELAY`` seconds before each
  text frame but the first); a client that sends nothing is accepted and left idle.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from graphwire.api.heap import settle_heap
from graphwire.api.runtime import open_graph
from graphwire.api.settings import Settings
from graphwire.transport.protocol import ConnectedData, ConnectedEnvelope
from graphwire.transport.protocol.ids import new_run_id
from graphwire.transport.runs.inprocess import ask_graph
from graphwire.transport.runs.transformer import transform

__all__ = ["bare_app", "minimal_app", "protocol_app"]


async def _health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def _deltas(graph: Any, question: str) -> AsyncIterator[Any]:
    return graph.astream_events(  # type: ignore[no-any-return]
        {"messages": [HumanMessage(question)]},
        {"configurable": {"thread_id": uuid.uuid4().hex}},
        version="v2",
    )


def _graph_lifespan(settings: Settings) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """Opens the graph for ``settings`` into ``app.state.graph`` for the app's lifetime."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_graph(settings) as graph:
            app.state.graph = graph
            settle_heap(gen0_threshold=settings.gc_gen0_threshold)  # graphwire's GC settings
            yield

    return lifespan


def minimal_app() -> Starlette:
    """The graph's event stream over a WebSocket (``/ws``) and SSE (``POST /sse``), nothing else."""

    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        graph = websocket.app.state.graph
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            question = json.loads(message["text"])["message"]
            async for event in _deltas(graph, question):
                if event["event"] == "on_chat_model_stream":
                    await websocket.send_text(json.dumps({"delta": event["data"]["chunk"].content}))
            await websocket.send_text(json.dumps({"done": True}))

    async def sse(request: Request) -> StreamingResponse:
        graph = request.app.state.graph
        question = (await request.json())["message"]

        async def events() -> AsyncIterator[str]:
            async for event in _deltas(graph, question):
                if event["event"] == "on_chat_model_stream":
                    yield f"data: {json.dumps({'delta': event['data']['chunk'].content})}\n\n"
            yield 'data: {"done": true}\n\n'

        return StreamingResponse(events(), media_type="text/event-stream")

    routes = [
        Route("/health", _health),
        Route("/sse", sse, methods=["POST"]),
        WebSocketRoute("/ws", chat),
    ]
    return Starlette(routes=routes, lifespan=_graph_lifespan(Settings()))


def protocol_app() -> Starlette:
    """``/ws``: ``connected``, then for each ``message`` frame the run's envelopes, one per frame.

    Each run is the connection's own loop, awaited before the next frame is read: no registry,
    log, resume, stop, limits or auth.
    """

    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        hello = ConnectedEnvelope(data=ConnectedData(connection_id="c_bench", auth_required=False))
        await websocket.send_text(hello.to_json())
        graph = websocket.app.state.graph
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            frame = json.loads(message["text"])
            session_id = frame["session_id"]
            events = ask_graph(graph, frame["message"], session_id=session_id)
            async for envelope in transform(events, run_id=new_run_id(), session_id=session_id):
                await websocket.send_text(envelope.to_json())

    routes = [Route("/health", _health), WebSocketRoute("/ws", chat)]
    return Starlette(routes=routes, lifespan=_graph_lifespan(Settings()))


def bare_app() -> Starlette:
    """Accept on ``/ws``; for each client frame send the recorded frames at the recorded pace."""
    path = os.environ.get("BENCH_BARE_FRAMES")
    frames: list[str] = json.loads(Path(path).read_text()) if path else []
    is_text = [json.loads(f).get("type") == "text" for f in frames]
    delay = float(os.environ.get("BENCH_BARE_DELAY", "0"))

    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            message = await websocket.receive()  # an idle client: waits here
            if message["type"] == "websocket.disconnect":
                return
            first = True
            for frame, text in zip(frames, is_text, strict=True):
                if text and not first and delay:
                    await asyncio.sleep(delay)
                first = first and not text
                await websocket.send_text(frame)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        settle_heap(gen0_threshold=Settings().gc_gen0_threshold)  # graphwire's GC settings
        yield

    routes = [Route("/health", _health), WebSocketRoute("/ws", chat)]
    return Starlette(routes=routes, lifespan=lifespan)
