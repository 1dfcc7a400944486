"""The Python client for scripts: :class:`GraphwireClient`'s calls, blocking.

The async client runs on an event loop in a thread of its own, so the connection keeps
answering pings and reconnecting while the script does something else between two calls.
Callbacks given to :meth:`SyncGraphwireClient.ask` run on that thread.

Example:
    >>> with SyncGraphwireClient("http://127.0.0.1:8000") as client:  # doctest: +SKIP
    ...     for envelope in client.stream("How heavy is the battery?"):
    ...         print(envelope.type)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from types import TracebackType
from typing import Any, TypeVar

from graphwire.transport.client.core import GraphwireClient, History
from graphwire.transport.protocol import FinalData, RunEnvelope

__all__ = ["SyncGraphwireClient"]

T = TypeVar("T")


class SyncGraphwireClient:
    """``with SyncGraphwireClient(url, token=…, transport=…) as client:``; same options as
    :class:`GraphwireClient`."""

    def __init__(self, url: str, **options: Any) -> None:
        self._url = url
        self._options = options
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: GraphwireClient | None = None

    def __enter__(self) -> SyncGraphwireClient:
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="graphwire", daemon=True)
        self._thread.start()
        self._loop = loop
        try:
            self._client = self._call(self._make_client())
            self._call(self._client.__aenter__())
        except BaseException:
            self._shut_loop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._client is not None:
                self._call(self._client.__aexit__(kind, exc, tb))
        finally:
            self._shut_loop()

    async def _make_client(self) -> GraphwireClient:
        return GraphwireClient(self._url, **self._options)  # made on the loop that will use it

    def _shut_loop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._call(loop.shutdown_asyncgens())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        self._loop = self._thread = None

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("use the client inside 'with SyncGraphwireClient(...)'")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    @property
    def client(self) -> GraphwireClient:
        if self._client is None:
            raise RuntimeError("use the client inside 'with SyncGraphwireClient(...)'")
        return self._client

    def _iterate(self, envelopes: AsyncIterator[RunEnvelope]) -> Iterator[RunEnvelope]:
        async def step() -> RunEnvelope | None:
            return await anext(envelopes, None)

        async def close() -> None:
            await envelopes.aclose()  # type: ignore[attr-defined]

        try:
            while (envelope := self._call(step())) is not None:
                yield envelope
        finally:
            self._call(close())

    def stream(self, question: str, **options: Any) -> Iterator[RunEnvelope]:
        """:meth:`GraphwireClient.stream`, as a plain iterator."""
        return self._iterate(self.client.stream(question, **options))

    def resume(self, run_id: str, *, after_seq: int = -1) -> Iterator[RunEnvelope]:
        """:meth:`GraphwireClient.resume`, as a plain iterator."""
        return self._iterate(self.client.resume(run_id, after_seq=after_seq))

    def ask(self, question: str, **options: Any) -> FinalData:
        """:meth:`GraphwireClient.ask`, blocking."""
        return self._call(self.client.ask(question, **options))

    def stop(self, run_id: str | None = None) -> None:
        """:meth:`GraphwireClient.stop`, blocking."""
        self._call(self.client.stop(run_id))

    def history(self, session_id: str) -> History:
        """:meth:`GraphwireClient.history`, blocking."""
        return self._call(self.client.history(session_id))
