"""Evaluating a pack as its users meet it: routes, retrieval, answers, and honest refusals.

The question file is JSON Lines, one :class:`EvalQuestion` a line::

    {"question": "how heavy is the batery", "agent": "specs", "source": "specs/battery-vb24.md",
     "category": "typo", "facts": [["16.8 kg"]], "history": [], "unanswerable": false}

Only ``question`` and ``agent`` are required. ``source`` is the answering document (relative to
the pack's ``docs/``); ``facts`` are what a right answer must state, each a list of accepted
spellings (case and spacing do not matter); ``history`` is the conversation's earlier questions,
asked first in the same thread; ``unanswerable`` marks a question the documents do not answer,
whose right answer says so.

Every question runs through the compiled graph, as the product runs it: its routing decision,
its ``sources`` and its final answer are scored. Figures are given overall, per agent and per
category.

Example:
    >>> graph = build_graph(pack=pack, model=OfflineChatModel(token_delay=0))  # doctest: +SKIP
    >>> report = await evaluate_pack(pack, load_questions(path), graph=graph)  # doctest: +SKIP
    >>> report.answer_accuracy                                                 # doctest: +SKIP
    0.81
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, Self

from langchain_core.messages import HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from graphwire.agents.packs import DomainPack
from graphwire.transport.protocol.errors import ConfigurationError

__all__ = [
    "NOT_IN_DOCS_MARKERS",
    "EvalMiss",
    "EvalQuestion",
    "EvalReport",
    "Score",
    "evaluate_pack",
    "load_questions",
    "says_not_in_docs",
]

NOT_IN_DOCS_MARKERS = (
    "could not find",
    "couldn't find",
    "can't answer",
    "cannot answer",
    "do not say",
    "don't say",
    "does not say",
    "doesn't say",
    "do not state",
    "does not state",
    "doesn't state",
    "don't state",
    "do not mention",
    "does not mention",
    "doesn't mention",
    "not in the documents",
    "not in the documentation",
    "no information",
)
"""Phrases by which an answer says the documents do not answer the question."""


class EvalQuestion(BaseModel):
    """One labelled question (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str = Field(min_length=1)
    agent: str
    source: str | None = None
    category: str = "uncategorised"
    facts: tuple[tuple[str, ...], ...] = ()
    history: tuple[str, ...] = ()
    unanswerable: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.unanswerable and (self.facts or self.source):
            raise ValueError("an unanswerable question has no facts and no source")
        if any(not spellings for spellings in self.facts):
            raise ValueError("each fact needs at least one spelling")
        return self


class EvalMiss(BaseModel):
    """One thing a question got wrong; ``kind`` says what."""

    kind: Literal["routing", "retrieval", "answer", "not_in_docs"]
    question: str
    category: str
    expected: str
    got: str


class Score(BaseModel):
    """The figures of a group of questions; a figure is None when no question measures it."""

    questions: int
    routing: float
    recall_at_3: float | None
    answers: float | None
    not_in_docs: float | None


class EvalReport(BaseModel):
    questions: int
    k: int
    routing_accuracy: float
    recall_at_3: float | None
    answer_accuracy: float | None
    not_in_docs_accuracy: float | None
    per_agent: dict[str, Score]
    per_category: dict[str, Score]
    misses: list[EvalMiss]


class _Outcome(BaseModel):
    question: EvalQuestion
    routed: bool
    found: bool | None  # None: no source to find
    answered: bool | None  # None: no facts to check
    honest: bool | None  # None: answerable


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


def says_not_in_docs(answer: str) -> bool:
    """Whether ``answer`` says the documents do not answer the question.

    >>> says_not_in_docs("The manual does not state a price for the cover.")
    True
    """
    text = _normal(answer)
    return any(marker in text for marker in NOT_IN_DOCS_MARKERS)


async def evaluate_pack(
    pack: DomainPack,
    questions: Sequence[EvalQuestion],
    *,
    graph: Runnable[Any, Any],
    k: int = 3,
) -> EvalReport:
    """Ask every question of ``graph`` (a graph built for ``pack``) and score what it does."""
    unknown = sorted({q.agent for q in questions} - set(pack.agent_names))
    if unknown:
        raise ConfigurationError(f"the question file names agents the pack lacks: {unknown}")
    outcomes: list[_Outcome] = []
    misses: list[EvalMiss] = []
    for number, q in enumerate(questions):
        config: RunnableConfig = {"configurable": {"thread_id": f"eval-{number}"}}
        for earlier in q.history:
            await graph.ainvoke({"messages": [HumanMessage(earlier)]}, config)
        state = await graph.ainvoke({"messages": [HumanMessage(q.question)]}, config)
        outcome, missed = _score(q, state, k)
        outcomes.append(outcome)
        misses += missed
    overall = _summary(outcomes)
    return EvalReport(
        questions=overall.questions,
        k=k,
        routing_accuracy=overall.routing,
        recall_at_3=overall.recall_at_3,
        answer_accuracy=overall.answers,
        not_in_docs_accuracy=overall.not_in_docs,
        per_agent=_grouped(outcomes, lambda o: o.question.agent),
        per_category=_grouped(outcomes, lambda o: o.question.category),
        misses=misses,
    )


def _score(q: EvalQuestion, state: dict[str, Any], k: int) -> tuple[_Outcome, list[EvalMiss]]:
    agent = str(state.get("agent", ""))
    docs = [str(source.get("doc", "")) for source in state.get("sources", [])][:k]
    answer = state["messages"][-1].text
    refused = says_not_in_docs(answer)
    found = q.source in docs if q.source else None
    answered = None
    if q.facts:
        answered = not refused and all(_states(answer, spellings) for spellings in q.facts)
    honest = refused if q.unanswerable else None
    outcome = _Outcome(
        question=q, routed=agent == q.agent, found=found, answered=answered, honest=honest
    )
    said = answer if len(answer) <= 300 else answer[:297] + "..."
    checks = (
        ("routing", outcome.routed, q.agent, agent),
        ("retrieval", found, q.source or "", ", ".join(docs) or "-"),
        ("answer", answered, " + ".join(" | ".join(f) for f in q.facts), said),
        ("not_in_docs", honest, "the documents don't say", said),
    )
    misses = [
        EvalMiss(kind=kind, question=q.question, category=q.category, expected=want, got=got)
        for kind, ok, want, got in checks
        if ok is False
    ]
    return outcome, misses


def _states(answer: str, spellings: Iterable[str]) -> bool:
    text = _normal(answer)
    return any(_normal(spelling) in text for spelling in spellings)


def _normal(text: str) -> str:
    """Case, spacing, dashes and apostrophes made uniform, for matching facts and phrases."""
    text = text.casefold().replace("\u2019", "'")
    text = re.sub(r"[\u2010-\u2015\u2212]", "-", text)
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ").replace("\u202f", " "))


def _rate(values: Iterable[bool | None]) -> float | None:
    measured = [v for v in values if v is not None]
    return round(sum(measured) / len(measured), 4) if measured else None


def _summary(outcomes: Sequence[_Outcome]) -> Score:
    return Score(
        questions=len(outcomes),
        routing=_rate(o.routed for o in outcomes) or 0.0,
        recall_at_3=_rate(o.found for o in outcomes),
        answers=_rate(o.answered for o in outcomes),
        not_in_docs=_rate(o.honest for o in outcomes),
    )


def _grouped(outcomes: Sequence[_Outcome], key: Any) -> dict[str, Score]:
    groups: dict[str, list[_Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(key(outcome), []).append(outcome)
    return {name: _summary(group) for name, group in sorted(groups.items())}
