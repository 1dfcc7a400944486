"""graphwire's settings: one pydantic-settings class, built once at the entry point.

Every field reads ``GRAPHWIRE_<NAME>`` from the environment or a ``.env`` file; tests build
``Settings(...)`` directly.

Example:
    >>> Settings(model="offline", offline_token_delay=0).model
    'offline'
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


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
    pack: Path | None = Field(default=None, description="domain pack folder; unset: the demo")
    checkpoint_path: str = Field(
        default=".graphwire/conversations.sqlite",
        description="SQLite file for conversations (':memory:' keeps nothing)",
    )
    top_k: int = Field(default=4, ge=1, le=50, description="passages retrieved per question")
    max_tokens: int | None = Field(default=None, ge=1, description="cap on answer tokens")
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("GRAPHWIRE_OPENAI_API_KEY", "OPENAI_API_KEY"),
    )
    openai_base_url: str | None = None
    request_timeout: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=2, ge=0)
    log_level: str = "INFO"
