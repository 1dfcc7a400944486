"""Fuzzing the frame reader (graphwire.api.ws.frames) and the HTTP request model (graphwire.api.http.routes.ChatRequest).

Whatever a client sends, the reader gives a frame of the protocol or refuses it with an error the
connection can send back: never another exception, and nothing it lets through (or names in the
refusal) fails to encode again as UTF-8 further on. Bounded: a few seconds in all.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from graphwire.api.http.routes import ChatRequest
from graphwire.api.ws.frames import FrameRefused, read_frame
from graphwire.transport.protocol import (
    AuthFrame,
    ErrorCode,
    ErrorEnvelope,
    MessageFrame,
    PingFrame,
    ResumeFrame,
    StopFrame,
    SubscribeFrame,
    UnsubscribeFrame,
    parse_client_frame,
)
from graphwire.transport.protocol.errors import describe_exception
from graphwire.transport.protocol.ids import MAX_ID_CHARS

MAX_BYTES = 65_536
FRAMES = (
    AuthFrame,
    MessageFrame,
    StopFrame,
    ResumeFrame,
    SubscribeFrame,
    UnsubscribeFrame,
    PingFrame,
)
REFUSALS = {ErrorCode.INVALID_MESSAGE, ErrorCode.MESSAGE_TOO_LARGE}
FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --------------------------------------------------------------------------- the properties


def strings_in(value: Any) -> list[str]:
    """Every string in ``value`` (dict keys too), walked without recursion: it may be deep."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            found.extend(key for key in item if isinstance(key, str))
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return found


def assert_utf8(value: Any) -> None:
    for text in strings_in(value):
        text.encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate


def utf8_size(message: dict[str, Any]) -> int | None:
    """The frame's size in bytes, as a socket would carry it; None if UTF-8 cannot carry it."""
    text = message.get("text")
    if text is None:
        return len(message.get("bytes") or b"")
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def check_frame(message: dict[str, Any], *, max_bytes: int = MAX_BYTES) -> None:
    """read_frame gives a frame or a FrameRefused (nothing else), and both encode again."""
    try:
        frame = read_frame(message, max_bytes=max_bytes)
    except FrameRefused as refused:
        event(f"refused: {refused.error.code.value}")
        assert refused.error.code in REFUSALS, refused.error.code
        size = utf8_size(message)
        if size is not None:
            too_large = size > max_bytes
            assert (refused.error.code is ErrorCode.MESSAGE_TOO_LARGE) is too_large
        # What the connection sends for the refusal: it must serialise and go out as UTF-8.
        envelope = ErrorEnvelope(
            run_id=refused.run_id,
            session_id=refused.session_id,
            data=describe_exception(refused.error),
        )
        envelope.to_json().encode("utf-8")
        return
    event(f"read: {frame.type}")
    assert isinstance(frame, FRAMES), type(frame)
    assert utf8_size(message) is not None  # a frame read from text UTF-8 cannot carry is a bug
    assert_utf8(frame.model_dump())
    again = frame.model_dump_json()
    again.encode("utf-8")
    assert parse_client_frame(again) == frame


def check_chat_request(parse: Any, value: Any) -> None:
    """ChatRequest gives a model or a ValidationError; a model's strings encode as UTF-8."""
    try:
        request = parse(value)
    except ValidationError:
        event("refused")
        return
    event("read")
    assert isinstance(request, ChatRequest)
    assert_utf8(request.model_dump())


# --------------------------------------------------------------------------- strategies

SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff", "\ud83d"]
any_char = st.characters(codec=None) | st.sampled_from(SURROGATES)
any_text = st.text(alphabet=any_char, max_size=40)
"""Any str, lone surrogates included."""

