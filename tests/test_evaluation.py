"""``graphwire eval``'s scoring: routes, recall, answers that state the facts, honest refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graphwire.agents import DomainPack, OfflineChatModel
from graphwire.agents.evaluation import (
    EvalQuestion,
    evaluate_pack,
    load_questions,
    says_not_in_docs,
)
from graphwire.graph import build_graph
from graphwire.transport.protocol.errors import ConfigurationError

QUESTIONS = [
    {"question": "What does error F3 mean?", "agent": "faults", "source": "faults/codes.md",
     "category": "paraphrase", "facts": [["temperature sensor"]]},
    {"question": "What does error F3 mean?", "agent": "faults", "source": "faults/codes.md",
     "category": "wrong-fact", "facts": [["temperature sensor"], ["a fact no answer states"]]},
    {"question": "And can I fix it myself?", "agent": "faults", "source": "faults/codes.md",
     "category": "follow-up", "history": ["What does error F3 mean?"], "facts": [["cannot be fixed at home"]]},
    {"question": "What is the capital of Peru?", "agent": "general", "category": "off-topic",
     "unanswerable": True},
]  # fmt: skip


@pytest.fixture
def question_file(tmp_path: Path) -> Path:
    path = tmp_path / "eval.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in QUESTIONS), encoding="utf-8")
    return path


async def test_answers_and_refusals_are_scored_per_category(
    minipack: DomainPack, question_file: Path
) -> None:
    graph = build_graph(pack=minipack, model=OfflineChatModel(token_delay=0))
    report = await evaluate_pack(minipack, load_questions(question_file), graph=graph)
    assert report.questions == 4
    assert report.routing_accuracy == 1.0 and report.recall_at_3 == 1.0
    assert report.answer_accuracy == pytest.approx(2 / 3, abs=1e-4)  # one fact is never stated
    assert report.not_in_docs_accuracy == 1.0
    categories = report.per_category
    assert categories["wrong-fact"].answers == 0.0 and categories["paraphrase"].answers == 1.0
    assert categories["follow-up"].answers == 1.0  # asked after its history, in one thread
    assert categories["off-topic"].not_in_docs == 1.0 and categories["off-topic"].answers is None
    assert [(m.kind, m.category) for m in report.misses] == [("answer", "wrong-fact")]
    assert report.per_agent["faults"].questions == 3


def test_an_unanswerable_question_has_no_facts(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    bad = {"question": "q", "agent": "general", "unanswerable": True, "facts": [["x"]]}
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"bad\.jsonl:1"):
        load_questions(path)


def test_saying_the_documents_do_not_answer() -> None:
    assert says_not_in_docs("I could not find anything about that in the knowledge base.")
    assert says_not_in_docs("The documents don’t say what the cover costs.")
    assert not says_not_in_docs("Error F3 means the temperature sensor failed.")
    assert EvalQuestion(question="q", agent="a").category == "uncategorised"
