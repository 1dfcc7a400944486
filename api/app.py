"""The FastAPI app factory: ``create_app(settings)``; the lifespan opens every resource.

Example:
    >>> app = create_app(Settings(checkpoint_path=":memory:"))     # doctest: +SKIP
    >>> uvicorn.run(app)                                            # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.routing import WebSocketRoute

from graphwire.api.auth import Authenticator
from graphwire.api.heap import settle_heap
from graphwire.api.http.asyncapi import build_asyncapi
from graphwire.api.http.bodylimit import BodyLimit
from graphwire.api.http.errors import (
    graphwire_error_handler,
    refused_json_handler,
    validation_error_handler,
)
from graphwire.api.http.ops import create_ops_router
from graphwire.api.http.routes import chat_socket, create_router
from graphwire.api.http.testpage import mount_test_page
from graphwire.api.limits import RateLimiter
from graphwire.api.metrics import Metrics
from graphwire.api.origins import OriginPolicy
from graphwire.api.runtime import open_graph
from graphwire.api.settings import Settings
from graphwire.api.state import AppState
from graphwire.transport.protocol.errors import GraphwireError
from graphwire.transport.protocol.wirejson import JSONRefused
from graphwire.transport.runs.registry import RunRegistry

__all__ = ["create_app"]

log = logging.getLogger("graphwire.app")

GraphOpener = Callable[[Settings], AbstractAsyncContextManager[Any]]


def create_app(settings: Settings, *, open_graph_with: GraphOpener = open_graph) -> FastAPI:
    """The graphwire app for ``settings``; nothing is opened until the lifespan starts.

    ``open_graph_with`` lets tests and embedders supply their own graph (same signature as
    :func:`graphwire.api.runtime.open_graph`).
    """
    authenticator = Authenticator.from_settings(
        settings, leeway=settings.jwt_leeway
    )  # bad keys fail here, before serving

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not authenticator.enabled:
            log.warning(
                "AUTHENTICATION IS OFF: neither GRAPHWIRE_JWT_SECRET nor GRAPHWIRE_JWT_PUBLIC_KEY "
                "is set; every client is the anonymous user and shares its conversations"
            )
        async with open_graph_with(settings) as graph:
            metrics = Metrics()
            registry = RunRegistry(
                graph,
                retention=settings.run_retention,
                grace=settings.resume_grace,
                max_log_envelopes=settings.max_log_envelopes,
                run_timeout=settings.run_timeout,
                observer=metrics,
            )
            app.state.graphwire = AppState(
                settings=settings,
                graph=graph,
                registry=registry,
                auth=authenticator,
                origins=OriginPolicy(settings.allowed_origins),
                metrics=metrics,
                connection_limiter=RateLimiter(per_minute=settings.rate_limit_per_minute),
                user_limiter=RateLimiter(per_minute=settings.user_rate_limit_per_minute),
            )
            settle_heap(gen0_threshold=settings.gc_gen0_threshold)
            sweeper = asyncio.create_task(registry.sweep_forever())
            try:
                yield
            finally:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
                await app.state.graphwire.drain()

    # /docs and /redoc with their scripts and styles served by the app, not by a CDN: they
    # work on a machine with no internet, as the rest of the product does.
    app = FastAPIOffline(
        title="graphwire",
        summary="Streaming LangGraph agents over WebSocket (/ws/chat) and SSE",
        description=(
            "HTTP routes of the graphwire.v1 protocol. The WebSocket protocol is described in "
            "docs/protocol.md and as AsyncAPI 3 at /asyncapi.json."
        ),
        lifespan=lifespan,
    )
    # Inside CORS, so a 413 carries CORS headers and preflights never reach it; outside the
    # routes, so an over-limit body is refused before authentication reads it.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
    )
    app.add_exception_handler(GraphwireError, graphwire_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(JSONRefused, refused_json_handler)
    app.router.routes.append(WebSocketRoute("/ws/chat", chat_socket))
    app.include_router(create_router())
    app.include_router(create_ops_router())
    mount_test_page(app)

    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi() -> JSONResponse:
        return JSONResponse(build_asyncapi())

    return app
