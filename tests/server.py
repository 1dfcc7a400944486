"""A real uvicorn on a free port, in its own thread and event loop, for end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from graphwire.agents import OfflineChatModel, load_pack
from graphwire.api.background import BackgroundServer, serve_in_background
from graphwire.api.settings import Settings
from graphwire.graph import build_graph, open_checkpointer

MINIPACK = Path(__file__).parent / "fixtures" / "minipack"


class Running(BackgroundServer):
    """The public background server, plus the app's state for tests to look into."""

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
    with serve_in_background(settings or server_settings(), **overrides) as background:
        yield Running(background.server, background.thread, background.host)


def fast_model(delay: float = 0.0) -> OfflineChatModel:
    return OfflineChatModel(token_delay=delay)
