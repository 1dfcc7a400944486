"""What the Python client raises: one exception class per kind of server error, by protocol code.

A refusal (an ``error`` with no ``seq``, or an HTTP status with a ``{code, message}`` body) and a
failed run (an ``error`` inside the run) both become a :class:`ServerError` subclass carrying the
protocol ``code``; the mapping lives in :func:`server_error`, the one place that does it.

Example:
    >>> from graphwire.transport.protocol import ErrorData
    >>> error = server_error(ErrorData(code=ErrorCode.BUSY, message="busy", retryable=True))
    >>> type(error).__name__, error.code, error.retryable
    ('BusyError', <ErrorCode.BUSY: 'BUSY'>, True)
"""

from __future__ import annotations

from graphwire.transport.protocol import ErrorCode, ErrorData
from graphwire.transport.protocol.errors import GraphwireError

__all__ = [
    "AuthenticationError",
    "BusyError",
    "ConnectionFailedError",
    "ForbiddenError",
    "InvalidRequestError",
    "MessageTooLargeError",
    "ModelFailedError",
    "NotFoundError",
    "RateLimitedError",
    "ResumeError",
    "RunCancelledError",
    "RunFailedError",
    "RunTimeoutError",
    "ServerError",
    "resume_error",
    "server_error",
]


class ServerError(GraphwireError):
    """An error the server reported, with its protocol ``code``.

    ``run_id`` and ``session_id`` name what it is about when the server said so; ``status`` is the
    HTTP status of a refused request (``None`` on the WebSocket).
    """

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode,
        retryable: bool = False,
        run_id: str | None = None,
        session_id: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, code=code, retryable=retryable)
        self.run_id = run_id
        self.session_id = session_id
        self.status = status

    def __str__(self) -> str:
        return f"{self.code.value}: {self.message}"


class AuthenticationError(ServerError):
    """``AUTH_REQUIRED`` (no token given) or ``AUTH_FAILED`` (the token was refused)."""


class ForbiddenError(ServerError):
    """``FORBIDDEN``: the conversation or run belongs to another user."""


class InvalidRequestError(ServerError):
    """``INVALID_MESSAGE`` or ``EMPTY_MESSAGE``: the request itself is wrong."""


class MessageTooLargeError(ServerError):
    """``MESSAGE_TOO_LARGE``: the question is over the server's limit."""


class BusyError(ServerError):
    """``BUSY``: the conversation is still answering (retryable)."""


class RateLimitedError(ServerError):
    """``RATE_LIMITED``: too many messages; ``retry_after`` seconds when the server said."""

    retry_after: float | None = None


class NotFoundError(ServerError):
    """``NOT_FOUND``: the run or conversation is unknown or no longer kept."""


class ResumeError(NotFoundError):
    """A run the client was following cannot be continued without a gap.

    Raised after a dropped connection when the server no longer keeps the run (or the envelopes
    after the last ``seq`` seen), and if envelopes ever arrive with a gap: never a silent hole.
    ``last_seq`` is the last envelope the caller received.
    """

    last_seq: int = -1


class RunFailedError(ServerError):
    """The run ended with an ``error`` (``PROCESSING_ERROR`` unless a subclass says more)."""


class ModelFailedError(RunFailedError):
    """``MODEL_ERROR``: the chat model failed; ``retryable`` says whether to try later."""


class RunTimeoutError(RunFailedError):
    """``TIMEOUT``: a model request or the whole run took too long."""


class RunCancelledError(GraphwireError):
    """The run was stopped (``end`` ``cancelled``) before it answered."""

    def __init__(self, message: str, *, run_id: str | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id


class ConnectionFailedError(GraphwireError):
    """The server could not be reached, or the connection was closed for good.

    ``attempts`` is how many connections were tried in a row; ``close_code`` the WebSocket close
    code when the server closed in a way reconnecting cannot fix.
    """

    retryable = True

    def __init__(self, message: str, *, attempts: int = 0, close_code: int | None = None) -> None:
        super().__init__(message, retryable=close_code is None)
        self.attempts = attempts
        self.close_code = close_code


_CLASSES: dict[ErrorCode, type[ServerError]] = {
    ErrorCode.AUTH_REQUIRED: AuthenticationError,
    ErrorCode.AUTH_FAILED: AuthenticationError,
    ErrorCode.FORBIDDEN: ForbiddenError,
    ErrorCode.INVALID_MESSAGE: InvalidRequestError,
    ErrorCode.EMPTY_MESSAGE: InvalidRequestError,
    ErrorCode.MESSAGE_TOO_LARGE: MessageTooLargeError,
    ErrorCode.BUSY: BusyError,
    ErrorCode.RATE_LIMITED: RateLimitedError,
    ErrorCode.NOT_FOUND: NotFoundError,
    ErrorCode.MODEL_ERROR: ModelFailedError,
    ErrorCode.TIMEOUT: RunTimeoutError,
    ErrorCode.PROCESSING_ERROR: RunFailedError,
}


def server_error(
    data: ErrorData,
    *,
    run_id: str | None = None,
    session_id: str | None = None,
    status: int | None = None,
) -> ServerError:
    """The exception for an ``error`` payload (or an HTTP ``{code, message}`` body)."""
    return _CLASSES[data.code](
        data.message,
        code=data.code,
        retryable=data.retryable,
        run_id=run_id,
        session_id=session_id,
        status=status,
    )


def resume_error(message: str, *, run_id: str, last_seq: int) -> ResumeError:
    """A :class:`ResumeError` for ``run_id``, whose last envelope seen was ``last_seq``."""
    error = ResumeError(message, code=ErrorCode.NOT_FOUND, run_id=run_id)
    error.last_seq = last_seq
    return error
