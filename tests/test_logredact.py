"""Log redaction: no token or credential reaches a log handler, and ordinary lines are untouched."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from uvicorn.logging import AccessFormatter
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from graphwire.api.logredact import (
    REDACTED_LOGGERS,
    RedactingFilter,
    install_log_redaction,
    redact_log_text,
)
from graphwire.api.tokens import mint_token
from tests.server import running, server_settings

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
        (  # a header's value runs to the end of the line: what follows may be more of it
            "Authorization: Basic dXNlcjpwYXNz from %s",
            ("10.0.0.1",),
            "Authorization: ***",
        ),
        ("< %s: %s", ("authorization", f"Bearer {JWT[:30]} {JWT[30:]}"), "< authorization: ***"),
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


SPLIT = f"Bearer {JWT[:30]} {JWT[30:]}"  # a credential with a space inside


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # websockets' handshake lines at DEBUG (``< %s: %s``, one per header)
        (f"< authorization: {SPLIT}", "< authorization: ***"),
        (f"< Proxy-Authorization: {SPLIT}", "< Proxy-Authorization: ***"),
        ("< cookie: sid=abc def; theme=dark", "< cookie: ***"),
        ("> Set-Cookie: sid=abc; Path=/; HttpOnly", "> Set-Cookie: ***"),
        ("< x-api-key: key part two", "< x-api-key: ***"),
        ("< api-key: key part two", "< api-key: ***"),
        ("< X-Goog-Api-Key: abcdefgh", "< X-Goog-Api-Key: ***"),
        ("< x-auth-token: abc def", "< x-auth-token: ***"),
        (f"< sec-websocket-protocol: graphwire.v1, {JWT}", "< sec-websocket-protocol: ***"),
        ("authorization=Bearer a b", "authorization=***"),
        # a header line ends the value; the next line is left alone
        (f"Authorization: {SPLIT}\r\nHost: example.org", "Authorization: ***\r\nHost: example.org"),
        # header lists: tuples of bytes or strings, dicts, JSON, multi-valued
        (
            f"[(b'host', b'x'), (b'authorization', b'{SPLIT}'), (b'cookie', b'a=1; b=2')]",
            "[(b'host', b'x'), (b'authorization', b'***'), (b'cookie', b'***')]",
        ),
        (f"[('Authorization', '{SPLIT}')]", "[('Authorization', '***')]"),
        (f"{{'authorization': '{SPLIT}', 'host': 'x'}}", "{'authorization': '***', 'host': 'x'}"),
        (f'{{"Authorization": "{SPLIT}", "Host": "x"}}', '{"Authorization": "***", "Host": "x"}'),
        (f'[["authorization", "{SPLIT}"]]', '[["authorization", "***"]]'),
        ("{'set-cookie': ['a=1', 'b=2'], 'x': 1}", "{'set-cookie': [***], 'x': 1}"),
        ("{'cookie': \"it's=1; b=2\"}", "{'cookie': \"***\"}"),
        (f"Headers({{'authorization': '{SPLIT}'}})", "Headers({'authorization': '***'})"),
        # a raw request in a repr: the escaped line break ends the value
        (
            f"b'GET / HTTP/1.1\\r\\nAuthorization: {SPLIT}\\r\\nHost: x\\r\\n'",
            "b'GET / HTTP/1.1\\r\\nAuthorization: ***\\r\\nHost: x\\r\\n'",
        ),
        (f"['Authorization: {SPLIT}', 'Host: x']", "['Authorization: ***', 'Host: x']"),
        # JSON frames, escaped quotes included
        ('{"type":"auth","token":"a\\"b c"}', '{"type":"auth","token":"***"}'),
        # query parameters: the whole value, to the next parameter
        ("/ws?token=ab'cd&x=1", "/ws?token=***&x=1"),
        ("'/ws?token=abcd', 'x'", "'/ws?token=***', 'x'"),
        ("/ws?x=1&access_token=a%20b&y=2", "/ws?x=1&access_token=***&y=2"),
        ("/cb?client_secret=abc&code_verifier=1", "/cb?client_secret=***&code_verifier=1"),
        ("/ws?a=1&authorization=Bearer%20x&y=2", "/ws?a=1&authorization=***&y=2"),
        # ordinary lines that merely mention the words
        ("run r_1 finished: tokens: 120", "run r_1 finished: tokens: 120"),
        ("the cookies: 3", "the cookies: 3"),
        ('{"type": "auth", "user": "alice"}', '{"type": "auth", "user": "alice"}'),
        ("< content-type: application/json", "< content-type: application/json"),
    ],
)
def test_a_credential_value_is_masked_whole_whatever_its_shape(text: str, expected: str) -> None:
    assert redact_log_text(text) == expected


def test_text_between_log_secrets_still_goes_through_transport_redact() -> None:
    line = "GET /x?token=abc&y=1 password=hunter2 key sk-abcdefgh1234\nAuthorization: Bearer q"
    assert redact_log_text(line) == "GET /x?token=***&y=1 password=*** key ***\nAuthorization: ***"


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


class _Keep(logging.Handler):
    """Every line that a real handler would write, formatted (tracebacks included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {self.format(record)}")


async def test_a_split_bearer_header_leaves_no_fragment_of_the_token_in_a_debug_log(
    restore_logging: None,
) -> None:
    secret = "s" * 32
    token = mint_token(secret=secret, sub="alice", ttl_seconds=60)
    keep = _Keep()
    names = ("graphwire", "uvicorn", "uvicorn.error", "uvicorn.access")
    levels = {name: logging.getLogger(name).level for name in names}
    logging.getLogger("graphwire").addHandler(keep)  # before the server: redaction covers it
    logging.getLogger("graphwire").setLevel(logging.DEBUG)
    try:
        settings = server_settings(log_level="DEBUG", jwt_secret=SecretStr(secret))
        with running(settings) as live:
            for name in ("uvicorn", "uvicorn.access"):  # uvicorn's dictConfig has run by now
                logging.getLogger(name).addHandler(keep)
            headers = {
                "Authorization": f"Bearer {token[:30]} {token[30:]}",
                "Cookie": f"session={token[:40]} {token[40:]}; theme=dark",
                "X-Api-Key": f"{token[:20]} {token[20:]}",
            }
            offered = [Subprotocol("graphwire.v1"), Subprotocol(token)]
            with pytest.raises(InvalidStatus) as refused:
                async with connect(live.ws, additional_headers=headers, subprotocols=offered):
                    pass
            assert refused.value.response.status_code == 401
    finally:
        for name in names:
            logging.getLogger(name).removeHandler(keep)
            logging.getLogger(name).setLevel(levels[name])
    handshake = [line for line in keep.lines if "< authorization:" in line.lower()]
    assert handshake, keep.lines  # the handshake's headers were logged, one line each
    joined = "\n".join(keep.lines)
    leaked = sorted({token[i : i + 8] for i in range(len(token) - 7)} & _windows(joined, 8))
    assert not leaked, [line for line in keep.lines if any(part in line for part in leaked)]


def _windows(text: str, width: int) -> set[str]:
    return {text[i : i + width] for i in range(len(text) - width + 1)}
