"""Identifiers: ``r_…`` for runs, ``s_…`` for sessions (conversations), and what a client's may be.

A client may choose its own ``session_id`` and ``run_id``. Each is 1 to 128 characters of ASCII
letters, digits and ``- . _ ~ :`` (URL-safe, so it fits a path and ``Last-Event-ID`` as it is);
anything else is refused before it reaches a run, a log line or the store.

Example:
    >>> is_valid_id(new_session_id()), is_valid_id("chat-2024.07:a~b"), is_valid_id("a b")
    (True, True, False)
"""

from __future__ import annotations

import re
import secrets

__all__ = ["ID_PATTERN", "MAX_ID_CHARS", "check_id", "is_valid_id", "new_run_id", "new_session_id"]

MAX_ID_CHARS = 128
ID_PATTERN = rf"^[A-Za-z0-9._:~-]{{1,{MAX_ID_CHARS}}}$"
"""What a client-chosen id may be (a JSON-schema ``pattern``)."""

_ID = re.compile(ID_PATTERN.removesuffix("$") + r"\Z")  # '$' would allow a final newline


def new_run_id() -> str:
    return f"r_{secrets.token_urlsafe(12)}"


def new_session_id() -> str:
    return f"s_{secrets.token_urlsafe(12)}"


def is_valid_id(value: object) -> bool:
    """Whether ``value`` is an id a client may choose."""
    return isinstance(value, str) and _ID.match(value) is not None


def check_id(value: str) -> str:
    """``value`` if it is a valid id; else ``ValueError`` saying what an id may be.

    >>> check_id("s_1")
    's_1'
    """
    if not _ID.match(value):
        raise ValueError(
            f"an id is 1 to {MAX_ID_CHARS} characters of ASCII letters, digits and - . _ ~ :"
        )
    return value
