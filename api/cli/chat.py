"""``graphwire chat``: one question or a conversation, answered in-process or by a server.

Without ``--url`` the graph runs in this process; with ``--url`` the question goes to a running
server through the Python client (``ws://`` → WebSocket, ``http://`` → SSE, or ``--transport``).
Without a question it reads questions line by line, all in one conversation: Ctrl-C stops the
answer being written and the conversation goes on; Ctrl-C at the prompt, or the end of input,
leaves.

Example:
    $ graphwire chat "What is the battery capacity?"
    $ graphwire chat --url ws://127.0.0.1:8000/ws/chat "What does E14 mean?"
    $ graphwire chat --url http://127.0.0.1:8000 --token "$TOKEN"
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer
from rich.console import Console
from rich.markup import escape

from graphwire.api.cli.chatview import ChatView
from graphwire.api.settings import Settings
from graphwire.transport.client.core import GraphwireClient, endpoints
from graphwire.transport.client.errors import AuthenticationError, ConnectionFailedError
from graphwire.transport.protocol import EndEnvelope, RunEnvelope
from graphwire.transport.protocol.errors import GraphwireError
from graphwire.transport.runs.inprocess import stream_answer

__all__ = ["chat", "run_chat"]


class _Asker(Protocol):
    def stream(self, question: str, session_id: str | None) -> AsyncIterator[RunEnvelope]: ...
    def interrupt(self, answering: asyncio.Task[str | None]) -> None: ...


class _InProcess:
    """Answers from the graph in this process; Ctrl-C cancels the reading task (and the run)."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph

    def stream(self, question: str, session_id: str | None) -> AsyncIterator[RunEnvelope]:
        return stream_answer(self.graph, question, session_id=session_id)

    def interrupt(self, answering: asyncio.Task[str | None]) -> None:
        answering.cancel()


class _Remote:
    """Answers from a server; Ctrl-C asks it to stop, and the run ends ``cancelled``."""

    def __init__(self, client: GraphwireClient) -> None:
        self.client = client
        self.stopper: asyncio.Task[None] | None = None

    def stream(self, question: str, session_id: str | None) -> AsyncIterator[RunEnvelope]:
        self.stopper = None
        return self.client.stream(question, session_id=session_id)

    def interrupt(self, answering: asyncio.Task[str | None]) -> None:
        if self.stopper is not None:  # a second Ctrl-C: stop reading at once
            answering.cancel()
            return
        self.stopper = asyncio.create_task(self.client.stop())
        self.stopper.add_done_callback(lambda t: t.cancelled() or t.exception())


async def run_chat(
    settings: Settings | None,
    question: str | None,
    *,
    session: str | None = None,
    as_json: bool = False,
    url: str | None = None,
    token: str | None = None,
    transport: Any = None,
) -> int:
    """Answer ``question``, or every line of input when it is None; returns the exit status."""
    async with AsyncExitStack() as stack:
        asker: _Asker
        if url is None:
            from graphwire.api.runtime import open_graph

            graph = open_graph(settings or Settings.load())
            asker = _InProcess(await stack.enter_async_context(graph))
        else:
            stack.enter_context(_client_progress(Console(stderr=True, highlight=False)))
            client = GraphwireClient(url, token=token, transport=transport)
            asker = _Remote(await stack.enter_async_context(client))
        conversation = _Conversation(asker, as_json=as_json, session=session)
        return await conversation.run(question)
    raise AssertionError("unreachable")  # pragma: no cover


