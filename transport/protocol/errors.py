"""Project exceptions and the one place where any exception becomes a protocol error.

Every graphwire exception carries an :class:`ErrorCode`. Foreign exceptions (the model provider,
LangGraph, asyncio) are translated by :func:`describe_exception`; their own text is never shown to
a client, because it can carry URLs, keys or stack details.
"""

from __future__ import annotations

import logging
import re
import traceback

from graphwire.transport.protocol.contract import ErrorCode, ErrorData

__all__ = [
    "ConfigurationError",
    "GraphwireError",
    "ModelError",
    "NotFoundError",
    "ShuttingDownError",
    "describe_exception",
    "redact",
]

log = logging.getLogger("graphwire.errors")


class GraphwireError(Exception):
    """Base of graphwire's exceptions; ``message`` is safe to show to a person."""

    code: ErrorCode = ErrorCode.PROCESSING_ERROR
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable


class ConfigurationError(GraphwireError):
    """A setting is missing or wrong; raised at start, before anything is served."""


class ModelError(GraphwireError):
    """The chat model failed."""

    code = ErrorCode.MODEL_ERROR


class NotFoundError(GraphwireError):
    code = ErrorCode.NOT_FOUND


class ShuttingDownError(GraphwireError):
    """The server is shutting down: it starts nothing more, and a run it stopped did not answer.

    A ``PROCESSING_ERROR`` that may be retried (against the restarted server or another
    process); HTTP answers it with 503 instead of 500, since nothing went wrong.
    """

    retryable = True


_SECRET_PATTERNS = (
    re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*"),  # a JWT
    re.compile(r"\bsk-[\w-]{6,}"),  # an OpenAI-style key
    re.compile(r"(?i)\bbearer\s+\S+"),
    re.compile(r"(?i)\b(api[_-]?key|token|secret|password|authorization)(\s*[=:]\s*)\S+"),
)


def redact(text: str) -> str:
    """``text`` with anything that looks like a key, token or password replaced by ``***``.

    >>> redact("failed: api_key=sk-abcdef123456")
    'failed: api_key=***'
    """
    for pattern in _SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
        else:
            text = pattern.sub("***", text)
    return text


def _log_unexpected(exc: BaseException) -> None:
    """Log an unknown exception with its stack; its message is redacted first."""
    stack = "".join(traceback.format_tb(exc.__traceback__))
    log.error(
        "unexpected error in a run: %s: %s\n%s", type(exc).__qualname__, redact(str(exc)), stack
    )


_GENERIC = {
    ErrorCode.MODEL_ERROR: "The language model failed to answer.",
    ErrorCode.TIMEOUT: "The answer took too long and was abandoned.",
    ErrorCode.PROCESSING_ERROR: "The question could not be processed because of an internal error.",
}


def describe_exception(exc: BaseException) -> ErrorData:
    """Translate any exception into the ``error`` payload a client sees.

    >>> describe_exception(TimeoutError()).code
    <ErrorCode.TIMEOUT: 'TIMEOUT'>
    """
    if isinstance(exc, GraphwireError):
        return ErrorData(code=exc.code, message=exc.message, retryable=exc.retryable)
    if isinstance(exc, TimeoutError):
        return ErrorData(
            code=ErrorCode.TIMEOUT, message=_GENERIC[ErrorCode.TIMEOUT], retryable=True
        )
    provider = _describe_provider_error(exc)
    if provider is not None:
        return provider
    _log_unexpected(exc)
    return ErrorData(
        code=ErrorCode.PROCESSING_ERROR,
        message=_GENERIC[ErrorCode.PROCESSING_ERROR],
        retryable=False,
    )


_RETRYABLE_STATUS = frozenset({408, 409, 429})


def _describe_provider_error(exc: BaseException) -> ErrorData | None:
    """OpenAI-compatible provider errors (langchain-openai raises openai's exception classes,
    or subclasses of them); their text may echo the key, so only the status is kept.

    Overloaded or unreachable (408, 409, 429, 5xx, connection errors, an error mid-stream):
    ``MODEL_ERROR`` retryable; a timeout: ``TIMEOUT``; any other refusal (401 bad key, 404
    unknown model, 400 bad request): ``MODEL_ERROR`` not retryable.
    """
    try:
        import openai
    except ImportError:  # pragma: no cover - openai comes with langchain-openai
        return None
    if isinstance(exc, openai.APITimeoutError):
        log.warning("model provider timed out")
        return ErrorData(
            code=ErrorCode.TIMEOUT, message=_GENERIC[ErrorCode.TIMEOUT], retryable=True
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        log.warning("model provider answered HTTP %s (%s)", status, type(exc).__name__)
        if status in _RETRYABLE_STATUS or status >= 500:
            return _unavailable()
        return ErrorData(
            code=ErrorCode.MODEL_ERROR,
            message=f"The language model refused the request (HTTP {status}).",
            retryable=False,
        )
    if isinstance(exc, openai.APIError):  # connection errors, an error event mid-stream
        log.warning("model provider unavailable: %s", type(exc).__name__)
        return _unavailable()
    return None


def _unavailable() -> ErrorData:
    return ErrorData(
        code=ErrorCode.MODEL_ERROR,
        message="The language model is unavailable right now; try again shortly.",
        retryable=True,
    )
