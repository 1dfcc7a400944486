"""Who is asking: verify a JWT and turn it into a :class:`User` (protocol section 6).

python-jose checks the token's structure, its signature and the algorithm allow-list; graphwire
checks the claims itself, strictly typed, because jose's own claim checks coerce with ``int()`` (a
string ``exp`` passes, ``null`` raises ``TypeError``) and leave ``aud`` and ``iat`` half-checked.

Example:
    >>> from graphwire.api.tokens import mint_token
    >>> auth = Authenticator(secret="s" * 32)
    >>> auth.verify(mint_token(secret="s" * 32, sub="alice", ttl_seconds=60)).id
    'alice'
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

from jose import JWTError, jwk, jwt
from pydantic import BaseModel, ConfigDict, Field

from graphwire.api.settings import Settings
from graphwire.transport.protocol import ErrorCode
from graphwire.transport.protocol.errors import ConfigurationError, GraphwireError

__all__ = [
    "ANONYMOUS",
    "MAX_TOKEN_CHARS",
    "PUBLIC_CLAIMS",
    "AuthError",
    "Authenticator",
    "User",
    "extract_token",
]

log = logging.getLogger("graphwire.auth")

MAX_TOKEN_CHARS = 8 * 1024
"""Longer tokens are refused before any parsing."""

PUBLIC_CLAIMS = frozenset(
    {"iss", "aud", "exp", "iat", "name", "preferred_username", "email", "roles", "groups", "scope"}
)
"""The claims a :class:`User` keeps; anything else in a token is dropped."""

Algorithm = Literal["HS256", "RS256"]

# Three base64url segments, no padding (RFC 7515 compact form); jose's own decoder silently skips
# characters outside the alphabet, so the shape is checked before jose sees the token.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")

# jose verifies the signature only; _check_claims below does the rest.
_SIGNATURE_ONLY = {
    f"verify_{claim}": False
    for claim in ("aud", "iat", "exp", "nbf", "iss", "sub", "jti", "at_hash")
}


class AuthError(GraphwireError):
    """A token was refused; ``message`` never contains the token or a key."""

    code = ErrorCode.AUTH_FAILED
    status_code: ClassVar[int] = 401


class User(BaseModel):
    """The person behind a request: ``id`` is the token's ``sub``.

    >>> User(id="alice", claims={"name": "Alice"}).public()
    {'id': 'alice', 'name': 'Alice'}
    """

    model_config = ConfigDict(frozen=True)

    id: str
    claims: dict[str, Any] = Field(default_factory=dict)
    expires_at: float | None = None

    def public(self) -> dict[str, Any]:
        """The ``user`` field of the ``auth_success`` envelope."""
        return {"id": self.id, **self.claims}


ANONYMOUS = User(id="anonymous")
"""Every user when authentication is off."""


class Authenticator:
    """Verifies tokens against one HS256 secret or one RS256 public key.

    With neither configured, :attr:`enabled` is False and every user is :data:`ANONYMOUS`.

    >>> Authenticator().enabled
    False
    """

    def __init__(
        self,
        *,
        secret: str | None = None,
        public_key: str | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        leeway: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if secret is not None and public_key is not None:
            raise ConfigurationError(
                "Set GRAPHWIRE_JWT_SECRET (HS256) or GRAPHWIRE_JWT_PUBLIC_KEY (RS256), not both."
            )
        if not math.isfinite(leeway) or leeway < 0:
            raise ConfigurationError("The JWT leeway must be a finite number of seconds, >= 0.")
        self.algorithm: Algorithm | None = None
        self._key: Any = None
        if secret is not None:
            self.algorithm, self._key = "HS256", _hmac_key(secret)
        elif public_key is not None:
            self.algorithm, self._key = "RS256", _rsa_public_key(public_key)
        self.audience = audience
        self.issuer = issuer
        self.leeway = leeway
        self._clock = clock

    @classmethod
    def from_settings(
        cls, settings: Settings, *, leeway: float = 0.0, clock: Callable[[], float] = time.time
    ) -> Authenticator:
        """The authenticator the server's settings describe."""
        secret, public_key = settings.jwt_secret, settings.jwt_public_key
        return cls(
            secret=None if secret is None else secret.get_secret_value(),
            public_key=None if public_key is None else public_key.get_secret_value(),
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=leeway,
            clock=clock,
        )

    @property
    def enabled(self) -> bool:
        """True when a key is configured and tokens are required."""
        return self.algorithm is not None

    def __repr__(self) -> str:
        return (
            f"Authenticator(algorithm={self.algorithm!r}, audience={self.audience!r}, "
            f"issuer={self.issuer!r}, leeway={self.leeway!r})"
        )

    def verify(self, token: str) -> User:
        """The user a token names; :class:`AuthError` for every bad token, never anything else."""
        try:
            return self._verify(token)
        except AuthError:
            raise
        except Exception as exc:  # whatever a hostile token provokes inside a parser
            log.debug("token rejected by %s", type(exc).__name__)
            raise AuthError("the token is malformed") from exc

    def _verify(self, token: str) -> User:
        if self.algorithm is None:
            raise AuthError("authentication is not configured on this server")
        if not isinstance(token, str):  # callers pass whatever a JSON frame held
            raise AuthError("the token is not a string")
        if not token:
            raise AuthError("the token is empty")
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthError("the token is too long")
        if not _COMPACT_JWS.fullmatch(token):
            raise AuthError("the token is malformed")
        try:
            header = jwt.get_unverified_header(token)
            jwt.get_unverified_claims(token)  # a payload that is not a JSON object is malformed
        except JWTError as exc:
            raise AuthError("the token is malformed") from exc
        # Before any key is used: this refuses alg "none" and key-type confusion.
        if header.get("alg") != self.algorithm:
            raise AuthError("the token's algorithm is not accepted")
        if "crit" in header:
            raise AuthError("the token uses header extensions this server does not support")
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[self.algorithm], options=_SIGNATURE_ONLY
            )
        except JWTError as exc:
            raise AuthError("the token's signature is invalid") from exc
        return self._check_claims(claims)

    def _check_claims(self, claims: Mapping[str, Any]) -> User:
        now, leeway = self._clock(), self.leeway
        expires_at = _numeric_date(claims, "exp", "expiry")
        if expires_at is None:
            raise AuthError("the token has no expiry")
        if now >= expires_at + leeway:
            raise AuthError("the token has expired")
        not_before = _numeric_date(claims, "nbf", "not-before time")
        if not_before is not None and not_before > now + leeway:
            raise AuthError("the token is not valid yet")
        issued_at = _numeric_date(claims, "iat", "issue time")
        if issued_at is not None and issued_at > now + leeway:
            raise AuthError("the token's issue time is in the future")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject.strip():
            raise AuthError("the token has no subject")
        if self.audience is not None:
            _check_audience(claims, self.audience)
        if self.issuer is not None:
            if "iss" not in claims:
                raise AuthError("the token has no issuer")
            if claims["iss"] != self.issuer:
                raise AuthError("the token's issuer is wrong")
        kept = {name: value for name, value in claims.items() if name in PUBLIC_CLAIMS}
        return User(id=subject, claims=kept, expires_at=expires_at)


