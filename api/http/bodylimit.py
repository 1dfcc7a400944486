"""Bounding HTTP request bodies before anything reads them: a pure ASGI middleware.

FastAPI reads a route's whole body before it solves the route's dependencies, authentication
among them, so without a bound an anonymous client could make the server hold a body of any size.
:class:`BodyLimit` answers ``413`` (``MESSAGE_TOO_LARGE``) before the app is called:

* a declared ``Content-Length`` over the limit is refused at once, and the body is never read;
* a body without one (``Transfer-Encoding: chunked``) is read here, counting, and kept (it is at
  most the limit); the moment it goes over, the middleware answers and the app is never called;
  otherwise the app receives the kept body as if it came from the client;
* a ``Content-Length`` that is not one whole number of bytes is refused with ``400``
  (``INVALID_MESSAGE``): the body cannot be delimited, which HTTP says is a bad request.

A request with neither header has no body in HTTP/1.1 (a GET, a preflight) and passes untouched,
as do WebSocket and lifespan scopes. A refusal says ``Connection: close``, so the server stops
reading the rest of the body rather than reading and dropping it; nothing of it is kept.

Example:
    >>> app.add_middleware(BodyLimit, max_bytes=65_536)     # doctest: +SKIP
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphwire.api.http.errors import error_response
from graphwire.transport.protocol import ErrorCode

__all__ = ["BodyLimit"]

_LENGTH_DIGITS = 18  # more digits than this is over any limit a setting can hold


class BodyLimit:
    """Refuse HTTP request bodies over ``max_bytes`` bytes with 413, before the app sees them.

    Example:
        >>> app = BodyLimit(inner_app, max_bytes=65_536)    # doctest: +SKIP
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        lengths = headers.getlist("content-length")
        if lengths:
            declared = _declared_length(lengths)
            if declared is None:
                await _refuse_framing(scope, receive, send)
                return
            if declared > self.max_bytes:
                await self._refuse_size(scope, receive, send, f"{declared} bytes")
                return
        chunked = "transfer-encoding" in headers
        unframed = not lengths and scope.get("http_version", "1.1") not in ("1.0", "1.1")
        if chunked or unframed:  # HTTP/2 and 3 may send a body with neither header
            await self._read_counting(scope, receive, send)
            return
        await self.app(scope, receive, send)  # no body, or a declared one within the limit

    async def _read_counting(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the whole body up to the limit, then call the app with it (or refuse it)."""
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left: there is no one to answer
                return
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse_size(scope, receive, send, f"at least {size} bytes")
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        await self.app(scope, _replaying(b"".join(chunks), receive), send)

    async def _refuse_size(self, scope: Scope, receive: Receive, send: Send, size: str) -> None:
        response = error_response(
            ErrorCode.MESSAGE_TOO_LARGE,
            f"a request body of {size} is over the {self.max_bytes}-byte limit",
            headers=_closing(scope),
        )
        await response(scope, receive, send)


def _declared_length(values: list[str]) -> int | None:
    """The one length that every ``Content-Length`` value states; None if they are not one.

    >>> _declared_length(["42"]), _declared_length(["42, 42"]), _declared_length(["4 2"])
    (42, 42, None)
    """
    stated = {part.strip() for value in values for part in value.split(",")}
    if len(stated) != 1:
        return None
    (text,) = stated
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"
    return int(digits) if len(digits) <= _LENGTH_DIGITS else 10**_LENGTH_DIGITS


async def _refuse_framing(scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(
        ErrorCode.INVALID_MESSAGE,
        "Content-Length must be one whole number of bytes",
        status=400,
        headers=_closing(scope),
    )
    await response(scope, receive, send)


def _closing(scope: Scope) -> dict[str, str] | None:
    """``Connection: close`` on HTTP/1 (HTTP/2 forbids the header): the server then stops
    reading the body it refused, instead of reading and dropping all of it."""
    return {"Connection": "close"} if scope.get("http_version", "1.1") in ("1.0", "1.1") else None


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the app ``body`` whole, then what the client sends next
    (``http.disconnect``, which streaming responses wait for)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