class _Progress(logging.Handler):
    """Prints a client log record as a dim ``· …`` line (a warning as ``warning: …``)."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        text = escape(record.getMessage())
        line = f"[dim]· {text}[/]" if record.levelno < logging.WARNING else f"warning: {text}"
        self.console.print(line, soft_wrap=True)


@contextlib.contextmanager
def _client_progress(console: Console) -> Iterator[None]:
    """Show what the client logs (its retries while the server cannot be reached) on stderr."""
    logger = logging.getLogger("graphwire.client")
    handler, saved = _Progress(console), (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # printed here, not a second time by the root's handler
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.level, logger.propagate = saved


class _Conversation:
    def __init__(self, asker: _Asker, *, as_json: bool, session: str | None) -> None:
        self.asker = asker
        self.session = session
        self.view = None if as_json else ChatView(Console(highlight=False))
        self.err = Console(stderr=True, highlight=False)
        self.answering: asyncio.Task[str | None] | None = None
        self.leave = asyncio.Event()

    async def run(self, question: str | None) -> int:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):  # loops without signal handlers
            loop.add_signal_handler(signal.SIGINT, self._on_interrupt)
        try:
            if question is not None:
                return await self._one_shot(question)
            if self.view is not None:
                self.view.session_hint = False
            return await self._interactive()
        finally:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(signal.SIGINT)

    def _on_interrupt(self) -> None:
        if self.answering is not None and not self.answering.done():
            self.asker.interrupt(self.answering)
        else:
            self.leave.set()

    async def _one_shot(self, question: str) -> int:
        try:
            reason = await self._answer(question)
        except GraphwireError as exc:
            return self._error(exc, 2)
        if reason in (None, "cancelled"):
            return self._error("stopped", 130)
        return 0 if reason == "complete" else 1

    async def _interactive(self) -> int:
        lines = _read_lines()
        while True:
            if sys.stdin.isatty():
                self.err.print("› ", end="")
            line = await self._next_line(lines)
            if line is None:
                return 0
            if not line.strip():
                continue
            try:
                reason = await self._answer(line.strip())
            except (AuthenticationError, ConnectionFailedError) as exc:
                return self._error(exc, 2)  # asking again would fail the same way
            except GraphwireError as exc:  # refused (busy, too long, …): the conversation goes on
                self._error(exc, 0)
                continue
            if reason is None:
                self.err.print("· stopped", style="yellow")

    async def _next_line(self, lines: asyncio.Queue[str | None]) -> str | None:
        getting = asyncio.ensure_future(lines.get())
        leaving = asyncio.ensure_future(self.leave.wait())
        await asyncio.wait({getting, leaving}, return_when=asyncio.FIRST_COMPLETED)
        leaving.cancel()
        if not getting.done():
            getting.cancel()
            return None
        return getting.result()

    async def _answer(self, question: str) -> str | None:
        """Show one run; its end reason, or None when Ctrl-C cut it short here."""
        self.answering = asyncio.create_task(self._show(question))
        try:
            return await self.answering
        except asyncio.CancelledError:
            if not self.answering.cancelled():
                raise  # cancelled from outside, not by Ctrl-C
            return None
        finally:
            self.answering = None

    async def _show(self, question: str) -> str | None:
        reason: str | None = None
        async for envelope in self.asker.stream(question, self.session):
            self.session = envelope.session_id or self.session
            if self.view is None:
                print(json.dumps(envelope.to_wire(), ensure_ascii=False), flush=True)
            else:
                self.view.show(envelope)
            if isinstance(envelope, EndEnvelope):
                reason = envelope.data.reason
        return reason

    def _error(self, problem: object, status: int) -> int:
        self.err.print(f"[bold red]error:[/] {escape(str(problem))}", soft_wrap=True)
        return status


def _read_lines() -> asyncio.Queue[str | None]:
    """Lines of standard input, read on a daemon thread (``None`` at its end)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            for line in sys.stdin:
                loop.call_soon_threadsafe(queue.put_nowait, line)
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except RuntimeError:  # the loop is closed: the conversation is over
            return

    threading.Thread(target=read, name="stdin", daemon=True).start()
    return queue


def chat(
    question: Annotated[
        str | None, typer.Argument(help="The question; leave it out for a conversation.")
    ] = None,
    session: Annotated[
        str | None, typer.Option("--session", "-s", help="Continue this conversation.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one protocol envelope per line.")
    ] = False,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Ask a server: ws://host:port/ws/chat or http://host:port."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="GRAPHWIRE_TOKEN", help="JWT for a server that wants one."),
    ] = None,
    transport: Annotated[
        str | None, typer.Option("--transport", help="ws or sse (default: what --url says).")
    ] = None,
    pack: Annotated[
        Path | None, typer.Option("--pack", help="Domain pack folder (default: the demo pack).")
    ] = None,
    delay: Annotated[
        float | None, typer.Option("--delay", help="Offline model: seconds between words.")
    ] = None,
) -> None:
    """Ask a question and stream the answer: steps, sources and text as they arrive."""
    err = Console(stderr=True)
    if transport not in (None, "ws", "sse"):
        raise _fail(err, f"--transport is ws or sse, not {transport!r}")
    if url is None and (token or transport):
        raise _fail(err, "--token and --transport need --url (a server to ask)")
    if url is not None and (pack or delay is not None):
        raise _fail(err, "--pack and --delay apply to in-process answers, not to --url")
    if url is not None:
        try:
            endpoints(url)
        except ValueError as exc:
            raise _fail(err, str(exc)) from None
    try:
        settings = None
        if url is None:
            flags = {"offline_token_delay": "--delay"}
            settings = Settings.load(pack=pack, offline_token_delay=delay, flags=flags)
        status = asyncio.run(
            run_chat(settings, question, session=session, as_json=as_json, url=url,
                     token=token, transport=transport)
        )  # fmt: skip
    except GraphwireError as exc:  # a server's error reads "CODE: message"
        raise _fail(err, str(exc)) from None
    except KeyboardInterrupt:  # before the conversation took Ctrl-C over
        raise _fail(err, "stopped", 130) from None
    if status:
        raise typer.Exit(status)


def _fail(console: Console, message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)
