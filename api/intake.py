"""Starting a run from a client's question: the same checks and limits on every route and frame."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from graphwire.api.http.errors import RateLimitedError
from graphwire.api.settings import Settings
from graphwire.api.state import AppState
from graphwire.transport.protocol import ErrorCode, Multitask
from graphwire.transport.protocol.errors import GraphwireError
from graphwire.transport.runs.run import Run

__all__ = ["address_key", "check_message", "start_run"]

MULTITASK: tuple[Multitask, ...] = ("reject", "interrupt", "enqueue")


def check_message(settings: Settings, message: str, options: Mapping[str, Any]) -> Multitask:
    """The run's ``multitask`` policy, or ``GraphwireError`` saying what is wrong with the input.

    >>> check_message(Settings(), "How heavy is it?", {"multitask": "enqueue"})
    'enqueue'
    """
    if len(message) > settings.max_message_chars:
        raise GraphwireError(
            f"the message is over the {settings.max_message_chars}-character limit",
            code=ErrorCode.MESSAGE_TOO_LARGE,
        )
    if not message.strip():
        raise GraphwireError("the message is empty", code=ErrorCode.EMPTY_MESSAGE)
    multitask = options.get("multitask", "reject")
    if multitask not in MULTITASK:
        raise GraphwireError(
            "options.multitask must be 'interrupt' or 'enqueue'", code=ErrorCode.INVALID_MESSAGE
        )
    return cast(Multitask, multitask)


def address_key(address: str | None) -> str:
    """A client address as a rate-limit key.

    >>> address_key("127.0.0.1")
    'ip:127.0.0.1'
    """
    return f"ip:{address or 'unknown'}"


async def start_run(
    state: AppState,
    *,
    user_id: str,
    client_key: str,
    address: str | None,
    message: str,
    session_id: str | None,
    run_id: str | None,
    options: Mapping[str, Any],
) -> Run:
    """Check the question, charge the client's and the user's rate limits, then start the run.

    ``client_key`` names the caller for the per-client limit (a connection id, a client address).
    With authentication off every caller is the anonymous user, so the per-user limit is kept
    per client ``address`` instead: one busy client must not use up everyone's messages.
    """
    multitask = check_message(state.settings, message, options)
    user_key = user_id if state.auth.enabled else address_key(address)
    for limiter, key in ((state.connection_limiter, client_key), (state.user_limiter, user_key)):
        if not limiter.allow(key):
            raise RateLimitedError(retry_after=limiter.retry_after(key))
    return await state.registry.start(
        question=message,
        user_id=user_id,
        session_id=session_id,
        run_id=run_id,
        multitask=multitask,
    )
