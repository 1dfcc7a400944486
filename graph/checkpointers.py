"""Checkpointers: where conversations are kept between turns.

Example:
    >>> async with open_checkpointer(":memory:") as saver:   # doctest: +SKIP
    ...     graph = build_graph(checkpointer=saver)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

__all__ = ["open_checkpointer"]


def _prepare(path: str | Path) -> str:
    """The connection string for ``path``, with the parent folder of a file created."""
    if str(path) == ":memory:":
        return ":memory:"
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    return str(target)


@asynccontextmanager
async def open_checkpointer(path: str | Path = ":memory:") -> AsyncIterator[AsyncSqliteSaver]:
    """An async SQLite checkpointer at ``path`` (``":memory:"`` keeps nothing after exit).

    The parent folder of a file path is created; the connection closes when the block exits.
    """
    async with AsyncSqliteSaver.from_conn_string(_prepare(path)) as saver:
        await saver.setup()
        yield saver
