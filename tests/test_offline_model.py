"""The embedded offline model: streaming through callbacks, usage, finish reason, grounding."""

from __future__ import annotations

import re

import pytest
from langchain_core.documents import Document
from langchain_core.messages import HumanMessage, SystemMessage

from graphwire.agents import OfflineChatModel
from graphwire.agents import offline_model as offline_module
from graphwire.agents.extractive import NOTHING_FOUND, compose_answer
from graphwire.agents.prompts import Passage, format_passages, parse_passages

DOCS = [
    Document(
        page_content="The VB-24 battery stores 2.4 kWh. It weighs 14.2 kg.\n\n"
        "| Charger | Time |\n|---|---|\n| VC-600 | 4.5 hours |",
        metadata={"id": "specs/battery#0", "title": "Battery › Capacity"},
    ),
    Document(
        page_content="Rinse the motor with fresh water after every trip in salt water.",
        metadata={"id": "maintenance/rinse#0", "title": "Rinsing"},
    ),
]


def _prompt(question: str, docs: list[Document] = DOCS) -> list:
    return [SystemMessage(f"Be brief.\n\n{format_passages(docs)}"), HumanMessage(question)]


def test_passages_round_trip_through_the_prompt_format() -> None:
    parsed = parse_passages(format_passages(DOCS))
    assert [(p.id, p.title) for p in parsed] == [
        ("specs/battery#0", "Battery › Capacity"),
        ("maintenance/rinse#0", "Rinsing"),
    ]
    assert parsed[0].text == DOCS[0].page_content


async def test_streams_word_by_word_through_the_callback_system() -> None:
    model = OfflineChatModel(token_delay=0)
    events = [e async for e in model.astream_events(_prompt("How much does the battery weigh?"))]
    chunks = [e["data"]["chunk"].content for e in events if e["event"] == "on_chat_model_stream"]
    end = next(e for e in events if e["event"] == "on_chat_model_end")["data"]["output"]
    answer = "The VB-24 battery stores 2.4 kWh. It weighs 14.2 kg. [specs/battery#0]"
    assert "".join(chunks) == end.content == answer
    words = [c for c in chunks if c]
    assert words == re.findall(r"\S+\s*", answer) and len(words) == 11
    assert end.response_metadata["finish_reason"] == "stop"
    assert end.response_metadata["model_name"] == "graphwire-offline"
    assert end.usage_metadata["output_tokens"] == len(words)
    assert end.usage_metadata["input_tokens"] > 20
    start = next(e for e in events if e["event"] == "on_chat_model_start")
    assert start["metadata"]["ls_model_name"] == "graphwire-offline"


async def test_the_answer_is_deterministic_and_made_of_passage_sentences() -> None:
    model = OfflineChatModel(token_delay=0)
    first = await model.ainvoke(_prompt("How long does charging take with the VC-600 charger?"))
    second = await model.ainvoke(_prompt("How long does charging take with the VC-600 charger?"))
    assert first.content == second.content
    assert first.content == "Charger: VC-600; Time: 4.5 hours. [specs/battery#0]"
    weight = await model.ainvoke(_prompt("What does the battery weigh?"))
    for sentence in re.split(r"(?<=\.) ", re.sub(r" ?\[[^\]]+\]", "", str(weight.content))):
        assert sentence in DOCS[0].page_content  # every sentence is quoted, none invented


async def test_says_plainly_when_the_knowledge_base_has_nothing() -> None:
    model = OfflineChatModel(token_delay=0)
    assert (await model.ainvoke(_prompt("Who won the football cup?"))).content == NOTHING_FOUND
    assert (await model.ainvoke(_prompt("How heavy is it?", []))).content == NOTHING_FOUND


async def test_max_tokens_cuts_the_answer_with_finish_reason_length() -> None:
    model = OfflineChatModel(token_delay=0, max_tokens=3)
    reply = await model.ainvoke(_prompt("How much does the battery weigh?"))
    assert reply.content == "The VB-24 battery "
    assert reply.response_metadata["finish_reason"] == "length"
    assert reply.usage_metadata["output_tokens"] == 3


async def test_token_delay_paces_the_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(offline_module.asyncio, "sleep", fake_sleep)
    model = OfflineChatModel(token_delay=0.25)
    chunks = [c async for c in model.astream(_prompt("How much does the battery weigh?"))]
    words = [c for c in chunks if c.content]
    assert slept == [0.25] * (len(words) - 1)


def test_follow_up_uses_the_previous_question() -> None:
    passages = [
        Passage("a#0", "Battery", "The VB-24 battery weighs 14.2 kg. The charger weighs 1 kg.")
    ]
    alone = compose_answer("And the charger?", passages)
    with_context = compose_answer("And the charger?", passages, context="How heavy is the battery?")
    assert alone == "The charger weighs 1 kg. [a#0]"
    assert "The charger weighs 1 kg." in with_context