valid_ids = st.from_regex(rf"[A-Za-z0-9._:~-]{{1,{MAX_ID_CHARS}}}", fullmatch=True)
ids = st.one_of(
    valid_ids,
    any_text,
    st.sampled_from(["", " ", "a b", "s_1\n", "x" * (MAX_ID_CHARS + 1), "s_\ud800", "é"]),
)
numbers = st.one_of(
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),  # past int64 and MAX_NUMBER_CHARS
    st.floats(),  # NaN and infinities too: json.dumps writes them, JSON has none
)
scalars = st.one_of(st.none(), numbers, any_text)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4)
    ),
    max_leaves=20,
)
"""Anything json.dumps can write (and some it writes though JSON has no such thing)."""

texts = st.text(max_size=60) | any_text
"""Mostly text a socket can carry, sometimes with a lone surrogate."""
good_ids = valid_ids | ids
options = st.dictionaries(texts, json_values, max_size=3)
seqs = st.integers(min_value=-1, max_value=2**63) | st.integers(min_value=-(2**70), max_value=2**70)

# Each frame type's fields: (strategy of a right value, required).
FIELDS: dict[str, dict[str, tuple[st.SearchStrategy[Any], bool]]] = {
    "auth": {"token": (texts, True)},
    "message": {
        "message": (texts, True),
        "session_id": (good_ids, False),
        "run_id": (good_ids, False),
        "options": (options, False),
    },
    "stop": {"run_id": (good_ids, False)},
    "resume": {"run_id": (good_ids, True), "after_seq": (seqs, True)},
    "subscribe": {"session_id": (good_ids, True)},
    "unsubscribe": {"session_id": (good_ids, True)},
    "ping": {},
}
FIELD_NAMES = sorted({name for fields in FIELDS.values() for name in fields} | {"extra"})
wrong_values = ids | json_values | st.sampled_from([None, "", [], {}, True, -2, 1.5])


@st.composite
def frame_like(draw: st.DrawFn, fields: dict[str, dict[str, tuple[Any, bool]]]) -> dict[str, Any]:
    """A dict built as one of ``fields``' shapes (a frame type, or a request body under the key
    ``""``), then perhaps broken: a field set to any value, a field dropped, or a type changed."""
    kind = draw(st.sampled_from(sorted(fields)))
    value: dict[str, Any] = {"type": kind} if kind else {}
    for name, (strategy, required) in fields[kind].items():
        if required or draw(st.booleans()):
            value[name] = draw(strategy)
    mutation = draw(st.sampled_from(["none", "none", "set", "set", "drop", "type"]))
    if mutation == "set":
        value[draw(st.sampled_from(FIELD_NAMES))] = draw(wrong_values)
    elif mutation == "drop" and value:
        del value[draw(st.sampled_from(sorted(value)))]
    elif mutation == "type" and kind:
        value["type"] = draw(
            st.sampled_from(["nap", "", "PING", " ping", "message "]) | wrong_values
        )
    return value


protocol_shaped = frame_like(FIELDS)
"""Dicts shaped like client frames, their fields of the right type, sometimes of any type."""

chat_shaped = frame_like(
    {
        "": {
            "message": (texts, True),
            "session_id": (good_ids | st.none(), False),
            "run_id": (good_ids | st.none(), False),
            "options": (options, False),
        }
    }
)
"""Dicts shaped like a ChatRequest, sometimes broken."""


def is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def dumps(value: Any, *, ascii_only: bool) -> str:
    """JSON text: with ``\\ud800``-style escapes (ascii_only) or with the raw characters."""
    return json.dumps(value, ensure_ascii=ascii_only)


@st.composite
def asgi_messages(draw: st.DrawFn, documents: st.SearchStrategy[Any]) -> dict[str, Any]:
    """An ASGI ``websocket.receive`` message carrying ``documents`` as a text or bytes frame."""
    document = draw(documents)
    text = dumps(document, ascii_only=draw(st.booleans()))
    if draw(st.booleans()):
        # A socket's text frame is valid UTF-8 (the server's WebSocket library checks it): a lone
        # surrogate can only arrive escaped. Raw ones have their own test below.
        if not is_utf8(text):
            text = dumps(document, ascii_only=True)
        return {"type": "websocket.receive", "text": text}
    # bytes: surrogatepass writes what UTF-8 forbids (a surrogate's three bytes), as a bad client may
    return {"type": "websocket.receive", "bytes": text.encode("utf-8", "surrogatepass")}


