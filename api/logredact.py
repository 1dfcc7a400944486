"""Keep tokens out of the logs: uvicorn logs every WebSocket URL, ``?token=…`` included.

:func:`install_log_redaction` puts a :class:`RedactingFilter` on uvicorn's and graphwire's loggers
and on the root logger's handlers. Call it after logging is configured (uvicorn's ``dictConfig``
replaces handlers, and their filters with them; loggers keep theirs).

Example:
    >>> redact_log_text('GET /ws/chat?token=abc&x=1 HTTP/1.1')
    'GET /ws/chat?token=***&x=1 HTTP/1.1'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from transport.errors import redact

__all__ = ["REDACTED_LOGGERS", "RedactingFilter", "install_log_redaction", "redact_log_text"]

REDACTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "graphwire")

_SECRET_NAMES = r"(?:access[_-]?token|id[_-]?token|token|api[_-]?key|apikey|secret|password)"

# Secrets in the shapes of logged URLs, headers and frames. What these find is replaced here and
# kept away from transport.errors.redact, whose ``token=\S+`` rule would swallow the rest of a
# query string (``?token=abc&x=1`` must become ``?token=***&x=1``); the text between them goes
# through redact.
_LOG_SECRETS = re.compile(
    "|".join(
        (
            # ?token=abc&x=1
            rf"([?&;]{_SECRET_NAMES}=)[^&#\s\"']*",
            # Authorization: Basic dXNlcjpw (the scheme goes too)
            r"\b((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)"
            r"(?:(?:bearer|basic|digest|negotiate|token)\s+)?[^\s\"',;&]+",
            # {"token": "abc"} or {'password': 'abc'}
            rf"([\"']{_SECRET_NAMES}[\"']\s*:\s*[\"'])[^\"']*",
        )
    ),
    re.IGNORECASE,
)
_MARK = "_graphwire_redacted"
_WITHHELD = "[log message withheld: it could not be redacted]"


def redact_log_text(text: str) -> str:
    """``text`` with tokens, keys, passwords and credentials replaced by ``***``.

    >>> redact_log_text("Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2ln")
    'Authorization: ***'
    """
    parts: list[str] = []
    start = 0
    for match in _LOG_SECRETS.finditer(text):
        name = next(group for group in match.groups() if group is not None)
        parts += [redact(text[start : match.start()]), f"{name}***"]
        start = match.end()
    parts.append(redact(text[start:]))
    return "".join(parts)


class RedactingFilter(logging.Filter):
    """Rewrites each record so that no secret reaches a handler; never drops or raises.

    The arguments of a record are redacted one by one when that is enough, so that formatters
    which read ``record.args`` (uvicorn's access formatter unpacks five of them) keep working;
    otherwise the record becomes its redacted message with no arguments.

    >>> record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1,
    ...                            '%s - "WebSocket %s" [accepted]',
    ...                            ("127.0.0.1:5000", "/ws?token=abc"), None)
    >>> RedactingFilter().filter(record), record.getMessage()
    (True, '127.0.0.1:5000 - "WebSocket /ws?token=***" [accepted]')
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _MARK, False):  # a logger's filter and a handler's both saw it
            return True
        try:
            _redact_message(record)
            _redact_traceback(record)
        except Exception:
            record.msg, record.args = _WITHHELD, None
            record.exc_info = record.exc_text = record.stack_info = None
        setattr(record, _MARK, True)
        return True


def install_log_redaction(loggers: Iterable[str] = REDACTED_LOGGERS) -> None:
    """Attach a :class:`RedactingFilter` to ``loggers``, their handlers and the root's handlers.

    Idempotent: a logger or handler that has one already gets no second.

    Example, once logging is configured (e.g. in the server's lifespan)::

        install_log_redaction()
    """
    targets: list[logging.Filterer] = []
    for name in loggers:
        logger = logging.getLogger(name)
        targets += [logger, *logger.handlers]
    targets += logging.getLogger().handlers
    shared = RedactingFilter()
    for target in targets:
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(shared)


def _redact_message(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # the arguments do not fit the template: keep both, readable and redacted
        record.msg = redact_log_text(
            f"{_safe_str(record.msg)} (arguments that did not fit: {_safe_repr(record.args)})"
        )
        record.args = None
        return
    clean = redact_log_text(message)
    if clean == message:
        return
    if isinstance(record.msg, str) and isinstance(record.args, tuple) and record.args:
        args = tuple(redact_log_text(a) if isinstance(a, str) else a for a in record.args)
        try:
            rebuilt = record.msg % args
        except Exception:
            rebuilt = None
        if rebuilt is not None and redact_log_text(rebuilt) == rebuilt:
            record.args = args
            return
    record.msg, record.args = clean, None


def _redact_traceback(record: logging.LogRecord) -> None:
    """Format the traceback now (formatters reuse ``exc_text``) so that it can be redacted."""
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact_log_text(record.exc_text)
    if record.stack_info:
        record.stack_info = redact_log_text(record.stack_info)


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"
