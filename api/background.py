"""A graphwire server on a background thread: for notebooks and scripts that also run a client.

The server has its own thread and event loop, so the caller's loop (a notebook's, say) stays free
for clients, and stopping it shuts down as gracefully as ``graphwire serve`` does.

Example:
    >>> server = serve_in_background(Settings(checkpoint_path=":memory:"))  # doctest: +SKIP
    >>> server.ws                                                           # doctest: +SKIP
    'ws://127.0.0.1:41873/ws/chat'
    >>> server.stop()                                                       # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

from graphwire.api.server import GracefulServer, build_server
from graphwire.api.settings import Settings
from graphwire.transport.protocol.errors import GraphwireError

__all__ = ["BackgroundServer", "serve_in_background"]


class BackgroundServer:
    """A started server; ``stop()`` it (or use it as a context manager)."""

    def __init__(self, server: GracefulServer, thread: threading.Thread, host: str) -> None:
        self.server = server
        self.thread = thread
        self.host = host
        self.port: int = server.servers[0].sockets[0].getsockname()[1]

    @property
    def http(self) -> str:
        """The base URL of the HTTP and SSE routes."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws(self) -> str:
        """The WebSocket endpoint."""
        return f"ws://{self.host}:{self.port}/ws/chat"

    def stop(self, timeout: float = 20.0) -> None:
        """Shut down: live runs end ``cancelled``, sockets close with 1012, the thread ends."""
        self.server.should_exit = True
        self.thread.join(timeout)

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_in_background(
    settings: Settings, *, port: int = 0, timeout: float = 30.0, **overrides: Any
) -> BackgroundServer:
    """Start serving ``settings`` on a thread (``port=0``: a free port) and wait until it listens.

    ``overrides`` go to :func:`graphwire.api.app.create_app` (``open_graph_with=…``).
    """
    server = build_server(settings, port=port, **overrides)
    thread = threading.Thread(target=server.run, name="graphwire-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise GraphwireError("the server did not start; see its log for why")
        time.sleep(0.02)
    return BackgroundServer(server, thread, settings.host)
