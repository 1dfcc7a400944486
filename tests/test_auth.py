"""Authentication: every bad token is an AuthError that names no secret; good ones become Users."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from jose import jwt
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner

from graphwire.api.auth import (
    ANONYMOUS,
    MAX_TOKEN_CHARS,
    Authenticator,
    AuthError,
    User,
    extract_token,
)
from graphwire.api.settings import Settings
from graphwire.api.tokens import mint_token, parse_duration, token
from graphwire.transport.protocol import ErrorCode
from graphwire.transport.protocol.errors import ConfigurationError

SECRET = "test-secret-0123456789-abcdefghijklmnop"
NOW = 1_700_000_000
LATER = NOW + 3600


def clock() -> float:
    return float(NOW)


def b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forge(header: object, payload: object, key: bytes | None = SECRET.encode()) -> str:
    """A compact JWS built by hand; str and bytes arguments are used as raw JSON text, and key None
    leaves the signature empty."""
    head = header if isinstance(header, str | bytes) else json.dumps(header)
    body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    signing_input = f"{b64(head)}.{b64(body)}"
    if key is None:
        return f"{signing_input}."
    return f"{signing_input}.{b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"


def hs256(claims: dict[str, Any], secret: str = SECRET) -> str:
    return str(jwt.encode(claims, secret, algorithm="HS256"))


def valid_claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "alice", "exp": LATER, "iat": NOW, **extra}


@pytest.fixture(scope="module")
def rsa_pems() -> tuple[str, str]:
    """(private PEM, public PEM) of a fresh 2048-bit key."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    public_pem = (
        private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    )
    return private_pem, public_pem


