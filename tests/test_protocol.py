"""The protocol module: envelopes and client frames parse and serialise as documented."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from graphwire.transport.protocol import (
    PROTOCOL,
    ConnectedData,
    ConnectedEnvelope,
    ErrorCode,
    MessageFrame,
    PongEnvelope,
    ResumeFrame,
    TextData,
    TextEnvelope,
    WorkflowStepData,
    WorkflowStepEnvelope,
    parse_client_frame,
    parse_envelope,
)

RUN = {"run_id": "r_1", "session_id": "s_1"}
SAMPLES = [
    {"type": "workflow_step", **RUN, "seq": 0,
     "data": {"step": "classify", "status": "completed", "label": "Routed",
              "agent": "specs", "confidence": 0.9}},
    {"type": "sources", **RUN, "seq": 1, "data": {"sources": [
        {"id": "a#0", "title": "A", "uri": "docs/a.md", "snippet": "x", "score": 1.5}]}},
    {"type": "text", **RUN, "seq": 2, "data": {"delta": "Hi ", "agent": "specs"}},
    {"type": "final", **RUN, "seq": 3, "data": {
        "text": "Hi", "agent": "specs", "confidence": 0.9, "sources": [], "message_id": "m",
        "model": "graphwire-offline", "finish_reason": "stop",
        "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
        "timing": {"first_token_ms": 1.0, "total_ms": 2.0}}},
    {"type": "error", **RUN, "seq": 4,
     "data": {"code": "BUSY", "message": "busy", "retryable": True}},
    {"type": "end", **RUN, "seq": 5, "data": {"reason": "complete"}},
    {"type": "connected", "run_id": None, "session_id": None, "seq": None,
     "data": {"connection_id": "c_1", "protocol": "graphwire.v1", "auth_required": False}},
    {"type": "auth_success", "run_id": None, "session_id": None, "seq": None,
     "data": {"user": {"id": "alice"}}},
    {"type": "pong", "run_id": None, "session_id": None, "seq": None, "data": {}},
]  # fmt: skip


@pytest.mark.parametrize("raw", SAMPLES, ids=[s["type"] for s in SAMPLES])
def test_every_envelope_round_trips(raw: dict) -> None:
    assert parse_envelope(json.dumps(raw)).to_wire() == raw
    assert parse_envelope(raw).to_wire() == raw


def test_connection_messages_have_null_run_fields() -> None:
    env = ConnectedEnvelope(data=ConnectedData(connection_id="c", auth_required=True))
    assert env.to_wire() == {
        "type": "connected", "run_id": None, "session_id": None, "seq": None,
        "data": {"connection_id": "c", "protocol": PROTOCOL, "auth_required": True},
    }  # fmt: skip
    assert PongEnvelope().to_wire()["data"] == {}


def test_optional_step_fields_are_omitted_not_null() -> None:
    env = WorkflowStepEnvelope(
        **RUN, seq=0, data=WorkflowStepData(step="retrieve", status="started", label="…")
    )
    assert env.to_wire()["data"] == {"step": "retrieve", "status": "started", "label": "…"}


@pytest.mark.parametrize(
    "raw",
    [
        '{"type": "text"}',
        '{"type": "nope", "data": {}}',
        '{"type": "end", "run_id": "r", "session_id": "s", "seq": -1, "data": {"reason": "complete"}}',
        '{"type": "end", "run_id": "r", "session_id": "s", "seq": 0, "data": {"reason": "why"}}',
        '{"type": "error", "data": {"code": "NOT_A_CODE", "message": "x"}}',
        "not json",
    ],
)
def test_malformed_envelopes_are_rejected(raw: str) -> None:
    with pytest.raises(ValidationError):
        parse_envelope(raw)


def test_client_frames_parse_into_types() -> None:
    frame = parse_client_frame(
        '{"type": "message", "message": "hi", "options": {"multitask": "enqueue"}}'
    )
    assert isinstance(frame, MessageFrame) and frame.session_id is None
    assert frame.options == {"multitask": "enqueue"}
    resume = parse_client_frame({"type": "resume", "run_id": "r_1", "after_seq": 4})
    assert isinstance(resume, ResumeFrame) and resume.after_seq == 4
    for bad in ('{"type": "message"}', '{"type": "shout"}', '{"type": "ping", "x": 1}', "[]"):
        with pytest.raises(ValidationError):
            parse_client_frame(bad)


def test_error_codes_are_the_protocol_list() -> None:
    assert [c.value for c in ErrorCode] == [
        "AUTH_REQUIRED", "AUTH_FAILED", "FORBIDDEN", "INVALID_MESSAGE", "EMPTY_MESSAGE",
        "MESSAGE_TOO_LARGE", "BUSY", "RATE_LIMITED", "NOT_FOUND", "MODEL_ERROR", "TIMEOUT",
        "PROCESSING_ERROR",
    ]  # fmt: skip


TRICKY = ["", " word", 'he said "hi"\n', "tab\there\\back", "\x00\x01\x1f\x7f", "</script>",
          "é", "\u2028", "😀", "{}"]  # fmt: skip


@pytest.mark.parametrize("delta", TRICKY)
@pytest.mark.parametrize("agent", ["specs", 'we"ird'])
def test_a_streamed_text_envelope_is_the_validated_one_byte_for_byte(
    delta: str, agent: str
) -> None:
    fast = TextEnvelope.streamed(run_id="r_1", session_id='s_"1', seq=7, delta=delta, agent=agent)
    data = TextData(delta=delta, agent=agent)
    slow = TextEnvelope(run_id="r_1", session_id='s_"1', seq=7, data=data)
    assert fast == slow and fast.data == slow.data and hash(fast.data) == hash(slow.data)
    assert fast.to_json() == slow.model_dump_json(exclude_none=True)
    assert parse_envelope(fast.to_json()) == slow
    assert fast.model_fields_set == slow.model_fields_set
    with pytest.raises(ValidationError):  # frozen like every envelope
        fast.seq = 8  # type: ignore[misc]


def test_a_streamed_delta_utf8_cannot_carry_fails_like_a_validated_one() -> None:
    fast = TextEnvelope.streamed(run_id="r_1", session_id="s_1", seq=0, delta="a\ud800", agent="x")
    with pytest.raises(PydanticSerializationError, match="surrogates not allowed"):
        fast.to_json()
