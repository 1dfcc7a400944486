"""Checkpointers: where conversations are kept between turns.

A file path gives LangGraph's async SQLite saver (conversations outlive the process);
``":memory:"`` gives its in-process saver, which keeps nothing after exit and costs no database
connection: no worker thread, no lock that every run of every conversation queues on.

Example:
    >>> async with open_checkpointer(":memory:") as saver:   # doctest: +SKIP
    ...     graph = build_graph(checkpointer=saver)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

__all__ = ["MEMORY", "open_checkpointer"]

MEMORY = ":memory:"


def _prepare(path: str | Path) -> str:
    """The SQLite file for ``path``, with its parent folder created."""
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    return str(target)


@asynccontextmanager
async def open_checkpointer(
    path: str | Path = MEMORY,
) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """A checkpointer for ``path``: an SQLite file, or ``":memory:"`` (kept in this process only).

    The parent folder of a file path is created; the connection closes when the block exits.
    """
    if str(path) == MEMORY:
        yield InMemorySaver()
        return
    async with AsyncSqliteSaver.from_conn_string(_prepare(path)) as saver:
        await saver.setup()
        yield saver