@pytest.fixture
def hs_auth() -> Authenticator:
    return Authenticator(secret=SECRET, clock=clock)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No GRAPHWIRE_JWT_* variables and no .env file: settings are what the test says."""
    for name in ("SECRET", "PUBLIC_KEY", "AUDIENCE", "ISSUER"):
        monkeypatch.delenv(f"GRAPHWIRE_JWT_{name}", raising=False)
    monkeypatch.chdir(tmp_path)


def assert_refused(auth: Authenticator, bad: Any, reason: str) -> AuthError:
    with pytest.raises(AuthError) as caught:
        auth.verify(bad)
    error = caught.value
    assert error.code is ErrorCode.AUTH_FAILED
    assert error.status_code == 401
    assert error.retryable is False
    assert reason in error.message
    assert len(error.message) < 80
    if isinstance(bad, str):
        for part in bad.split("."):
            assert len(part) < 8 or part not in error.message
    return error


# ---------------------------------------------------------------------------- good tokens


def test_a_valid_hs256_token_gives_its_user(hs_auth: Authenticator) -> None:
    claims = valid_claims(name="Alice", email="a@example.com", roles=["admin"], password="hunter2")
    user = hs_auth.verify(hs256(claims))
    assert user == User(
        id="alice",
        claims={
            "exp": LATER,
            "iat": NOW,
            "name": "Alice",
            "email": "a@example.com",
            "roles": ["admin"],
        },
        expires_at=float(LATER),
    )
    assert user.public() == {
        "id": "alice",
        "exp": LATER,
        "iat": NOW,
        "name": "Alice",
        "email": "a@example.com",
        "roles": ["admin"],
    }


def test_a_valid_rs256_token_gives_its_user(rsa_pems: tuple[str, str]) -> None:
    private_pem, public_pem = rsa_pems
    auth = Authenticator(public_key=public_pem, clock=clock)
    assert auth.enabled and auth.algorithm == "RS256"
    user = auth.verify(str(jwt.encode(valid_claims(scope="chat"), private_pem, algorithm="RS256")))
    assert user.id == "alice"
    assert user.claims["scope"] == "chat"


def test_from_settings_reads_the_keys_audience_and_issuer(
    clean_env: None, rsa_pems: tuple[str, str]
) -> None:
    private_pem, public_pem = rsa_pems
    settings = Settings(
        jwt_public_key=SecretStr(public_pem), jwt_audience="graphwire", jwt_issuer="https://idp"
    )
    auth = Authenticator.from_settings(settings, clock=clock)
    good = valid_claims(aud="graphwire", iss="https://idp")
    assert auth.verify(str(jwt.encode(good, private_pem, algorithm="RS256"))).id == "alice"
    hs = Authenticator.from_settings(Settings(jwt_secret=SecretStr(SECRET)), clock=clock)
    assert hs.algorithm == "HS256"
    assert hs.verify(hs256(valid_claims())).id == "alice"


def test_an_audience_list_that_contains_ours_is_accepted() -> None:
    auth = Authenticator(secret=SECRET, audience="graphwire", clock=clock)
    assert auth.verify(hs256(valid_claims(aud=["other", "graphwire"]))).id == "alice"


def test_without_a_configured_audience_the_aud_claim_is_ignored(hs_auth: Authenticator) -> None:
    # python-jose on its own refuses any token with an aud claim when no audience is given
    assert hs_auth.verify(hs256(valid_claims(aud="someone-else"))).id == "alice"


def test_leeway_accepts_a_token_that_expired_a_moment_ago() -> None:
    auth = Authenticator(secret=SECRET, leeway=10, clock=clock)
    assert auth.verify(hs256(valid_claims(exp=NOW - 5))).id == "alice"
    with pytest.raises(AuthError, match="expired"):
        auth.verify(hs256(valid_claims(exp=NOW - 11)))


def test_a_secret_that_looks_like_json_still_verifies() -> None:
    # jose reads a str key that parses as a JSON object as a key set; a Key object avoids that
    secret = '{"kid": "' + "x" * 40 + '"}'
    auth = Authenticator(secret=secret, clock=clock)
    assert auth.verify(hs256(valid_claims(), secret=secret)).id == "alice"


# ---------------------------------------------------------------------------- bad tokens

BAD_CLAIMS = [
    pytest.param(valid_claims(exp=NOW - 1), "expired", id="expired"),
    pytest.param(valid_claims(exp=NOW), "expired", id="expires-now"),
    pytest.param({"sub": "alice"}, "no expiry", id="no-exp"),
    pytest.param(valid_claims(exp=str(LATER)), "not a number", id="string-exp"),
    pytest.param(valid_claims(exp=True), "not a number", id="bool-exp"),
    pytest.param(valid_claims(exp=None), "not a number", id="null-exp"),
    pytest.param(valid_claims(exp=[LATER]), "not a number", id="list-exp"),
    pytest.param(valid_claims(nbf=NOW + 60), "not valid yet", id="nbf-future"),
    pytest.param(valid_claims(nbf="0"), "not a number", id="string-nbf"),
    pytest.param(valid_claims(iat=NOW + 60), "in the future", id="iat-future"),
    pytest.param({"exp": LATER}, "no subject", id="no-sub"),
    pytest.param(valid_claims(sub=""), "no subject", id="empty-sub"),
    pytest.param(valid_claims(sub="   "), "no subject", id="blank-sub"),
    pytest.param(valid_claims(sub=42), "no subject", id="int-sub"),
]


@pytest.mark.parametrize(("claims", "reason"), BAD_CLAIMS)
def test_bad_claims_are_refused(
    hs_auth: Authenticator, claims: dict[str, Any], reason: str
) -> None:
    assert_refused(hs_auth, hs256(claims), reason)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        pytest.param('{"sub": "alice", "exp": 1e400}', "not a finite number", id="infinite-exp"),
        pytest.param('{"sub": "alice", "exp": NaN}', "not a finite number", id="nan-exp"),
        pytest.param('{"sub": "alice", "exp": 1' + "0" * 400 + "}", "not a finite", id="huge-exp"),
        pytest.param("[1, 2]", "malformed", id="payload-array"),
        pytest.param("not json", "malformed", id="payload-not-json"),
        pytest.param("[" * 2000 + "]" * 2000, "malformed", id="payload-nested-deep"),
        pytest.param(b'{"sub": "\xff\xfe"}', "malformed", id="payload-not-utf8"),
    ],
)
def test_correctly_signed_odd_payloads_are_refused(
    hs_auth: Authenticator, payload: str | bytes, reason: str
) -> None:
    assert_refused(hs_auth, forge({"alg": "HS256", "typ": "JWT"}, payload), reason)


def test_a_wrong_signature_is_refused(hs_auth: Authenticator) -> None:
    assert_refused(hs_auth, hs256(valid_claims(), secret="another-secret-" * 3), "signature")
    head, body, _ = hs256(valid_claims()).split(".")
    assert_refused(hs_auth, f"{head}.{body}.{b64(b'x' * 32)}", "signature")
    assert_refused(hs_auth, f"{head}.{body}.", "signature")


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        pytest.param(valid_claims(aud="other"), "audience is wrong", id="wrong"),
        pytest.param(valid_claims(), "no audience", id="missing"),
        pytest.param(valid_claims(aud=["a", "b"]), "audience is wrong", id="list-without"),
        pytest.param(valid_claims(aud=[]), "audience is wrong", id="empty-list"),
        pytest.param(valid_claims(aud={"graphwire": 1}), "audience is wrong", id="object"),
    ],
)
def test_the_audience_is_enforced_when_configured(claims: dict[str, Any], reason: str) -> None:
    auth = Authenticator(secret=SECRET, audience="graphwire", clock=clock)
    assert_refused(auth, hs256(claims), reason)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        pytest.param(valid_claims(iss="https://evil"), "issuer is wrong", id="wrong"),
        pytest.param(valid_claims(), "no issuer", id="missing"),
        pytest.param(valid_claims(iss=["https://idp"]), "issuer is wrong", id="list"),
    ],
)
def test_the_issuer_is_enforced_when_configured(claims: dict[str, Any], reason: str) -> None:
    auth = Authenticator(secret=SECRET, issuer="https://idp", clock=clock)
    assert_refused(auth, hs256(claims), reason)


def test_alg_none_is_refused(hs_auth: Authenticator) -> None:
    unsigned = forge({"alg": "none", "typ": "JWT"}, valid_claims(), key=None)
    assert_refused(hs_auth, unsigned, "algorithm is not accepted")
    assert_refused(hs_auth, forge({"typ": "JWT"}, valid_claims()), "algorithm is not accepted")


def test_an_hs256_token_signed_with_the_public_key_is_refused(rsa_pems: tuple[str, str]) -> None:
    _, public_pem = rsa_pems
    auth = Authenticator(public_key=public_pem, clock=clock)
    confused = forge({"alg": "HS256", "typ": "JWT"}, valid_claims(), key=public_pem.encode())
    assert_refused(auth, confused, "algorithm is not accepted")


def test_an_rs256_token_is_refused_when_hs256_is_configured(
    hs_auth: Authenticator, rsa_pems: tuple[str, str]
) -> None:
    private_pem, _ = rsa_pems
    rs = str(jwt.encode(valid_claims(), private_pem, algorithm="RS256"))
    assert_refused(hs_auth, rs, "algorithm is not accepted")


def test_an_rs256_token_from_another_key_is_refused(rsa_pems: tuple[str, str]) -> None:
    _, public_pem = rsa_pems
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_pem = other.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    auth = Authenticator(public_key=public_pem, clock=clock)
    forged = str(jwt.encode(valid_claims(), other_pem, algorithm="RS256"))
    assert_refused(auth, forged, "signature")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        pytest.param("[1, 2]", "malformed", id="array"),
        pytest.param('"HS256"', "malformed", id="string"),
        pytest.param("{not json", "malformed", id="not-json"),
        pytest.param("[" * 2000 + "]" * 2000, "malformed", id="nested-deep"),
        pytest.param('{"alg": "HS256", "crit": ["b64"]}', "header extensions", id="crit"),
        pytest.param('{"alg": ["HS256"]}', "algorithm", id="alg-list"),
        pytest.param(b'{"alg": "HS256", "kid": "\xff"}', "malformed", id="not-utf8"),
    ],
)
def test_odd_headers_are_refused(hs_auth: Authenticator, header: str | bytes, reason: str) -> None:
    assert_refused(hs_auth, forge(header, valid_claims()), reason)


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("garbage!", "malformed", id="word"),
        pytest.param("abcd.efgh", "malformed", id="two-segments"),
        pytest.param("abcd.efgh.ijkl.mnop", "malformed", id="four-segments"),
        pytest.param("....", "malformed", id="dots"),
        pytest.param("abcde.abcde.abcde", "malformed", id="bad-base64-length"),
        pytest.param(" " + hs256(valid_claims()), "malformed", id="leading-space"),
        pytest.param(hs256(valid_claims()) + "\n", "malformed", id="trailing-newline"),
        pytest.param("eyJ\udcff.eyJ.sig", "malformed", id="surrogate"),
        pytest.param("éé.éé.éé", "malformed", id="non-ascii"),
        pytest.param("eyJhbGciOiJIUzI1NiJ9.e30=.sig", "malformed", id="padding"),
        pytest.param("a" * (MAX_TOKEN_CHARS + 1), "too long", id="just-too-long"),
        pytest.param("x" * 100_000, "too long", id="100KB"),
        pytest.param("eyJ." * 250_000, "too long", id="1MB"),
        pytest.param(None, "not a string", id="none"),
        pytest.param(b"abc.def.ghi", "not a string", id="bytes"),
        pytest.param(12345, "not a string", id="int"),
    ],
)
def test_garbage_is_refused(hs_auth: Authenticator, garbage: Any, reason: str) -> None:
    assert_refused(hs_auth, garbage, reason)


def test_a_signature_with_junk_characters_is_refused(hs_auth: Authenticator) -> None:
    # jose's base64 decoder drops characters outside the alphabet; the shape check does not
    good = hs256(valid_claims())
    head, body, sig = good.split(".")
    assert_refused(hs_auth, f"{head}.{body}.{sig[:5]}!!{sig[5:]}", "malformed")


@settings(max_examples=300, database=None, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_an_auth_error_and_nothing_else(text: str) -> None:
    auth = Authenticator(secret=SECRET, clock=clock)
    with pytest.raises(AuthError):
        auth.verify(text)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, database=None, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["sub", "exp", "nbf", "iat", "aud", "iss", "name", "x"]), JSON, max_size=7
    )
)
def test_any_signed_payload_is_a_user_or_an_auth_error(claims: dict[str, Any]) -> None:
    auth = Authenticator(secret=SECRET, audience="graphwire", issuer="https://idp", clock=clock)
    signed = forge({"alg": "HS256"}, json.dumps(claims))
    try:
        user = auth.verify(signed)
    except AuthError:
        return
    assert user.id == claims["sub"]
    assert set(user.claims) <= {"exp", "iat", "aud", "iss", "name"}


# ---------------------------------------------------------------------------- configuration


def test_without_a_key_authentication_is_off(clean_env: None) -> None:
    auth = Authenticator.from_settings(Settings())
    assert not auth.enabled and auth.algorithm is None
    with pytest.raises(AuthError, match="not configured"):
        auth.verify(hs256(valid_claims()))
    assert User(id="anonymous", claims={}) == ANONYMOUS
    assert ANONYMOUS.public() == {"id": "anonymous"}


def test_both_keys_is_a_configuration_error(clean_env: None, rsa_pems: tuple[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        Authenticator(secret=SECRET, public_key=rsa_pems[1])
    settings = Settings(jwt_secret=SecretStr(SECRET), jwt_public_key=SecretStr(rsa_pems[1]))
    with pytest.raises(ConfigurationError):
        Authenticator.from_settings(settings)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        pytest.param({"secret": ""}, "empty", id="empty-secret"),
        pytest.param(
            {"secret": "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----"},
            "PEM",
            id="pem-secret",
        ),
        pytest.param({"public_key": "not a pem at all, secret-ish"}, "not a PEM", id="bad-pem"),
        pytest.param({"secret": SECRET, "leeway": -1}, "leeway", id="negative-leeway"),
    ],
)
def test_bad_keys_are_configuration_errors(kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(ConfigurationError, match=reason) as caught:
        Authenticator(**kwargs)
    assert "MIIB" not in caught.value.message and "secret-ish" not in caught.value.message


def test_a_private_key_is_not_accepted_as_the_public_key(rsa_pems: tuple[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="private key"):
        Authenticator(public_key=rsa_pems[0])


def test_repr_shows_no_secret(hs_auth: Authenticator) -> None:
    assert SECRET not in repr(hs_auth)
    assert "HS256" in repr(hs_auth)


def test_a_user_is_frozen() -> None:
    user = User(id="alice")
    with pytest.raises(ValidationError):
        user.id = "mallory"  # type: ignore[misc]


# ---------------------------------------------------------------------------- extract_token


@pytest.mark.parametrize(
    ("authorization", "query", "expected"),
    [
        ("Bearer abc.def.ghi", None, "abc.def.ghi"),
        ("bearer abc.def.ghi", None, "abc.def.ghi"),
        ("BEARER   abc.def.ghi  ", None, "abc.def.ghi"),
        ("Bearer from-header", "from-query", "from-header"),
        (None, "from-query", "from-query"),
        (None, None, None),
    ],
)
def test_extract_token_finds_the_token(
    authorization: str | None, query: str | None, expected: str | None
) -> None:
    assert extract_token(authorization=authorization, query_token=query) == expected


@pytest.mark.parametrize(
    ("authorization", "query"),
    [
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer", None),
        ("Bearer    ", None),
        ("Bearer a b", None),
        ("", None),
        ("abc.def.ghi", None),
        (None, ""),
        (None, "   "),
    ],
)
def test_extract_token_refuses_malformed_credentials(
    authorization: str | None, query: str | None
) -> None:
    with pytest.raises(AuthError) as caught:
        extract_token(authorization=authorization, query_token=query)
    assert "dXNlcjpwYXNz" not in caught.value.message


# ---------------------------------------------------------------------------- tokens.py


def test_a_minted_token_verifies() -> None:
    auth = Authenticator(secret=SECRET, audience="graphwire", issuer="https://idp", clock=clock)
    minted = mint_token(
        secret=SECRET,
        sub="bob",
        ttl_seconds=60,
        audience="graphwire",
        issuer="https://idp",
        claims={"name": "Bob", "roles": ["user"]},
        now=NOW,
    )
    user = auth.verify(minted)
    assert user.id == "bob"
    assert user.expires_at == NOW + 60
    assert user.public() == {
        "id": "bob",
        "name": "Bob",
        "roles": ["user"],
        "aud": "graphwire",
        "iss": "https://idp",
        "iat": NOW,
        "exp": NOW + 60,
    }
    expired = mint_token(secret=SECRET, sub="bob", ttl_seconds=60, now=NOW - 61)
    assert_refused(Authenticator(secret=SECRET, clock=clock), expired, "expired")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"secret": "", "sub": "bob", "ttl_seconds": 60},
        {"secret": SECRET, "sub": "", "ttl_seconds": 60},
        {"secret": SECRET, "sub": "bob", "ttl_seconds": 0},
        {"secret": SECRET, "sub": "bob", "ttl_seconds": float("inf")},
        {"secret": SECRET, "sub": "bob", "ttl_seconds": 60, "claims": {"exp": 1}},
    ],
)
def test_mint_token_refuses_bad_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        mint_token(**kwargs)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("45s", 45),
        ("30m", 1800),
        ("1h", 3600),
        ("2d", 172800),
        ("1.5h", 5400),
        (" 2H ", 7200),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "abc", "1w", "-5m", "0", "0s", "1h30m", "inf", "nan", "h", "1 h x"]
)
def test_parse_duration_refuses_bad_input(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def token_app() -> typer.Typer:
    app = typer.Typer()
    app.command()(token)
    return app


def test_the_token_command_prints_a_token_the_server_accepts(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAPHWIRE_JWT_SECRET", SECRET)
    monkeypatch.setenv("GRAPHWIRE_JWT_AUDIENCE", "graphwire")
    result = CliRunner().invoke(token_app(), ["--sub", "carol", "--ttl", "30m"])
    assert result.exit_code == 0, result.output
    printed = result.stdout.strip()
    assert printed.count(".") == 2 and "\n" not in printed
    settings = Settings()
    assert Authenticator.from_settings(settings).verify(printed).id == "carol"
    assert "carol" in result.stderr and SECRET not in result.output


def test_the_token_command_takes_a_secret_option(clean_env: None) -> None:
    result = CliRunner().invoke(token_app(), ["--sub", "dave", "--secret", SECRET])
    assert result.exit_code == 0, result.output
    assert Authenticator(secret=SECRET).verify(result.stdout.strip()).id == "dave"


def test_the_token_command_without_a_secret_exits_2(clean_env: None) -> None:
    result = CliRunner().invoke(token_app(), ["--sub", "erin"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "GRAPHWIRE_JWT_SECRET" in result.stderr


def test_the_token_command_explains_rs256(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, rsa_pems: tuple[str, str]
) -> None:
    monkeypatch.setenv("GRAPHWIRE_JWT_PUBLIC_KEY", rsa_pems[1])
    result = CliRunner().invoke(token_app(), ["--sub", "erin"])
    assert result.exit_code == 2
    assert "RS256" in result.stderr


@pytest.mark.parametrize("ttl", ["soon", "400d"])
def test_the_token_command_refuses_a_bad_ttl(clean_env: None, ttl: str) -> None:
    result = CliRunner().invoke(token_app(), ["--sub", "erin", "--secret", SECRET, "--ttl", ttl])
    assert result.exit_code == 2
    assert "--ttl" in result.stderr
    assert result.stdout == ""
