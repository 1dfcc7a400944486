"""Every error code the Python client can meet becomes its typed exception, on both transports.

Refusals (``AUTH_*``, ``FORBIDDEN``, ``NOT_FOUND``, ``BUSY``, ``RATE_LIMITED``,
``MESSAGE_TOO_LARGE``, ``INVALID_MESSAGE``, ``EMPTY_MESSAGE``) raise from the call that was
refused; a failed run (``MODEL_ERROR``, ``TIMEOUT``, ``PROCESSING_ERROR``) yields its ``error``
and ``end`` from ``stream`` and raises from ``ask``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from graphwire.api.tokens import mint_token
from graphwire.transport.client.core import GraphwireClient, Transport
from graphwire.transport.client.errors import (
    AuthenticationError,
    BusyError,
    ForbiddenError,
    InvalidRequestError,
    MessageTooLargeError,
    ModelFailedError,
    NotFoundError,
    RateLimitedError,
    ResumeError,
    RunFailedError,
    RunTimeoutError,
    ServerError,
)
from graphwire.transport.protocol.errors import ModelError
from tests.conftest import assert_run_invariants
from tests.fakes import FailingChatModel, ProbedOfflineModel, StreamProbe
from tests.server import Running, running, server_settings
from tests.test_server_ws import _Exploding, _graph_opener

Q = "What does error F3 mean?"
SECRET = "c" * 32
TRANSPORTS = ["ws", "sse"]


def token(sub: str = "alice", ttl: float = 60) -> str:
    if ttl <= 0:
        return mint_token(secret=SECRET, sub=sub, ttl_seconds=60, now=time.time() - 60 + ttl)
    return mint_token(secret=SECRET, sub=sub, ttl_seconds=ttl)


def client(live: Running, transport: Transport, **options: Any) -> GraphwireClient:
    address = live.ws if transport == "ws" else live.http
    return GraphwireClient(address, transport=transport, initial_delay=0.01, max_attempts=3,
                           timeout=5, **options)  # fmt: skip


async def drain(envelopes: AsyncIterator[Any]) -> list[Any]:
    return [e async for e in envelopes]


def assert_typed(error: ServerError, kind: type[ServerError], code: str, transport: str) -> None:
    assert type(error) is kind, error
    assert error.code == code and error.message and "Traceback" not in error.message
    assert str(error).startswith(f"{code}: ")
    if transport == "sse" and not isinstance(error, ResumeError):
        assert error.status is not None and 400 <= error.status < 500


@pytest.fixture(scope="module")
def secured() -> Any:
    settings = server_settings(jwt_secret=SecretStr(SECRET), jwt_leeway=0, auth_timeout=5,
                               max_message_chars=40, offline_token_delay=0.05)  # fmt: skip
    with running(settings) as live:
        yield live


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("given", "code"), [(None, "AUTH_REQUIRED"), ("garbage", "AUTH_FAILED"),
                                             ("expired", "AUTH_FAILED")])  # fmt: skip
async def test_authentication_errors(
    secured: Running, transport: Transport, given: str | None, code: str
) -> None:
    secret = token(ttl=-120) if given == "expired" else given
    with pytest.raises(AuthenticationError) as refused:
        async with client(secured, transport, token=secret) as c:  # ws: refused here
            await drain(c.stream(Q))  # sse: refused here
    assert_typed(refused.value, AuthenticationError, code, transport)
    assert secret is None or secret not in str(refused.value)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_another_users_conversation_is_forbidden_everywhere(
    secured: Running, transport: Transport
) -> None:
    session = f"s_alice_{transport}"
    async with client(secured, transport, token=token("alice")) as alice:
        run = await drain(alice.stream(Q, session_id=session))
    async with client(secured, transport, token=token("bob")) as bob:
        for action in (
            lambda: drain(bob.stream(Q, session_id=session)),
            lambda: drain(bob.resume(run[0].run_id)),
            lambda: bob.history(session),
        ):
            with pytest.raises(ForbiddenError) as refused:
                await action()
            assert_typed(refused.value, ForbiddenError, "FORBIDDEN", transport)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_unknown_runs_and_conversations_are_not_found(
    secured: Running, transport: Transport
) -> None:
    async with client(secured, transport, token=token()) as c:
        with pytest.raises(NotFoundError) as unknown:
            await c.history("s_never_was")
        assert_typed(unknown.value, NotFoundError, "NOT_FOUND", transport)
        assert unknown.value.status == (404 if transport == "sse" else unknown.value.status)
        with pytest.raises(ResumeError) as gone:
            await drain(c.resume("r_never_was", after_seq=3))
        assert_typed(gone.value, ResumeError, "NOT_FOUND", transport)
        assert (gone.value.run_id, gone.value.last_seq) == ("r_never_was", 3)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_bad_questions_are_refused_typed_and_the_client_stays_usable(
    secured: Running, transport: Transport
) -> None:
    async with client(secured, transport, token=token()) as c:
        with pytest.raises(MessageTooLargeError) as large:
            await drain(c.stream("x" * 41))
        assert_typed(large.value, MessageTooLargeError, "MESSAGE_TOO_LARGE", transport)
        with pytest.raises(InvalidRequestError) as empty:
            await drain(c.stream("   "))
        assert_typed(empty.value, InvalidRequestError, "EMPTY_MESSAGE", transport)
        with pytest.raises(InvalidRequestError) as odd:
            await drain(c.stream(Q, multitask="sometimes"))  # type: ignore[arg-type]
        assert_typed(odd.value, InvalidRequestError, "INVALID_MESSAGE", transport)
        run = await drain(c.stream(Q))
        assert_run_invariants(run, reason="complete")
        with pytest.raises(InvalidRequestError) as reused:
            await drain(c.stream(Q, run_id=run[0].run_id))
        assert_typed(reused.value, InvalidRequestError, "INVALID_MESSAGE", transport)
        assert reused.value.run_id == run[0].run_id


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_busy_conversation_is_a_retryable_busy_error(
    secured: Running, transport: Transport
) -> None:
    session = f"s_busy_{transport}"
    async with client(secured, transport, token=token()) as c:
        first = c.stream(Q, session_id=session)
        assert (await anext(first)).seq == 0  # the first run is going
        with pytest.raises(BusyError) as busy:
            await drain(c.stream(Q, session_id=session))
        assert_typed(busy.value, BusyError, "BUSY", transport)
        assert busy.value.retryable
        rest = await drain(first)
        assert rest[-1].data.reason == "complete"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_too_many_questions_are_rate_limited(transport: Transport) -> None:
    with running(server_settings(user_rate_limit_per_minute=1)) as live:
        async with client(live, transport) as c:
            await c.ask(Q)
            with pytest.raises(RateLimitedError) as limited:
                await c.ask(Q)
    assert_typed(limited.value, RateLimitedError, "RATE_LIMITED", transport)
    assert limited.value.retryable
    if transport == "sse":
        assert limited.value.retry_after is not None and limited.value.retry_after >= 1


async def test_a_token_that_expires_mid_answer_ends_the_stream_typed() -> None:
    settings = server_settings(jwt_secret=SecretStr(SECRET), jwt_leeway=0, offline_token_delay=0.3)
    with running(settings) as live:
        async with client(live, "ws", token=token(ttl=1.5)) as c:
            seen: list[Any] = []
            with pytest.raises(AuthenticationError) as expired:
                async for envelope in c.stream(Q):
                    seen.append(envelope)
    assert_typed(expired.value, AuthenticationError, "AUTH_FAILED", "ws")
    assert seen and seen[-1].type != "end"  # cut short, and said so


# --------------------------------------------------------------------------- failed runs


@pytest.mark.parametrize(
    ("build", "settings", "kind", "code", "retryable"),
    [
        ({"model": FailingChatModel(tokens=["The "], error=ModelError("The model failed."))},
         {}, ModelFailedError, "MODEL_ERROR", False),
        ({"model": ProbedOfflineModel(probe=StreamProbe(), token_delay=0.2)},
         {"run_timeout": 0.5}, RunTimeoutError, "TIMEOUT", True),
        ({"classifier": _Exploding()}, {}, RunFailedError, "PROCESSING_ERROR", False),
    ],
    ids=["model-error", "timeout", "processing-error"],
)  # fmt: skip
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_failed_run_streams_error_then_end_and_ask_raises_it_typed(
    transport: Transport,
    build: dict[str, Any],
    settings: dict[str, Any],
    kind: type[ServerError],
    code: str,
    retryable: bool,
) -> None:
    with running(server_settings(**settings), open_graph_with=_graph_opener(**build)) as live:
        async with client(live, transport) as c:
            run = await drain(c.stream(Q))
            ended: list[Any] = []
            with pytest.raises(kind) as failed:
                await c.ask(Q, on_error=ended.append, on_end=ended.append)
    assert_run_invariants(run, reason="error")
    assert (run[-2].data.code, run[-2].data.retryable) == (code, retryable)
    error = failed.value
    assert type(error) is kind and (error.code, error.retryable) == (code, retryable)
    assert error.run_id is not None and error.run_id.startswith("r_")
    assert [e.type for e in ended] == ["error", "end"]
    assert "sk-live" not in error.message


def test_every_protocol_code_has_its_exception() -> None:
    from graphwire.transport.client.errors import server_error
    from graphwire.transport.protocol import ErrorCode, ErrorData

    for code in ErrorCode:
        error = server_error(ErrorData(code=code, message="m"))
        assert isinstance(error, ServerError) and error.code == code
