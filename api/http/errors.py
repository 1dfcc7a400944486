"""The HTTP face of protocol errors: one status per code, one JSON body shape."""

from __future__ import annotations

import math

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from graphwire.transport.protocol import ErrorCode
from graphwire.transport.protocol.errors import GraphwireError, ShuttingDownError
from graphwire.transport.protocol.wirejson import JSONRefused

__all__ = [
    "STATUS",
    "RateLimitedError",
    "error_response",
    "graphwire_error_handler",
    "refused_json_handler",
    "validation_error_handler",
]

STATUS: dict[ErrorCode, int] = {
    ErrorCode.AUTH_REQUIRED: 401,
    ErrorCode.AUTH_FAILED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.INVALID_MESSAGE: 422,
    ErrorCode.EMPTY_MESSAGE: 422,
    ErrorCode.MESSAGE_TOO_LARGE: 413,
    ErrorCode.BUSY: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.MODEL_ERROR: 502,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.PROCESSING_ERROR: 500,
}


class RateLimitedError(GraphwireError):
    """Too many requests; ``retry_after`` seconds until the next one is allowed."""

    code = ErrorCode.RATE_LIMITED
    retryable = True

    def __init__(self, *, retry_after: float) -> None:
        super().__init__("too many messages; slow down")
        self.retry_after = retry_after


SHUTTING_DOWN_RETRY_AFTER = 5  # seconds: about a restart's time
"""The ``Retry-After`` of a 503 from a server that is shutting down."""


def error_response(
    code: ErrorCode,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    status: int | None = None,
) -> JSONResponse:
    """The ``{code, message}`` body, with the code's status unless ``status`` says otherwise."""
    return JSONResponse(
        {"code": code.value, "message": message},
        status_code=status or STATUS[code],
        headers=headers,
    )


async def graphwire_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GraphwireError)
    headers: dict[str, str] = {}
    status = STATUS[exc.code]
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    if isinstance(exc, ShuttingDownError):  # nothing went wrong: the service is restarting
        status = 503
        headers["Retry-After"] = str(SHUTTING_DOWN_RETRY_AFTER)
    return error_response(exc.code, exc.message, headers=headers or None, status=status)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: "
        f"{str(err.get('msg', 'invalid')).removeprefix('Value error, ')}"
        for err in exc.errors()[:5]
    )
    return error_response(ErrorCode.INVALID_MESSAGE, f"invalid request: {problems}")


async def refused_json_handler(request: Request, exc: Exception) -> JSONResponse:
    """A request body :func:`graphwire.transport.protocol.wirejson.read_json` refused (see
    :mod:`graphwire.api.http.bodyjson`).
    """
    assert isinstance(exc, JSONRefused)
    return error_response(ErrorCode.INVALID_MESSAGE, f"invalid request body: {exc}")
