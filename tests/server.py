"""A real uvicorn on a free port, in its own thread and event loop, for end-to-end tests."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents import OfflineChatModel, load_pack
from api.server import GracefulServer, build_server
from api.settings import Settings
from graph import build_graph, open_checkpointer

MINIPACK = Path(__file__).parent / "fixtures" / "minipack"


@dataclass
class Running:
    server: GracefulServer
    host: str
    port: int

    @property
    def http(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://{self.host}:{self.port}/ws/chat"

    @property
    def state(self) -> Any:
        return self.server.config.app.state.graphwire


def server_settings(**overrides: Any) -> Settings:
    """Settings for a test server: in-memory conversations, fast offline model, no .env."""
    values: dict[str, Any] = {
        "checkpoint_path": ":memory:",
        "offline_token_delay": 0.0,
        "pack": MINIPACK,
        "log_level": "WARNING",
        "allowed_origins": ["http://allowed.example"],
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def model_opener(model: Any) -> Any:
    """An ``open_graph_with`` that builds the graph around ``model`` (e.g. a probed model)."""

    @asynccontextmanager
    async def opener(settings: Settings) -> AsyncIterator[Any]:
        async with open_checkpointer(":memory:") as saver:
            yield build_graph(pack=load_pack(settings.pack), model=model, checkpointer=saver)

    return opener


@contextmanager
def running(settings: Settings | None = None, **overrides: Any) -> Iterator[Running]:
    """Serve ``settings`` on 127.0.0.1 and a free port until the block ends."""
    server = build_server(settings or server_settings(), port=0, **overrides)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Running(server, "127.0.0.1", port)
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def fast_model(delay: float = 0.0) -> OfflineChatModel:
    return OfflineChatModel(token_delay=delay)
