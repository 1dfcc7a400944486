"""The one boundary where exceptions become protocol errors; no secret crosses it."""

from __future__ import annotations

import httpx
import openai
import pytest

from graphwire.transport.protocol import ErrorCode
from graphwire.transport.protocol.errors import GraphwireError, describe_exception, redact

KEY = "sk-live-abcdefghijklmnop"
REQUEST = httpx.Request("POST", "https://llm.invalid/v1/chat/completions")


def _status_error(cls: type[openai.APIStatusError], status: int) -> openai.APIStatusError:
    response = httpx.Response(
        status, request=REQUEST, json={"error": {"message": f"bad key {KEY}"}}
    )
    return cls(f"Error code: {status} - bad key {KEY}", response=response, body=None)


@pytest.mark.parametrize(
    ("exc", "code", "retryable"),
    [
        (TimeoutError(), ErrorCode.TIMEOUT, True),
        (openai.APITimeoutError(request=REQUEST), ErrorCode.TIMEOUT, True),
        (
            openai.APIConnectionError(message=f"no route {KEY}", request=REQUEST),
            ErrorCode.MODEL_ERROR,
            True,
        ),
        (_status_error(openai.RateLimitError, 429), ErrorCode.MODEL_ERROR, True),
        (_status_error(openai.InternalServerError, 500), ErrorCode.MODEL_ERROR, True),
        (_status_error(openai.AuthenticationError, 401), ErrorCode.MODEL_ERROR, False),
        (GraphwireError("busy", code=ErrorCode.BUSY, retryable=True), ErrorCode.BUSY, True),
        (ValueError(f"parse failed near {KEY}"), ErrorCode.PROCESSING_ERROR, False),
    ],
)
def test_exceptions_map_to_codes_without_leaking(
    exc: BaseException, code: ErrorCode, retryable: bool
) -> None:
    data = describe_exception(exc)
    assert (data.code, data.retryable) == (code, retryable)
    assert KEY not in data.message and "Traceback" not in data.message
    assert data.message


def test_a_refused_request_names_its_status() -> None:
    data = describe_exception(_status_error(openai.AuthenticationError, 401))
    assert data.message == "The language model refused the request (HTTP 401)."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"key={KEY}", "key=***"),
        ("Authorization: Bearer abc.def", "Authorization: ***"),
        ("jwt eyJhbGciOi.eyJzdWIiOiJh.c2ln here", "jwt *** here"),
        ("password = hunter2 ok", "password = *** ok"),
        ("nothing secret", "nothing secret"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected
