"""The one place chat models are made, keyed by the ``GRAPHWIRE_MODEL`` setting.

``offline`` is the embedded :class:`OfflineChatModel`; ``openai:<model>`` is langchain-openai's
``ChatOpenAI`` (OpenAI or any OpenAI-compatible server at ``openai_base_url``).

Example:
    >>> create_chat_model("offline", token_delay=0).model_name
    'graphwire-offline'
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from graphwire.agents.offline_model import OfflineChatModel
from graphwire.transport.protocol.errors import ConfigurationError

__all__ = ["close_chat_model", "create_chat_model", "parse_model_spec"]


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
    """A chat model for ``spec``; raises :class:`ConfigurationError` when it cannot be made.

    An ``openai:`` model holds an HTTP connection pool: :func:`close_chat_model` closes it.
    It streams with usage (``stream_usage``: the server's own token counts
    reach ``final.usage`` when it sends them), gives up on a request after ``request_timeout``
    seconds without a byte or a chunk, and retries ``max_retries`` times on 408/409/429/5xx and
    connection errors. OpenAI itself needs a key; a server at ``openai_base_url`` may not.
    """
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
    import openai
    from langchain_openai import ChatOpenAI

    extra_body: dict[str, Any] | None = None
    if openai_base_url is not None and max_tokens is not None:
        # OpenAI reads max_completion_tokens; llama.cpp's server and Ollama still read max_tokens.
        extra_body = {"max_tokens": max_tokens}
    return ChatOpenAI(
        model=name,
        api_key=openai_api_key or SecretStr("not-needed"),
        base_url=openai_base_url,
        temperature=temperature,
        max_completion_tokens=max_tokens,
        timeout=request_timeout,
        stream_chunk_timeout=request_timeout,
        max_retries=max_retries,
        stream_usage=True,
        extra_body=extra_body,
        # Its own connection pool (not langchain-openai's process-wide one), closed with the graph.
        http_async_client=openai.DefaultAsyncHttpxClient(),
    )


async def close_chat_model(model: BaseChatModel) -> None:
    """Close the connections of a model made by :func:`create_chat_model` (others: nothing).

    >>> await close_chat_model(create_chat_model("offline"))    # doctest: +SKIP
    """
    client = getattr(model, "http_async_client", None)
    if client is not None:
        await client.aclose()