DEEP = [1, 2, 31, 32, 33, 100, 1_000, 10_000]


@st.composite
def hostile_json(draw: st.DrawFn) -> str:
    """Hand-built JSON text past the reader's limits: deep, long numbers, lone surrogates."""
    n = draw(st.sampled_from(DEEP) | st.integers(min_value=1, max_value=10_000))
    digits = draw(st.sampled_from([19, 20, 40, 41, 4_300, 4_301, 10_000]) | st.integers(1, 10_000))
    escape = draw(st.sampled_from(["\\ud800", "\\udfff", "\\udc00\\ud800", "\\ud83d\\ude00"]))
    kind = draw(
        st.sampled_from(["array", "object", "open", "options", "number", "float", "escape"])
    )
    if kind == "array":
        return "[" * n + "]" * n
    if kind == "object":
        return '{"a":' * n + "1" + "}" * n
    if kind == "open":
        return "[" * n
    if kind == "options":
        return '{"type":"message","message":"hi","options":{"x":' + "[" * n + "]" * n + "}}"
    if kind == "number":
        return '{"type":"resume","run_id":"r_1","after_seq":' + "9" * digits + "}"
    if kind == "float":
        number = draw(
            st.sampled_from(["1e999", "-1e999", "1" * digits + ".5", "0." + "1" * digits])
        )
        return '{"type":"message","message":"hi","options":{"x":' + number + "}}"
    where = draw(
        st.sampled_from(["message", "session_id", "run_id", "token", "key", "value", "type"])
    )
    frames = {
        "message": f'{{"type":"message","message":"a{escape}b"}}',
        "session_id": f'{{"type":"subscribe","session_id":"s{escape}"}}',
        "run_id": f'{{"type":"stop","run_id":"{escape}"}}',
        "token": f'{{"type":"auth","token":"{escape}"}}',
        "key": f'{{"type":"message","message":"hi","options":{{"{escape}":1}}}}',
        "value": f'{{"type":"message","message":"hi","options":{{"k":["{escape}"]}}}}',
        "type": f'{{"type":"{escape}","run_id":"{escape}","session_id":"{escape}"}}',
    }
    return frames[where]


# --------------------------------------------------------------------------- read_frame


@FUZZ
@given(st.text() | st.binary())
@example(b'{"type":"message","message":"\xed\xa0\x80"}')  # a surrogate written as UTF-8 bytes
@example(b'{"type":"ping"}\xff')
def test_any_text_or_bytes_is_a_frame_or_a_refusal(raw: str | bytes) -> None:
    check_frame({"text": raw} if isinstance(raw, str) else {"bytes": raw})


@settings(max_examples=50, deadline=None, database=None)
@given(
    st.tuples(
        st.text(alphabet=any_char),
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
        st.text(alphabet=any_char),
    ).map("".join)
)
@example("\ud800")
@example('{"type":"ping"}\udfff')
@example('{"type":"message","message":"\ud800"}')
@example('{"type":"message","message":"hi","session_id":"s_\ud800"}')
def test_text_frames_utf8_cannot_carry_are_refused(text: str) -> None:
    """A ``text`` message with a lone surrogate in it: no WebSocket library hands one over (text
    frames must be UTF-8), but the reader is pure and promises a refusal for anything unreadable,
    not a UnicodeEncodeError from measuring its size."""
    check_frame({"text": text})


@FUZZ
@given(asgi_messages(json_values))
def test_any_json_value_is_a_frame_or_a_refusal(message: dict[str, Any]) -> None:
    check_frame(message)


@FUZZ
@given(asgi_messages(protocol_shaped))
@example({"text": '{"type":"resume","run_id":"r_1","after_seq":-1}'})
@example({"text": '{"type":"message","message":"hi","session_id":"s_\\ud800"}'})
@example({"text": '{"type":"message","message":"hi","run_id":"' + "x" * 200 + '"}'})
@example({"text": '{"type":"subscribe","session_id":"a b"}'})
@example({"text": '{"type":"stop","run_id":""}'})
def test_protocol_shaped_frames_are_frames_or_refusals(message: dict[str, Any]) -> None:
    check_frame(message)


