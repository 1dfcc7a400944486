"""Development tokens: mint an HS256 JWT the server accepts, and the ``graphwire token`` command.

Example:
    $ export GRAPHWIRE_JWT_SECRET=$(python -c "import secrets; print(secrets.token_urlsafe(32))")
    $ graphwire token --sub alice --ttl 30m
    eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

import typer
from jose import jwt

from graphwire.api.settings import Settings
from graphwire.transport.protocol.errors import ConfigurationError

__all__ = ["mint_token", "parse_duration", "token"]

_RESERVED = frozenset({"sub", "exp", "iat", "aud", "iss"})
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_MAX_TTL = 366 * 86400.0
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)", re.IGNORECASE)


def mint_token(
    *,
    secret: str,
    sub: str,
    ttl_seconds: float,
    audience: str | None = None,
    issuer: str | None = None,
    claims: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> str:
    """An HS256 token for ``sub`` that expires ``ttl_seconds`` after ``now`` (default: the clock).

    ``claims`` adds claims such as ``name`` or ``roles``; reserved ones have their own arguments.

    >>> mint_token(secret="s" * 32, sub="alice", ttl_seconds=60).count(".")
    2
    """
    if not secret:
        raise ValueError("the secret is empty")
    if not sub.strip():
        raise ValueError("the subject (sub) is empty")
    if not math.isfinite(ttl_seconds) or ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be a positive number of seconds")
    extra = dict(claims or {})
    reserved = sorted(_RESERVED & extra.keys())
    if reserved:
        raise ValueError(f"set {', '.join(reserved)} through the keyword arguments, not claims")
    issued = time.time() if now is None else now
    payload: dict[str, Any] = {
        **extra,
        "sub": sub,
        "iat": int(issued),
        "exp": math.ceil(issued + ttl_seconds),
    }
    if audience is not None:
        payload["aud"] = audience
    if issuer is not None:
        payload["iss"] = issuer
    return str(jwt.encode(payload, secret, algorithm="HS256"))


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``"90"``, ``"45s"``, ``"30m"``, ``"1h"`` or ``"2d"``.

    >>> parse_duration("30m")
    1800.0
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration; use a number of seconds or a number followed by "
            "s, m, h or d (e.g. 90, 45s, 30m, 1h, 2d)"
        )
    seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return seconds


def token(
    sub: Annotated[str, typer.Option("--sub", help="The user id (the token's sub claim).")],
    ttl: Annotated[
        str, typer.Option("--ttl", help="Lifetime: seconds, or 45s, 30m, 1h, 2d.")
    ] = "1h",
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            help="HS256 secret (default: GRAPHWIRE_JWT_SECRET). It stays in your shell history; "
            "prefer the environment variable.",
        ),
    ] = None,
    audience: Annotated[
        str | None, typer.Option("--audience", help="aud claim (default: GRAPHWIRE_JWT_AUDIENCE).")
    ] = None,
    issuer: Annotated[
        str | None, typer.Option("--issuer", help="iss claim (default: GRAPHWIRE_JWT_ISSUER).")
    ] = None,
) -> None:
    """Print a development token the server accepts (HS256, signed with GRAPHWIRE_JWT_SECRET)."""
    try:
        ttl_seconds = parse_duration(ttl)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--ttl") from None
    if ttl_seconds > _MAX_TTL:
        raise typer.BadParameter("a development token lives at most 366d", param_hint="--ttl")
    try:
        settings = Settings.load()
    except ConfigurationError as exc:
        _fail(exc.message)
    if secret is None and settings.jwt_secret is not None:
        secret = settings.jwt_secret.get_secret_value()
    if not secret:
        if settings.jwt_public_key is not None:
            _fail("the server verifies RS256 tokens; sign them with your private key elsewhere")
        _fail("no signing secret: set GRAPHWIRE_JWT_SECRET (or pass --secret)")
    now = time.time()
    try:
        minted = mint_token(
            secret=secret,
            sub=sub,
            ttl_seconds=ttl_seconds,
            audience=audience if audience is not None else settings.jwt_audience,
            issuer=issuer if issuer is not None else settings.jwt_issuer,
            now=now,
        )
    except ValueError as exc:
        _fail(str(exc))
    expires = datetime.fromtimestamp(now + ttl_seconds, UTC).isoformat(timespec="seconds")
    typer.echo(f"token for {sub!r}, expires {expires}", err=True)
    typer.echo(minted)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)
