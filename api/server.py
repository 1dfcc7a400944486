"""Serving the app with uvicorn: real sockets, no token in any log line, graceful shutdown.

On shutdown every live run is cancelled first, so each ends with an ``end`` envelope that its
listeners receive, and only then are the sockets closed (1012, "service restart").
"""

from __future__ import annotations

import logging
from typing import Any

import uvicorn

from graphwire.api.app import create_app
from graphwire.api.logredact import install_log_redaction
from graphwire.api.settings import Settings
from graphwire.api.state import AppState

__all__ = ["GracefulServer", "build_server", "serve"]

HARD_FRAME_LIMIT = 1_048_576  # uvicorn closes 1009 above this; the app's own limit is smaller


class GracefulServer(uvicorn.Server):
    """uvicorn's server, ending runs and closing sockets with 1012 before it stops."""

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        app = self.config.app
        state = getattr(getattr(app, "state", None), "graphwire", None)
        if isinstance(state, AppState):
            await state.drain()
        await super().shutdown(sockets)


def build_server(
    settings: Settings, *, port: int | None = None, **overrides: Any
) -> GracefulServer:
    """A configured server for ``settings`` (``port=0`` picks a free port).

    ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are believed only from ``trusted_proxies``:
    uvicorn's own default (any peer on 127.0.0.1, or ``FORWARDED_ALLOW_IPS``) would let every
    local client choose the address that rate limits and the ``/metrics`` gate see.

    >>> build_server(Settings(trusted_proxies=["10.0.0.2"]), port=0).config.proxy_headers
    True
    """
    trusted = settings.trusted_proxies  # (validated and stripped by the setting)
    config = uvicorn.Config(
        create_app(settings, **overrides),
        host=settings.host,
        port=settings.port if port is None else port,
        ws="websockets-sansio",
        ws_max_size=max(HARD_FRAME_LIMIT, settings.max_frame_bytes * 2),
        ws_per_message_deflate=False,
        ws_ping_interval=settings.ping_interval,
        ws_ping_timeout=settings.ping_interval,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        timeout_graceful_shutdown=5,
        log_level=settings.log_level.lower(),
        server_header=False,
    )
    install_log_redaction()  # after uvicorn's dictConfig, which replaces handlers
    return GracefulServer(config)


def serve(settings: Settings) -> None:
    """Run the server until interrupted (``graphwire serve``)."""
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    # The console script has configured logging already (basicConfig then does nothing): the
    # level is set apart, so that graphwire's own lines follow the log level too.
    logging.getLogger().setLevel(settings.log_level)
    build_server(settings).run()