@FUZZ
@given(hostile_json(), st.booleans())
@example('{"type":"message","message":"\\ud83d\\ude00"}', False)  # a surrogate pair is fine
def test_hostile_json_is_refused_not_crashed(document: str, as_bytes: bool) -> None:
    check_frame({"bytes": document.encode()} if as_bytes else {"text": document})


def test_hostile_json_is_refused_as_invalid_message() -> None:
    """The limits themselves: each of these is INVALID_MESSAGE, not a frame or a crash."""
    documents = [
        "[" * 10_000 + "]" * 10_000,
        '{"type":"message","message":"hi","options":{"x":' + "[" * 40 + "]" * 40 + "}}",
        '{"type":"resume","run_id":"r_1","after_seq":' + "9" * 5_000 + "}",
        '{"type":"message","message":"hi","options":{"x":1e999}}',
        '{"type":"message","message":"hi","options":{"x":NaN}}',
        '{"type":"message","message":"a\\ud800b"}',
        '{"type":"subscribe","session_id":"s\\udfff"}',
        '{"type":"auth","token":"\\udc00"}',
        '{"type":"message","message":"hi","options":{"\\ud800":1}}',
        '{"type":"subscribe","session_id":"a b"}',
        '{"type":"subscribe","session_id":"' + "s" * (MAX_ID_CHARS + 1) + '"}',
    ]
    for document in documents:
        for message in ({"text": document}, {"bytes": document.encode()}):
            try:
                frame = read_frame(message, max_bytes=MAX_BYTES)
            except FrameRefused as refused:
                assert refused.error.code is ErrorCode.INVALID_MESSAGE, document[:80]
                assert (refused.run_id, refused.session_id) == (None, None), document[:80]
            else:
                raise AssertionError(f"{document[:80]!r} was read as {frame!r}")


@settings(max_examples=60, deadline=None, database=None)
@given(st.integers(min_value=0, max_value=300), st.text(alphabet=any_char, max_size=200))
def test_the_size_limit_is_the_first_refusal(max_bytes: int, message: str) -> None:
    document = dumps({"type": "message", "message": message}, ascii_only=False)
    check_frame({"bytes": document.encode("utf-8", "surrogatepass")}, max_bytes=max_bytes)
    if not is_utf8(document):
        document = dumps({"type": "message", "message": message}, ascii_only=True)
    check_frame({"text": document}, max_bytes=max_bytes)


# --------------------------------------------------------------------------- ChatRequest


@FUZZ
@given(
    st.one_of(
        st.text(alphabet=any_char),
        st.binary(),
        json_values.map(json.dumps),
        chat_shaped.map(json.dumps),
        chat_shaped.map(
            lambda body: dumps(body, ascii_only=False).encode("utf-8", "surrogatepass")
        ),
        hostile_json(),
    )
)
@example('{"message":"hi","session_id":"s\\ud800"}')
@example('{"message":"\\ud800"}')
@example('{"message":"hi","options":{"\\udfff":1}}')
@example('{"message":"hi","options":{"x":' + "[" * 10_000 + "]" * 10_000 + "}}")
@example('{"message":"hi","options":{"x":' + "9" * 5_000 + "}}")
def test_chat_request_from_any_json_text(document: str | bytes) -> None:
    check_chat_request(ChatRequest.model_validate_json, document)


def nested(depth: int) -> Any:
    """A list ``depth`` deep, built without recursion (json.loads could not make it)."""
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


@FUZZ
@given(json_values | chat_shaped)
@example({"message": "hi", "run_id": "r\ud800"})
@example({"message": "hi", "options": {"x": nested(10_000)}})
@example({"message": "hi", "options": {"x": 10**5000}})
@example({"message": "hi", "options": {"x": float("nan")}})
def test_chat_request_from_any_json_value(value: Any) -> None:
    check_chat_request(ChatRequest.model_validate, value)
