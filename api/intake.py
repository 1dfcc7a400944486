"""Checks every new question passes before a run starts, the same on every route and frame."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from api.settings import Settings
from transport.errors import GraphwireError
from transport.protocol import ErrorCode
from transport.runs import Multitask

__all__ = ["check_message"]

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
