"""graphwire's settings: one pydantic-settings class, built once at the entry point.

Every field reads ``GRAPHWIRE_<NAME>`` from the environment or a ``.env`` file; tests build
``Settings(...)`` directly.

Example:
    >>> Settings(model="offline", offline_token_delay=0).model
    'offline'
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from graphwire.transport.protocol.errors import ConfigurationError
from graphwire.transport.runs.run import RESUME_GRACE

__all__ = ["Settings"]

_ORIGIN = re.compile(r"\*|https?://[^/?#\s]+")


class Settings(BaseSettings):
    """Configuration of the graph, the models and the stores (see the README's table)."""

    model_config = SettingsConfigDict(
        env_prefix="GRAPHWIRE_", env_file=".env", extra="ignore", frozen=True
    )

    model: str = Field(default="offline", description="'offline' or 'openai:<model>'")
    classifier_model: str | None = Field(
        default=None, description="model for routing; unset: the offline (BM25) classifier"
    )
    offline_token_delay: float = Field(
        default=0.02, ge=0.0, le=5.0, description="seconds between the offline model's words"
    )
    offline_max_sentences: int = Field(
        default=3, ge=1, le=1000, description="most sentences the offline model quotes"
    )
    pack: Path | None = Field(default=None, description="domain pack folder; unset: the demo")
    checkpoint_path: str = Field(
        default=".graphwire/conversations.sqlite",
        description="SQLite file for conversations (':memory:': kept in this process only)",
    )
    top_k: int = Field(default=4, ge=1, le=50, description="passages retrieved per question")
    max_tokens: int | None = Field(default=None, ge=1, description="cap on answer tokens")
    temperature: float | None = Field(
        default=None, ge=0.0, le=2.0, description="sampling temperature; unset: the server's"
    )
    history_tokens: int = Field(
        default=2_000, ge=0, description="earlier conversation sent to the answering model"
    )
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("GRAPHWIRE_OPENAI_API_KEY", "OPENAI_API_KEY"),
        description="key for openai: models (OPENAI_API_KEY or GRAPHWIRE_OPENAI_API_KEY)",
    )
    openai_base_url: str | None = Field(
        default=None, description="an OpenAI-compatible server, e.g. http://localhost:11434/v1"
    )
    request_timeout: float = Field(
        default=60.0, gt=0, description="seconds a model request may wait for its next byte"
    )
    max_retries: int = Field(default=2, ge=0, le=10, description="model request retries")
    log_level: Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"] = Field(
        default="INFO", description="CRITICAL, ERROR, WARNING, INFO or DEBUG"
    )

    # --- server -----------------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", description="address `graphwire serve` binds")
    port: int = Field(default=8000, ge=0, le=65535)
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "browser origins allowed for WebSocket handshakes and CORS besides the server's own "
            "(the address a page it served came from); ['*'] allows any"
        ),
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed "
            "(e.g. 127.0.0.1 behind a local nginx); none: the peer's own address is the client's"
        ),
    )
    metrics_public: bool = Field(
        default=False, description="serve /metrics to anyone; off: loopback clients only"
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="a bearer token that also opens /metrics from any address"
    )
    # --- authentication (off when neither key is set) ---------------------------------------
    jwt_secret: SecretStr | None = Field(default=None, description="HS256 shared secret")
    jwt_public_key: SecretStr | None = Field(default=None, description="RS256 public key (PEM)")
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_leeway: float = Field(default=10.0, ge=0, le=300, description="clock skew tolerated (s)")
    auth_timeout: float = Field(default=10.0, gt=0, description="seconds to send an auth frame")
    # --- runs -------------------------------------------------------------------------------
    run_retention: float = Field(
        default=300.0, ge=0, description="seconds a finished run's log is kept"
    )
    resume_grace: float = Field(
        default=RESUME_GRACE, ge=0, description="seconds a run waits for a listener"
    )
    max_log_envelopes: int = Field(default=20_000, ge=10, description="envelopes kept per run")
    run_timeout: float = Field(default=300.0, gt=0, description="seconds a run may take")
    # --- limits -----------------------------------------------------------------------------
    max_message_chars: int = Field(default=8_000, ge=1, description="longest question accepted")
    max_frame_bytes: int = Field(default=65_536, ge=256, description="largest client frame")
    max_body_bytes: int = Field(
        default=65_536, ge=256, description="largest HTTP request body (refused before auth)"
    )
    max_subscriptions_per_connection: int = Field(
        default=100, ge=1, description="conversations one socket may subscribe to"
    )
    max_subscriptions_per_user: int = Field(
        default=1_000, ge=1, description="subscriptions one user may hold over all sockets"
    )
    max_connections: int = Field(default=5_000, ge=1)
    rate_limit_per_minute: int = Field(default=30, ge=1, description="messages per connection")
    user_rate_limit_per_minute: int = Field(
        default=120, ge=1, description="messages per user (per client address with auth off)"
    )
    idle_timeout: float = Field(default=300.0, gt=0, description="seconds a silent socket lives")
    send_queue_size: int = Field(default=1_024, ge=8, description="envelopes queued per socket")
    send_timeout: float = Field(default=10.0, gt=0, description="seconds a send may block")
    ping_interval: float = Field(default=15.0, gt=0, description="seconds between keepalives")
    gc_gen0_threshold: int = Field(
        default=10_000, ge=700, description="allocations between young garbage collections"
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("allowed_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        """``a,b`` or a JSON list, from the environment; a list as it is."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part for part in text.split(",") if part.strip()]
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        """Each entry is ``*`` or an origin (``scheme://host[:port]``, as a browser sends it)."""
        origins = [origin.strip().rstrip("/") for origin in value]
        for origin in origins:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not an origin: write scheme://host[:port], "
                    "e.g. http://localhost:3000, with no path"
                )
        return origins

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        """Each entry is ``*`` or an IP address or network, as uvicorn matches them."""
        proxies = [proxy.strip() for proxy in value if proxy.strip()]
        for proxy in proxies:
            if proxy == "*":
                continue
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"{proxy!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8)"
                ) from None
        return proxies

    @classmethod
    def load(cls, *, flags: Mapping[str, str] | None = None, **values: Any) -> Self:
        """Settings from the environment and ``.env``, with ``values`` (the command line's
        options; None means not given) on top.

        A bad value raises :class:`ConfigurationError` naming each wrong variable, or the option
        (``flags`` maps a field to its option when the name differs from ``--field-name``), and
        what is wrong with it, without the value itself (it may be a secret).

        >>> Settings.load(port=70000)
        Traceback (most recent call last):
        graphwire.transport.protocol.errors.ConfigurationError: a setting is wrong: --port: Input should be less than or equal to 65535
        """  # noqa: E501
        given = {name: value for name, value in values.items() if value is not None}
        try:
            return cls(**given)
        except ValidationError as exc:
            problems = []
            for error in exc.errors(include_url=False, include_input=False):
                name = str(error["loc"][0]) if error["loc"] else ""
                if name in given:
                    where = (flags or {}).get(name, f"--{name.replace('_', '-')}")
                else:
                    where = cls._variable(name)
                problems.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
            raise ConfigurationError(f"a setting is wrong: {'; '.join(problems)}") from None

    @classmethod
    def _variable(cls, name: str) -> str:
        """The environment variable(s) a field reads."""
        field = cls.model_fields.get(name)
        alias = field.validation_alias if field is not None else None
        if isinstance(alias, AliasChoices):
            return " or ".join(str(choice) for choice in alias.choices)
        return f"GRAPHWIRE_{name.upper()}"
