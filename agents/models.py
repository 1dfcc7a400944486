"""The one place chat models are made, keyed by the ``GRAPHWIRE_MODEL`` setting.

``offline`` is the embedded :class:`OfflineChatModel`; ``openai:<model>`` is langchain-openai's
``ChatOpenAI`` (OpenAI or any OpenAI-compatible server at ``openai_base_url``).

Example:
    >>> create_chat_model("offline", token_delay=0).model_name
    'graphwire-offline'
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from agents.offline_model import OfflineChatModel
from transport.errors import ConfigurationError

__all__ = ["create_chat_model", "parse_model_spec"]


def parse_model_spec(spec: str) -> tuple[str, str]:
    """Split a model setting: ``"openai:gpt-4o-mini"`` → ``("openai", "gpt-4o-mini")``."""
    provider, _, name = spec.strip().partition(":")
    if provider == "offline" and not name:
        return "offline", ""
    if provider == "openai" and name:
        return "openai", name
    raise ConfigurationError(
        f"unknown model {spec!r}: use 'offline' or 'openai:<model>' (e.g. openai:gpt-4o-mini)"
    )


def create_chat_model(
    spec: str = "offline",
    *,
    token_delay: float = 0.02,
    max_sentences: int = 3,
    max_tokens: int | None = None,
    temperature: float | None = None,
    openai_api_key: SecretStr | None = None,
    openai_base_url: str | None = None,
    request_timeout: float | None = None,
    max_retries: int = 2,
) -> BaseChatModel:
    """A chat model for ``spec``; raises :class:`ConfigurationError` when it cannot be made."""
    provider, name = parse_model_spec(spec)
    if provider == "offline":
        return OfflineChatModel(
            token_delay=token_delay, max_tokens=max_tokens, max_sentences=max_sentences
        )
    if openai_api_key is None and openai_base_url is None:
        raise ConfigurationError(
            f"model {spec!r} needs an API key: set OPENAI_API_KEY or GRAPHWIRE_OPENAI_API_KEY "
            "(or GRAPHWIRE_OPENAI_BASE_URL for a server that needs none)"
        )
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=name,
        api_key=openai_api_key or SecretStr("not-needed"),
        base_url=openai_base_url,
        temperature=temperature,
        max_completion_tokens=max_tokens,
        timeout=request_timeout,
        max_retries=max_retries,
        stream_usage=True,
    )
