"""Keep tokens out of the logs: uvicorn logs every WebSocket URL, ``?token=…`` included, and at
DEBUG every handshake header (``< authorization: Bearer …``, one ``< %s: %s`` line each).

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

from graphwire.transport.protocol.errors import redact

__all__ = ["REDACTED_LOGGERS", "RedactingFilter", "install_log_redaction", "redact_log_text"]

REDACTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "graphwire")

_SECRET_NAMES = (
    r"(?:(?:access|id|refresh|session)[_-]?token|token|jwt|api[_-]?key|apikey"
    r"|client[_-]?secret|secret|password|passwd|authorization|signature)"
)
# Headers whose value is a credential, or may carry one (a token offered as a WebSocket
# subprotocol). Their value is masked whole, whatever it looks like: ``Bearer <a> <b>`` has a
# space inside, a cookie has ``;`` and ``=``, a subprotocol list has commas.
_SECRET_HEADERS = (
    r"(?:proxy[-_])?authorization|(?:set[-_])?cookie2?|sec[-_]websocket[-_]protocol"
    r"|(?:x[-_](?:[a-z0-9]+[-_])*?)?(?:api[-_]?key|apikey"
    r"|(?:auth|access|id|refresh|session|security|csrf|xsrf|private)[-_]token)"
    r"|x[-_](?:[a-z0-9]+[-_])*?(?:auth|token|secret|password|key|signature)"
)


def _up_to_closing(quote: str) -> str:
    """The rest of a quoted string opened by group ``quote``: escapes skipped, quote kept."""
    return rf"(?:\\.|(?!(?P={quote}))[^\\])*"


# Secrets in the shapes of logged URLs, headers and frames. What these find is replaced here and
# kept away from graphwire.transport.protocol.errors.redact, whose ``token=\S+`` rule would swallow
# the rest of a query string (``?token=abc&x=1`` must become ``?token=***&x=1``); the text between
# them goes through redact. Each rule is (what is kept: the name and what opens the value, the
# value).
_RULES = {
    # ?token=abc&x=1, to the next parameter; a quote ends the value only where a quoted URL ends
    "query": (rf"[?&;]{_SECRET_NAMES}=", r"(?:[^&#\s\"']|[\"'](?![\s,;:)\]}>]|$))*"),
    # {'authorization': 'Bearer a b'}, {"token": "abc"}, JSON: the quoted value, whole
    "keyed": (
        rf"b?(?P<q1>[\"'])(?:{_SECRET_HEADERS}|{_SECRET_NAMES})(?P=q1)\s*[:=]\s*b?(?P<v1>[\"'])",
        _up_to_closing("v1"),
    ),
    # (b'authorization', b'Bearer a b') in a header list, ["cookie", "a=1; b=2"] in JSON
    "paired": (
        rf"[(\[]\s*b?(?P<q2>[\"'])(?:{_SECRET_HEADERS})(?P=q2)\s*,\s*b?(?P<v2>[\"'])",
        _up_to_closing("v2"),
    ),
    # {'set-cookie': ['a=1', 'b=2']}: every value of the list
    "listed": (rf"b?(?P<q3>[\"'])(?:{_SECRET_HEADERS})(?P=q3)\s*[:=]\s*[\[(]", r"[^\])]*"),
    # 'Authorization: Bearer a b' inside a quoted string: to its end or an escaped line break
    "inquotes": (
        rf"(?P<q4>[\"'])(?:{_SECRET_HEADERS})\s*[:=]\s*",
        r"(?:(?!(?P=q4)|\\[rn])[^\r\n])*",
    ),
    # Authorization: Bearer a b (a header line): the whole value, to the end of the line
    "header": (
        rf"(?:(?<=\\[rn])|(?<![\w-]))(?:{_SECRET_HEADERS})\s*[:=]\s*",
        r"(?:(?!\\[rn])[^\r\n])*",
    ),
}
_LOG_SECRETS = re.compile(
    "|".join(f"(?P<{name}>{kept}){value}" for name, (kept, value) in _RULES.items()),
    re.IGNORECASE,
)
_MARK = "_graphwire_redacted"
_WITHHELD = "[log message withheld: it could not be redacted]"


def redact_log_text(text: str) -> str:
    """``text`` with tokens, keys, passwords and credentials replaced by ``***``.

    A credential header's value is masked whole, to the end of the value (of the line, or of
    the quoted string it is logged in), whatever its shape:

    >>> redact_log_text("< authorization: Bearer eyJhbGciOi.eyJz dWIi.c2ln")
    '< authorization: ***'
    >>> redact_log_text("[(b'cookie', b'sid=1; theme=dark'), (b'host', b'example.org')]")
    "[(b'cookie', b'***'), (b'host', b'example.org')]"
    """
    parts: list[str] = []
    start = 0
    for match in _LOG_SECRETS.finditer(text):
        kept = next(match[name] for name in _RULES if match[name] is not None)
        parts += [redact(text[start : match.start()]), f"{kept}***"]
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
        # Redacted one by one, the arguments lose their context (``Bearer a b`` alone keeps
        # its ``b``): they stand only if they give exactly the redacted whole message.
        if rebuilt == clean:
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