def extract_token(*, authorization: str | None, query_token: str | None) -> str | None:
    """The token of a request: from ``Authorization: Bearer …``, else the ``token`` parameter.

    None when neither is given; :class:`AuthError` when one is given but malformed.

    >>> extract_token(authorization="Bearer abc.def.ghi", query_token=None)
    'abc.def.ghi'
    """
    if authorization is not None:
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise AuthError("the Authorization header is not a Bearer token")
        credentials = credentials.strip()
        if not credentials or any(c.isspace() for c in credentials):
            raise AuthError("the Authorization header has no single Bearer token")
        return credentials
    if query_token is not None:
        if not query_token.strip():
            raise AuthError("the token query parameter is empty")
        return query_token
    return None


def _hmac_key(secret: str) -> Any:
    """The HS256 key; a Key object stops jose from reading a JSON-looking secret as a key set."""
    if not secret.strip():
        raise ConfigurationError(
            "GRAPHWIRE_JWT_SECRET is set but empty; unset it to turn authentication off."
        )
    if len(secret.encode()) < 32:
        log.warning("GRAPHWIRE_JWT_SECRET is shorter than 32 bytes; HS256 wants 256 bits or more")
    try:
        return jwk.construct(secret, "HS256")
    except Exception:
        raise ConfigurationError(
            "GRAPHWIRE_JWT_SECRET looks like a PEM key; an RS256 public key goes in "
            "GRAPHWIRE_JWT_PUBLIC_KEY."
        ) from None  # jose's message may quote the key


def _rsa_public_key(pem: str) -> Any:
    try:
        key = jwk.construct(pem, "RS256")
    except Exception:
        raise ConfigurationError(
            "GRAPHWIRE_JWT_PUBLIC_KEY is not a PEM RSA public key or certificate."
        ) from None  # jose's message may quote the key
    if not key.is_public():
        raise ConfigurationError(
            "GRAPHWIRE_JWT_PUBLIC_KEY holds a private key; the server needs only the public key."
        )
    return key


def _numeric_date(claims: Mapping[str, Any], name: str, label: str) -> float | None:
    """A NumericDate claim as a float; None when absent, AuthError when not a finite number."""
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthError(f"the token's {label} is not a number")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise AuthError(f"the token's {label} is not a finite number")
    return number


def _check_audience(claims: Mapping[str, Any], audience: str) -> None:
    """jose lets a token without ``aud`` through, so presence is checked here too."""
    if "aud" not in claims:
        raise AuthError("the token has no audience")
    value = claims["aud"]
    audiences = [value] if isinstance(value, str) else value
    if not isinstance(audiences, list) or audience not in audiences:
        raise AuthError("the token's audience is wrong")
