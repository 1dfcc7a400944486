"""Log redaction: no token or credential reaches a log handler, and ordinary lines are untouched."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest
from uvicorn.logging import AccessFormatter

from api.logredact import (
    REDACTED_LOGGERS,
    RedactingFilter,
    install_log_redaction,
    redact_log_text,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl"
ACCESS_FORMAT = '%s - "%s %s HTTP/%s" %d'


def record(msg: object, args: object = (), name: str = "graphwire.test") -> logging.LogRecord:
    made = logging.LogRecord(name, logging.INFO, __file__, 1, msg, None, None)
    made.args = args  # type: ignore[assignment]  # LogRecord's own unwrapping of a lone dict is skipped
    return made


def filtered(made: logging.LogRecord) -> logging.LogRecord:
    assert RedactingFilter().filter(made) is True
    return made


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Take every RedactingFilter back off the loggers and handlers a test touched."""
    yield
    root = logging.getLogger()
    for target in [*map(logging.getLogger, REDACTED_LOGGERS), root, *root.handlers]:
        for handler in [target, *getattr(target, "handlers", [])]:
            for f in list(handler.filters):
                if isinstance(f, RedactingFilter):
                    handler.removeFilter(f)


def test_a_uvicorn_access_record_keeps_its_five_arguments() -> None:
    args = ("127.0.0.1:51000", "GET", f"/ws/chat?token={JWT}&x=1", "1.1", 101)
    made = filtered(record(ACCESS_FORMAT, args, name="uvicorn.access"))
    assert made.args == ("127.0.0.1:51000", "GET", "/ws/chat?token=***&x=1", "1.1", 101)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(made)
    assert line == '127.0.0.1:51000 - "GET /ws/chat?token=***&x=1 HTTP/1.1" 101 Switching Protocols'


def test_a_uvicorn_websocket_line_is_redacted() -> None:
    made = filtered(
        record(
            '%s - "WebSocket %s" [accepted]',
            ("127.0.0.1:5", "/ws/chat?x=1&token=opaque-value"),
            name="uvicorn.error",
        )
    )
    assert made.getMessage() == '127.0.0.1:5 - "WebSocket /ws/chat?x=1&token=***" [accepted]'


@pytest.mark.parametrize(
    ("msg", "args", "expected"),
    [
        (
            "headers: Authorization: Bearer %s",
            ("opaque-token-value",),
            "headers: Authorization: ***",
        ),
        ("authorization: %s", (f"Bearer {JWT}",), "authorization: ***"),
        (
            "Authorization: Basic dXNlcjpwYXNz from %s",
            ("10.0.0.1",),
            "Authorization: *** from 10.0.0.1",
        ),
        (
            "headers %s",
            ({"authorization": "Bearer opaque-value", "host": "x"},),
            "headers {'authorization': '***', 'host': 'x'}",
        ),
        ("token=%s", ("opaque-value",), "token=***"),
        (
            "frame %s",
            ('{"type": "auth", "token": "opaque-value"}',),
            'frame {"type": "auth", "token": "***"}',
        ),
        ("got %s", (JWT,), "got ***"),
        (f"literal {JWT} in the template", (), "literal *** in the template"),
        ("calling with api_key=sk-abcdefghijkl", (), "calling with api_key=***"),
    ],
)
def test_secrets_in_a_message_are_redacted(
    msg: str, args: tuple[object, ...], expected: str
) -> None:
    made = filtered(record(msg, args))
    assert made.getMessage() == expected


def test_a_normal_line_is_unchanged() -> None:
    args = ("127.0.0.1:51000", "GET", "/api/health?verbose=1", "1.1", 200)
    made = filtered(record(ACCESS_FORMAT, args, name="uvicorn.access"))
    assert made.msg == ACCESS_FORMAT
    assert made.args is args
    plain = filtered(record("run %s finished in %.1f ms", ("r_1", 12.5)))
    assert plain.getMessage() == "run r_1 finished in 12.5 ms"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/ws/chat?token=abc&x=1", "/ws/chat?token=***&x=1"),
        ("/ws/chat?x=1&token=abc", "/ws/chat?x=1&token=***"),
        ("/ws/chat?access_token=abc#frag", "/ws/chat?access_token=***#frag"),
        ("/ws/chat?token=", "/ws/chat?token=***"),
        ("/ws/chat?tokens=3&x=1", "/ws/chat?tokens=3&x=1"),
        ("/ws/chat?x=1", "/ws/chat?x=1"),
        ("a plain sentence about nothing", "a plain sentence about nothing"),
        ("{'password': 'hunter2'}", "{'password': '***'}"),
        ("Proxy-Authorization: Digest abc", "Proxy-Authorization: ***"),
    ],
)
def test_redact_log_text(text: str, expected: str) -> None:
    assert redact_log_text(text) == expected


def test_text_between_log_secrets_still_goes_through_transport_redact() -> None:
    line = "GET /x?token=abc&y=1 password=hunter2 Authorization: Bearer q key sk-abcdefgh1234"
    assert redact_log_text(line) == "GET /x?token=***&y=1 password=*** Authorization: *** key ***"


def test_a_record_with_broken_arguments_does_not_raise() -> None:
    made = filtered(record("%s and %s", ("token=opaque-value",)))
    message = made.getMessage()
    assert "opaque-value" not in message
    assert "%s and %s" in message and "token=***" in message


def test_a_record_whose_message_cannot_be_printed_does_not_raise() -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no")

        def __repr__(self) -> str:
            raise RuntimeError("no")

    made = filtered(record(Unprintable(), (Unprintable(),)))
    assert "unprintable Unprintable" in made.getMessage()


def test_mapping_arguments_are_redacted() -> None:
    made = filtered(record("user %(user)s token %(token)s", {"user": "alice", "token": JWT}))
    assert made.getMessage() == "user alice token ***"


def test_a_traceback_is_redacted() -> None:
    try:
        raise ValueError(f"could not parse {JWT}")
    except ValueError:
        made = record("request failed")
        made.exc_info = sys.exc_info()
    line = logging.Formatter().format(filtered(made))
    assert "ValueError: could not parse ***" in line
    assert JWT not in line


def test_a_record_is_redacted_once() -> None:
    made = filtered(record("got %s", (JWT,)))
    assert made.args == ("***",)
    made.msg, made.args = "changed after the first pass: %s", ("kept",)
    assert filtered(made).getMessage() == "changed after the first pass: kept"


def test_install_is_idempotent(restore_logging: None) -> None:
    handler = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        install_log_redaction()
        install_log_redaction()
        for name in REDACTED_LOGGERS:
            filters = logging.getLogger(name).filters
            assert len([f for f in filters if isinstance(f, RedactingFilter)]) == 1, name
        assert len([f for f in handler.filters if isinstance(f, RedactingFilter)]) == 1
    finally:
        root.removeHandler(handler)


def test_installed_redaction_covers_child_loggers(restore_logging: None) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    parent = logging.getLogger("graphwire")
    parent.addHandler(handler)
    old_level = parent.level
    parent.setLevel(logging.INFO)
    try:
        install_log_redaction()
        logging.getLogger("graphwire.somewhere.deep").info("connect ?token=%s&x=1", "opaque-value")
    finally:
        parent.removeHandler(handler)
        parent.setLevel(old_level)
    assert stream.getvalue() == "connect ?token=***&x=1\n"
