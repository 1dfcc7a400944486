"""Evaluating a pack: routing accuracy and retrieval recall@k on a labelled question file.

The question file is JSON Lines, one ``{"question", "agent", "source"}`` object a line, where
``source`` is the answering document's path relative to the pack's ``docs/``. Retrieval is
measured as the product runs it: within the scope of the agent the question was routed to.

Example:
    >>> report = await evaluate_pack(load_pack(), load_questions(path))  # doctest: +SKIP
    >>> report.routing_accuracy                                            # doctest: +SKIP
    0.95
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.classifier import Classifier, OfflineClassifier
from agents.packs import DomainPack
from agents.retrieval import KnowledgeBase
from transport.errors import ConfigurationError

__all__ = ["EvalMiss", "EvalQuestion", "EvalReport", "evaluate_pack", "load_questions"]


class EvalQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str = Field(min_length=1)
    agent: str
    source: str


class EvalMiss(BaseModel):
    kind: Literal["routing", "retrieval"]
    question: str
    expected_agent: str
    routed_agent: str
    confidence: float
    expected_source: str
    retrieved: list[str]


class EvalReport(BaseModel):
    questions: int
    k: int
    routing_accuracy: float
    recall_at_3: float
    per_agent_routing: dict[str, float]
    misses: list[EvalMiss]


def load_questions(path: str | Path) -> list[EvalQuestion]:
    """Read a JSON Lines question file; :class:`ConfigurationError` names the bad line."""
    questions: list[EvalQuestion] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the question file {path}: {exc.strerror}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            questions.append(EvalQuestion.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise ConfigurationError(f"{path}:{number}: not a valid question: {exc}") from exc
    if not questions:
        raise ConfigurationError(f"{path} holds no questions")
    return questions


async def evaluate_pack(
    pack: DomainPack,
    questions: Sequence[EvalQuestion],
    *,
    knowledge_base: KnowledgeBase | None = None,
    classifier: Classifier | None = None,
    k: int = 3,
) -> EvalReport:
    """Route and retrieve every question as the graph would, and score both."""
    unknown = sorted({q.agent for q in questions} - set(pack.agent_names))
    if unknown:
        raise ConfigurationError(f"the question file names agents the pack lacks: {unknown}")
    kb = knowledge_base or KnowledgeBase.from_pack(pack)
    classifier = classifier or OfflineClassifier(pack, knowledge_base=kb)
    routed_ok = retrieved_ok = 0
    per_agent: dict[str, list[bool]] = {name: [] for name in pack.agent_names}
    misses: list[EvalMiss] = []
    for q in questions:
        decision = await classifier.classify(q.question, [])
        hits = kb.search(q.question, agent=pack.agent(decision.agent), k=k)
        docs = [str(d.metadata["doc"]) for d in hits]
        routed, found = decision.agent == q.agent, q.source in docs
        routed_ok += routed
        retrieved_ok += found
        per_agent[q.agent].append(routed)
        checks: tuple[tuple[Literal["routing", "retrieval"], bool], ...] = (
            ("routing", routed),
            ("retrieval", found),
        )
        for kind, ok in checks:
            if not ok:
                misses.append(
                    EvalMiss(
                        kind=kind,
                        question=q.question,
                        expected_agent=q.agent,
                        routed_agent=decision.agent,
                        confidence=decision.confidence,
                        expected_source=q.source,
                        retrieved=docs,
                    )
                )
    n = len(questions)
    return EvalReport(
        questions=n,
        k=k,
        routing_accuracy=round(routed_ok / n, 4),
        recall_at_3=round(retrieved_ok / n, 4),
        per_agent_routing={a: round(sum(v) / len(v), 4) for a, v in per_agent.items() if v},
        misses=misses,
    )
