"""Routing with the offline classifier and the model classifier's fallback."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatResult

from graphwire.agents import (
    DomainPack,
    KnowledgeBase,
    ModelClassifier,
    OfflineChatModel,
    OfflineClassifier,
    load_pack,
)
from graphwire.agents.model_classifier import route_schema
from graphwire.transport.protocol.errors import ConfigurationError
from tests.conftest import MINIPACK
from tests.fakes import RoutingModel, routing_model


class FailingRoutingModel(RoutingModel):
    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        raise RuntimeError("the router's server is down")


def _offline(pack: DomainPack, kb: KnowledgeBase) -> OfflineClassifier:
    return OfflineClassifier(pack, knowledge_base=kb)


async def test_a_clear_question_routes_with_high_confidence(
    minipack: DomainPack, mini_kb: KnowledgeBase
) -> None:
    decision = await _offline(minipack, mini_kb).classify("What does error F3 mean?", [])
    assert decision.agent == "faults" and decision.confidence > 0.7 and not decision.follow_up


async def test_an_off_topic_question_goes_to_the_fallback_with_the_odds_that_it_is_off_topic(
    minipack: DomainPack, mini_kb: KnowledgeBase
) -> None:
    decision = await _offline(minipack, mini_kb).classify("Who painted the Mona Lisa?", [])
    assert decision.agent == "general" and decision.confidence > 0.9


async def test_confidence_orders_clear_over_ambiguous(
    minipack: DomainPack, mini_kb: KnowledgeBase
) -> None:
    classifier = _offline(minipack, mini_kb)
    clear = classifier.score("How do I descale the kettle with citric acid?")
    vague = classifier.score("kettle")
    assert clear.agent == "care" and clear.confidence > vague.confidence


async def test_a_short_follow_up_stays_with_the_previous_agent(
    minipack: DomainPack, mini_kb: KnowledgeBase
) -> None:
    history = [HumanMessage("What does error F3 mean?"), AIMessage("Sensor failed.", name="faults")]
    decision = await _offline(minipack, mini_kb).classify("and after unplugging?", history)
    assert decision.agent == "faults" and decision.follow_up
    assert decision.reason == "follow-up to the previous question"
    alone = await _offline(minipack, mini_kb).classify("and after unplugging?", [])
    assert not alone.follow_up  # no turn before it: routed on its own words


async def test_a_new_question_is_not_glued_to_the_previous_one(
    minipack: DomainPack, mini_kb: KnowledgeBase
) -> None:
    """After a fault question, a question with a topic of its own is routed on its own."""
    history = [HumanMessage("What does error F3 mean?"), AIMessage("Sensor failed.", name="faults")]
    classifier = _offline(minipack, mini_kb)
    descale = await classifier.classify("How do I descale the kettle with citric acid?", history)
    assert descale.agent == "care" and not descale.follow_up
    weight = await classifier.classify("How heavy is the kettle?", history)
    assert weight.agent == "specs" and not weight.follow_up


async def test_a_one_agent_pack_routes_everything_to_it_with_confidence(
    minipack: DomainPack, mini_kb: KnowledgeBase
) -> None:
    solo = minipack.model_copy(update={"agents": (minipack.fallback_agent,)})
    decision = await OfflineClassifier(solo, knowledge_base=mini_kb).classify(
        "What does error F3 mean?", []
    )
    assert decision.agent == minipack.fallback_agent.name and decision.confidence > 0.9


async def test_an_off_topic_question_is_no_follow_up(
    minipack: DomainPack, mini_kb: KnowledgeBase
) -> None:
    history = [HumanMessage("What does error F3 mean?"), AIMessage("Sensor failed.", name="faults")]
    decision = await _offline(minipack, mini_kb).classify("What is the capital of France?", history)
    assert decision.agent == "general" and not decision.follow_up


async def test_model_classifier_uses_a_valid_route_call(minipack: DomainPack) -> None:
    model = routing_model(("", '{"agent": "care", "confidence": 0.7, "reason": "cleaning"}'))
    classifier = ModelClassifier(minipack, model, fallback=OfflineClassifier(minipack))
    decision = await classifier.classify("How do I clean it?", [])
    assert (decision.agent, decision.confidence, decision.reason) == ("care", 0.7, "cleaning")


async def test_model_classifier_falls_back_on_an_unusable_route_call(
    minipack: DomainPack,
) -> None:
    replies = [("", '{"agent": "weather", "confidence": 0.9, "reason": "rain"}'),
               ("Sure, faults.", None), ("", "not json"), ("", '{"agent": "care"}'),
               ("", '{"agent": "care", "confidence": 7, "reason": "sure"}')]  # fmt: skip
    for reply in replies:
        classifier = ModelClassifier(
            minipack, routing_model(reply), fallback=OfflineClassifier(minipack)
        )
        decision = await classifier.classify("What does error F3 mean?", [])
        assert decision.agent == "faults", reply
        assert decision.reason.startswith("model routing unusable, offline routing used"), reply


async def test_model_classifier_falls_back_when_the_model_fails(minipack: DomainPack) -> None:
    failing = FailingRoutingModel(replies=[("", None)])
    classifier = ModelClassifier(minipack, failing, fallback=OfflineClassifier(minipack))
    decision = await classifier.classify("What does error F3 mean?", [])
    assert decision.agent == "faults"
    assert decision.reason.startswith("model routing failed (PROCESSING_ERROR), offline routing")


def test_model_classifier_offers_the_packs_agents_as_an_enum(minipack: DomainPack) -> None:
    schema = route_schema(minipack)
    assert schema["properties"]["agent"]["enum"] == list(minipack.agent_names)
    assert schema["required"] == ["agent", "confidence", "reason"]


def test_a_model_that_cannot_call_tools_is_refused_at_start(minipack: DomainPack) -> None:
    with pytest.raises(ConfigurationError, match="cannot call tools"):
        ModelClassifier(minipack, OfflineChatModel(), fallback=OfflineClassifier(minipack))


async def test_a_price_question_goes_to_the_price_list(tmp_path: Path) -> None:
    """A price question ("How much is the K2?"): the passage holding its price ranks first,
    though the kettle's own page shares more words with it, and the list's owner answers."""
    shutil.copytree(MINIPACK, tmp_path / "pack")
    prices = tmp_path / "pack" / "docs" / "about" / "prices.md"
    prices.write_text(
        "# Price list\n\n## Kettles\n\nK2: EUR 79.\n\n## Care\n\nDescaling tablets, 10: EUR 6.\n"
    )
    pack = load_pack(tmp_path / "pack")
    kb = KnowledgeBase.from_pack(pack, cache_dir=tmp_path / "cache")
    question = "How much is the K2 kettle?"
    assert kb.search(question, k=1)[0].metadata["id"] == "about/prices#0"
    decision = await _offline(pack, kb).classify(question, [])
    assert decision.agent == "general"
