"""HTTP request bodies read as the protocol reads JSON: one route class for every route.

FastAPI parses a JSON body with ``Request.json()`` (the standard library's ``json.loads``) and
turns any error but a ``JSONDecodeError`` into a bare ``400 {"detail": ...}``: JSON nested
5,000 deep, a number of 5,000 digits or invalid UTF-8 got that, and ``NaN`` was accepted.
:class:`WireJSONRoute` parses with :func:`graphwire.transport.protocol.wirejson.read_json` instead,
the reader of WebSocket frames, so HTTP bodies get the same limits; a refusal leaves as the
:class:`~graphwire.transport.protocol.wirejson.JSONRefused` itself, which
:mod:`graphwire.api.http.errors` answers with ``422 INVALID_MESSAGE``.

Example:
    >>> router = APIRouter(route_class=WireJSONRoute)       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from graphwire.transport.protocol.wirejson import JSONRefused, read_json

__all__ = ["WireJSONRequest", "WireJSONRoute"]


class WireJSONRequest(Request):
    """A request whose ``json()`` is :func:`~graphwire.transport.protocol.wirejson.read_json` of its
    body.

    ``refused`` keeps the refusal, because FastAPI's handler catches it and raises a 400 of its
    own in its place.
    """

    refused: JSONRefused | None = None

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = read_json(body)
            except JSONRefused as exc:
                self.refused = exc
                raise
        return self._json


class WireJSONRoute(APIRoute):
    """An ``APIRoute`` whose JSON body goes through :class:`WireJSONRequest`.

    Example:
        >>> router = APIRouter(route_class=WireJSONRoute)   # doctest: +SKIP
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            wire = WireJSONRequest(request.scope, request.receive)
            try:
                return await handle(wire)
            except Exception:
                if wire.refused is None:
                    raise
                # Whatever FastAPI made of it, the endpoint never ran: the refusal is the error.
                raise wire.refused from None

        return handler
