"""The model factory and the settings that feed it."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from graphwire.agents import (
    DomainPack,
    KnowledgeBase,
    OfflineChatModel,
    OfflineClassifier,
    create_chat_model,
)
from graphwire.agents.models import parse_model_spec
from graphwire.api.runtime import check_models, create_classifier, create_model
from graphwire.api.settings import Settings
from graphwire.transport.protocol.errors import ConfigurationError


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


@pytest.mark.parametrize(
    ("spec", "name"),
    [("openai:gpt-4o-mini", "gpt-4o-mini"), ("openai:qwen2.5:7b", "qwen2.5:7b"),
     ("openai:Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct")],
)  # fmt: skip
def test_model_names_keep_their_colons_and_slashes(spec: str, name: str) -> None:
    assert parse_model_spec(spec) == ("openai", name)


def test_a_compatible_server_is_also_sent_max_tokens_but_openai_is_not() -> None:
    key = SecretStr("sk-test-1234567890")
    local = create_chat_model("openai:m", openai_base_url="http://127.0.0.1:9/v1", max_tokens=50)
    hosted = create_chat_model("openai:m", openai_api_key=key, max_tokens=50)
    local_body = local._get_request_payload([HumanMessage("hi")])  # type: ignore[attr-defined]
    hosted_body = hosted._get_request_payload([HumanMessage("hi")])  # type: ignore[attr-defined]
    assert (local_body["max_completion_tokens"], local_body["extra_body"]) == (
        50,
        {"max_tokens": 50},
    )
    assert hosted_body["max_completion_tokens"] == 50 and "extra_body" not in hosted_body


def test_check_models_fails_fast_for_either_model_without_a_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("GRAPHWIRE_OPENAI_API_KEY", raising=False)
    check_models(Settings(_env_file=None, classifier_model="offline"))
    for fields in ({"model": "openai:gpt-4o-mini"}, {"classifier_model": "openai:gpt-4o-mini"}):
        with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
            check_models(Settings(_env_file=None, **fields))


def test_an_offline_classifier_model_is_the_offline_classifier(
    minipack: DomainPack, mini_kb: KnowledgeBase
) -> None:
    settings = Settings(_env_file=None, classifier_model="offline")
    assert isinstance(create_classifier(settings, minipack, mini_kb), OfflineClassifier)
