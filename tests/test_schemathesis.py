"""Schemathesis against the live ``/openapi.json``: no request the schema allows (positive) or
almost allows (negative) gets a 5xx, and every 4xx is the protocol's ``{code, message}`` body.

A real uvicorn on a free port, loaded lazily inside the tests (the server only exists there), each
operation fuzzed as its own test with Hypothesis over schemathesis' case strategies. Schemathesis'
own pytest integration (``schemathesis.pytest.from_fixture(...).parametrize()``) is not used: in
4.32 it reads ``request.node._nodeid``, which pytest 9 no longer has. The last tests send by hand
the hostile bodies schemathesis does not think of (deep, long numbers, lone surrogates, too big).

Bounded: MAX_EXAMPLES cases per operation and auth mode, each request with a timeout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from graphwire.api.tokens import mint_token
from graphwire.transport.protocol import ErrorCode
from tests.server import Running, running, server_settings

SECRET = "fuzz-secret-0123456789-abcdefghijkl"
MAX_EXAMPLES = 40
TIMEOUT = 10.0  # seconds per request: a stream that never ends fails instead of hanging

# Every operation of /openapi.json, each fuzzed below; test_every_operation_is_fuzzed keeps this
# list equal to the live schema's, so a new route cannot go untested (none is left out: the
# streaming GETs end, since runs finish at once with offline_token_delay=0 and an unknown run is
# a 404).
OPERATIONS = [
    ("POST", "/api/v1/chat"),
    ("POST", "/api/v1/chat/stream"),
    ("GET", "/api/v1/chat/stream"),
    ("GET", "/api/v1/runs/{run_id}/stream"),
    ("POST", "/api/v1/runs/{run_id}/cancel"),
    ("GET", "/api/v1/sessions/{session_id}/messages"),
    ("DELETE", "/api/v1/sessions/{session_id}/messages"),
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/metrics"),
]
AUTH_MODES = ["off", "valid token", "generated tokens"]

# The live server answers other requests in its own thread meanwhile, and langgraph's checkpoint
# ids draw from the global `random`: Hypothesis sees that state change during a draw and blames
# the strategy (a HypothesisDeprecationWarning, an error under filterwarnings = error).
SERVER_USES_RANDOM = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies"
    ":hypothesis.errors.HypothesisDeprecationWarning"
)


def serve(**overrides: Any) -> Iterator[Running]:
    """A server whose rate limits never answer 429 (that would hide what the request did)."""
    settings_ = server_settings(
        rate_limit_per_minute=100_000, user_rate_limit_per_minute=100_000, **overrides
    )
    with running(settings_) as server:
        yield server


@pytest.fixture(scope="module")
def open_server() -> Iterator[Running]:
    yield from serve()


@pytest.fixture(scope="module")
def auth_server() -> Iterator[Running]:
    yield from serve(jwt_secret=SecretStr(SECRET))


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # 127.0.0.1 only: no proxy from the environment
        yield session


def load_schema(server: Running) -> Any:
    return schemathesis.openapi.from_url(f"{server.http}/openapi.json", timeout=TIMEOUT)


def problem_body(ctx: Any, response: Any, case: Any) -> None:
    """A schemathesis check: a 4xx answer is JSON ``{code, message}`` with a protocol code."""
    if not 400 <= response.status_code < 500:
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"a {response.status_code} whose body is not JSON") from None
    assert isinstance(body, dict), f"a {response.status_code} whose body is not an object"
    assert set(body) == {"code", "message"}, f"a {response.status_code} with keys {sorted(body)}"
    assert body["code"] in set(ErrorCode), f"a {response.status_code} with code {body['code']!r}"
    assert isinstance(body["message"], str) and body["message"], "an empty message"


def test_every_operation_is_fuzzed(open_server: Running) -> None:
    schema = load_schema(open_server)
    live = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    assert live == set(OPERATIONS)


@SERVER_USES_RANDOM
@pytest.mark.parametrize("auth", AUTH_MODES)
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_request_gets_a_server_error_or_an_unshaped_refusal(
    request: pytest.FixtureRequest,
    session: requests.Session,
    method: str,
    path: str,
    auth: str,
) -> None:
    server: Running = request.getfixturevalue("open_server" if auth == "off" else "auth_server")
    operation = load_schema(server)[path][method]
    # "valid token": a fixed Authorization header gets every request past authentication (it
    # wins over a generated ?token=); "generated tokens": schemathesis' own, mostly refused.
    fixed = None
    if auth == "valid token":
        token = mint_token(secret=SECRET, sub="fuzzer", ttl_seconds=600)
        fixed = {"Authorization": f"Bearer {token}"}
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE, headers=fixed),
        operation.as_strategy(GenerationMode.NEGATIVE, headers=fixed),
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=cases)
    def fuzz(case: Any) -> None:
        case.call_and_validate(
            base_url=server.http,
            session=session,
            timeout=TIMEOUT,
            checks=[not_a_server_error, problem_body],
        )

    fuzz()


# --------------------------------------------------------------------------- hostile bodies

DEEP = "[" * 10_000 + "]" * 10_000


def chat_body(**fields: str) -> str:
    """A chat request body with ``fields`` written in as raw JSON text."""
    return "{" + ",".join(f'"{name}":{raw}' for name, raw in fields.items()) + "}"


INVALID_BODIES: list[tuple[str, bytes]] = [
    ("deep options", chat_body(message='"hi"', options='{"x":' + DEEP + "}").encode()),
    ("deep body", ("[" * 30_000 + "]" * 30_000).encode()),
    ("deep open", ("[" * 60_000).encode()),
    ("long int", chat_body(message='"hi"', options='{"x":' + "9" * 5_000 + "}").encode()),
    ("long float", chat_body(message='"hi"', options='{"x":1.' + "5" * 5_000 + "}").encode()),
    ("overflowing float", chat_body(message='"hi"', options='{"x":1e999}').encode()),
    ("NaN", chat_body(message='"hi"', options='{"x":NaN}').encode()),
    ("surrogate message", chat_body(message='"a\\ud800b"').encode()),
    ("surrogate session_id", chat_body(message='"hi"', session_id='"s\\udfff"').encode()),
    ("surrogate run_id", chat_body(message='"hi"', run_id='"\\udc00\\ud800"').encode()),
    ("surrogate option key", chat_body(message='"hi"', options='{"\\ud800":1}').encode()),
    ("surrogate option value", chat_body(message='"hi"', options='{"k":["\\ud800"]}').encode()),
    ("surrogate as UTF-8 bytes", b'{"message":"\xed\xa0\x80"}'),
    ("invalid UTF-8", b'{"message":"\xff\xfe"}'),
    ("not JSON", b"hello"),
    ("not an object", b'["hi"]'),
    ("empty", b""),
    ("id with a space", chat_body(message='"hi"', session_id='"a b"').encode()),
    ("id too long", chat_body(message='"hi"', run_id='"' + "r" * 129 + '"').encode()),
    ("id with a newline", chat_body(message='"hi"', session_id='"s_1\\n"').encode()),
    ("unknown field", chat_body(message='"hi"', colour='"red"').encode()),
]


def refusal(response: httpx.Response) -> tuple[int, str | None]:
    """The status and the code of a ``{code, message}`` body (None if the body is not one)."""
    try:
        body = response.json()
    except ValueError:
        return response.status_code, None
    shaped = isinstance(body, dict) and set(body) == {"code", "message"} and body["message"]
    return response.status_code, body["code"] if shaped else None


def post(server: Running, route: str, content: bytes | Iterator[bytes], **headers: str) -> Any:
    with httpx.Client(base_url=server.http, timeout=TIMEOUT, trust_env=False) as client:
        headers = {"Content-Type": "application/json", **headers}
        response = client.post(route, content=content, headers=headers)
    return response


@pytest.mark.parametrize("route", ["/api/v1/chat", "/api/v1/chat/stream"])
@pytest.mark.parametrize(("name", "body"), INVALID_BODIES, ids=[n for n, _ in INVALID_BODIES])
def test_hostile_bodies_are_invalid_messages(
    open_server: Running, route: str, name: str, body: bytes
) -> None:
    response = post(open_server, route, body)
    assert refusal(response) == (422, "INVALID_MESSAGE"), response.text[:300]


def chunks(data: bytes, size: int = 8_192) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("auth", ["off", "on, no token"])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize("route", ["/api/v1/chat", "/api/v1/chat/stream"])
def test_a_body_over_the_limit_is_too_large(
    request: pytest.FixtureRequest, route: str, framing: str, auth: str
) -> None:
    """Over ``max_body_bytes`` (64 KiB by default): 413 whether or not the size was announced,
    and before authentication (an anonymous client must not make the server hold it)."""
    server: Running = request.getfixturevalue("open_server" if auth == "off" else "auth_server")
    body = json.dumps({"message": "hi", "options": {"pad": "x" * 70_000}}).encode()
    response = post(server, route, body if framing == "content-length" else chunks(body))
    assert refusal(response) == (413, "MESSAGE_TOO_LARGE"), response.text[:300]


@pytest.mark.parametrize(
    "query",
    [
        {"message": "hi", "session_id": "a b"},
        {"message": "hi", "run_id": "r" * 129},
        {"message": "hi", "session_id": "s_1\n"},
        {"message": "hi", "run_id": "é"},
    ],
)
def test_invalid_ids_in_a_query_are_invalid_messages(
    open_server: Running, query: dict[str, str]
) -> None:
    with httpx.Client(base_url=open_server.http, timeout=TIMEOUT, trust_env=False) as client:
        response = client.get("/api/v1/chat/stream", params=query)
    assert refusal(response) == (422, "INVALID_MESSAGE"), response.text[:300]


# --------------------------------------------------------------------------- Last-Event-ID

FINISHED_RUN = "r_fuzz-last-event-id"


@pytest.fixture(scope="module")
def finished_run(open_server: Running) -> str:
    """A run that has ended, for ``Last-Event-ID`` to name."""
    response = post(
        open_server, "/api/v1/chat", b'{"message":"hi","run_id":"%s"}' % FINISHED_RUN.encode()
    )
    assert response.status_code == 200, response.text
    return FINISHED_RUN


# Header values are bytes (latin-1 on the way in): ``²`` and ``¹`` are digits to str.isdigit.
seqs = st.one_of(
    st.text(alphabet="0123456789\xb2\xb3\xb9", max_size=30),
    st.sampled_from(["-1", " 1", "1 ", "+1", "1_0", "0x1", "9" * 4_301, "9" * 10_000]),
)
ILLEGAL = bytes([*range(0x09), *range(0x0A, 0x20), 0x7F])
"""Bytes HTTP forbids in a header value (the server's parser answers 400 before the app)."""


def header_value(raw: bytes) -> bytes:
    """``raw`` as a legal header value: no control bytes, no leading or trailing blanks."""
    return raw.translate(None, ILLEGAL).strip(b" \t")


header_bytes = st.binary(max_size=60).map(header_value)


@st.composite
def last_event_ids(draw: st.DrawFn) -> bytes:
    """``<run_id>:<seq>``-shaped header values, with the run's own id or another, or any bytes."""
    if draw(st.booleans()):
        return draw(header_bytes)
    run_id = draw(st.sampled_from([FINISHED_RUN, "r_other", "", "a b"]) | st.text(max_size=10))
    return header_value(run_id.encode() + b":" + draw(seqs).encode("latin-1"))


@SERVER_USES_RANDOM
@settings(max_examples=60, deadline=None, database=None)
@given(value=last_event_ids())
@example(value=b"x:\xb9")  # "x:¹": "¹".isdigit(), int("¹") raises
@example(value=FINISHED_RUN.encode() + b":\xb2")
@example(value=FINISHED_RUN.encode() + b":" + b"9" * 5_000)  # past int()'s 4,300 digits
@example(value=FINISHED_RUN.encode() + b":" + b"9" * 30)
def test_any_last_event_id_is_answered_without_a_server_error(
    open_server: Running, finished_run: str, value: bytes
) -> None:
    """An ``EventSource`` reconnect's header, on both routes that honour it: a stream, a 204 or
    a ``{code, message}`` refusal, never a 5xx."""
    routes = [f"/api/v1/runs/{finished_run}/stream", "/api/v1/chat/stream?message=hi"]
    for route in routes:
        # A fresh client each time: a 500 closes the connection under a pooled one.
        with httpx.Client(base_url=open_server.http, timeout=TIMEOUT, trust_env=False) as client:
            response = client.get(route, headers={"Last-Event-ID": value})
        status = response.status_code
        assert status < 500, f"GET {route} Last-Event-ID: {value[:60]!r} -> {status}"
        if status >= 400:
            assert refusal(response)[1] in set(ErrorCode), f"{status} {response.text[:200]!r}"
