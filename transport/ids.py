"""Identifiers: ``r_…`` for runs, ``s_…`` for sessions (conversations)."""

from __future__ import annotations

import secrets

__all__ = ["new_run_id", "new_session_id"]


def new_run_id() -> str:
    return f"r_{secrets.token_urlsafe(12)}"


def new_session_id() -> str:
    return f"s_{secrets.token_urlsafe(12)}"
