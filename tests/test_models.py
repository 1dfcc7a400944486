"""The model factory and the settings that feed it."""

from __future__ import annotations

import pytest
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from agents import OfflineChatModel, create_chat_model
from api.runtime import create_model
from api.settings import Settings
from transport.errors import ConfigurationError


def test_offline_is_the_default_and_takes_its_pace_from_settings() -> None:
    model = create_model(Settings(_env_file=None, offline_token_delay=0.5, max_tokens=7))
    assert isinstance(model, OfflineChatModel)
    assert (model.token_delay, model.max_tokens) == (0.5, 7)


def test_openai_models_are_configured_from_settings() -> None:
    settings = Settings(
        _env_file=None,
        model="openai:gpt-4o-mini",
        openai_api_key=SecretStr("sk-test-1234567890"),
        openai_base_url="http://127.0.0.1:9/v1",
        request_timeout=12.0,
        max_retries=5,
        temperature=0.1,
    )
    model = create_model(settings)
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "gpt-4o-mini"
    assert model.openai_api_base == "http://127.0.0.1:9/v1"
    assert (model.request_timeout, model.max_retries, model.temperature) == (12.0, 5, 0.1)
    assert model.stream_usage is True
    assert "sk-test-1234567890" not in repr(model)


def test_the_api_key_is_read_from_either_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-openai-var")
    assert Settings(_env_file=None).openai_api_key == SecretStr("sk-from-openai-var")
    monkeypatch.setenv("GRAPHWIRE_OPENAI_API_KEY", "sk-from-graphwire-var")
    assert Settings(_env_file=None).openai_api_key == SecretStr("sk-from-graphwire-var")
    assert "sk-from" not in repr(Settings(_env_file=None))


@pytest.mark.parametrize("spec", ["gpt-4o", "openai:", "offline:fast", "anthropic:claude", ""])
def test_unknown_model_specs_are_refused_with_the_accepted_forms(spec: str) -> None:
    with pytest.raises(ConfigurationError, match="use 'offline' or 'openai:<model>'"):
        create_chat_model(spec)


def test_an_openai_model_without_key_or_server_fails_fast() -> None:
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY or GRAPHWIRE_OPENAI_API_KEY"):
        create_chat_model("openai:gpt-4o-mini")


def test_settings_validate_their_ranges() -> None:
    with pytest.raises(ValueError, match="offline_token_delay"):
        Settings(_env_file=None, offline_token_delay=-1)
