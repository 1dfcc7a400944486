"""The demo pack end to end: the eval targets, off-topic questions, grounded answers."""

from __future__ import annotations

import re

import pytest

from graphwire.agents import DomainPack, KnowledgeBase, OfflineChatModel, OfflineClassifier
from graphwire.agents.evaluation import evaluate_pack, load_questions
from graphwire.agents.extractive import NOTHING_FOUND
from graphwire.graph import build_graph
from graphwire.transport.runs import ask

OFF_TOPIC = [
    "What's the weather in Paris tomorrow?",
    "Who won the world cup in 2018?",
    "give me a recipe for pancakes",
    "how do I file my taxes",
    "tell me a joke",
    "is bitcoin a good investment",
    "what's the best laptop for programming",
    "translate hello into Spanish",
]


async def test_the_shipped_eval_meets_both_targets(
    demo_pack: DomainPack, demo_kb: KnowledgeBase
) -> None:
    questions = load_questions(demo_pack.root / "eval.jsonl")
    assert len(questions) >= 60
    assert {q.agent for q in questions} == set(demo_pack.agent_names)
    graph = build_graph(
        pack=demo_pack, model=OfflineChatModel(token_delay=0), knowledge_base=demo_kb
    )
    report = await evaluate_pack(demo_pack, questions, graph=graph)
    assert report.routing_accuracy >= 0.9, report.misses
    assert report.recall_at_3 is not None and report.recall_at_3 >= 0.9, report.misses
    assert report.questions == len(questions)


@pytest.mark.parametrize("question", OFF_TOPIC)
async def test_off_topic_questions_go_to_the_fallback(
    demo_pack: DomainPack, demo_kb: KnowledgeBase, question: str
) -> None:
    decision = await OfflineClassifier(demo_pack, knowledge_base=demo_kb).classify(question, [])
    assert decision.agent == "general"
    assert decision.confidence > 0.5  # the route is probably right: the question is off-topic


async def test_in_domain_questions_are_confident(
    demo_pack: DomainPack, demo_kb: KnowledgeBase
) -> None:
    classifier = OfflineClassifier(demo_pack, knowledge_base=demo_kb)
    for question, agent in [
        ("What is the rated continuous power of the motor in kW?", "specs"),
        ("How do I change the gear oil?", "maintenance"),
        ("My display shows fault E03, what should I do?", "troubleshooting"),
        ("How long is the warranty on the motor?", "general"),
    ]:
        decision = await classifier.classify(question, [])
        assert (decision.agent, decision.confidence > 0.2) == (agent, True), question


async def test_answers_quote_the_documents_and_cite_them(demo_pack: DomainPack) -> None:
    graph = build_graph(pack=demo_pack, model=OfflineChatModel(token_delay=0))
    final = await ask(graph, "How much does the VB-24 battery weigh?")
    assert final.agent == "specs"
    assert "The VB-24 battery weighs 16.8 kg." in final.text
    cited = re.findall(r"\[([^\]]+)\]", final.text)
    assert cited and set(cited) <= {s.id for s in final.sources}
    corpus = " ".join(p.read_text() for p in demo_pack.documents())
    for sentence in re.split(r"(?<=\.) ", re.sub(r" ?\[[^\]]+\]", "", final.text)):
        assert sentence in corpus


async def test_an_off_topic_question_is_answered_plainly(demo_pack: DomainPack) -> None:
    graph = build_graph(pack=demo_pack, model=OfflineChatModel(token_delay=0))
    for question in ("is bitcoin a good investment", "give me a recipe for pancakes"):
        final = await ask(graph, question)
        assert (final.agent, final.text) == ("general", NOTHING_FOUND)
