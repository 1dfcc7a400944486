"""Routing: which specialist answers a question, and how sure we are.

:class:`OfflineClassifier` scores the question against each agent's description and example
questions with BM25; :class:`agents.model_classifier.ModelClassifier` asks a chat model and falls
back to the offline one when the model's answer is unusable. Both return a :class:`Classification`.

Example:
    >>> classifier = OfflineClassifier(load_pack())                      # doctest: +SKIP
    >>> (await classifier.classify("What is the top speed?", [])).agent  # doctest: +SKIP
    'specs'
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Protocol

import bm25s
import numpy as np
from langchain_core.messages import BaseMessage
from pydantic import BaseModel, Field

from agents.packs import DomainPack
from agents.retrieval import KnowledgeBase
from agents.text import tokenize, tokenize_many

__all__ = ["Classification", "Classifier", "OfflineClassifier", "previous_turn"]

log = logging.getLogger("graphwire.classifier")


class Classification(BaseModel):
    """A routing decision. ``confidence`` is 0..1; ``follow_up`` when earlier turns decided it."""

    agent: str
    confidence: float = Field(ge=0.0, le=1.0)
    reason: str = ""
    follow_up: bool = False


class Classifier(Protocol):
    async def classify(self, question: str, history: Sequence[BaseMessage]) -> Classification:
        """Route ``question``; ``history`` is the conversation before it."""
        ...


def previous_turn(history: Sequence[BaseMessage]) -> tuple[str, str | None]:
    """The last earlier question and the agent that answered it (``name`` of its AI message).

    >>> previous_turn([HumanMessage("Top speed?"), AIMessage("9 knots.", name="specs")])
    ('Top speed?', 'specs')
    """
    question, agent = "", None
    for message in reversed(history):
        if message.type == "ai" and agent is None and question == "":
            agent = message.name
        if message.type == "human":
            question = message.text if isinstance(message.text, str) else str(message.text)
            break
    return question, agent


class OfflineClassifier:
    """Routes by BM25 evidence from two places, with a confidence that means something.

    Evidence for an agent comes from its profile (label, description and example questions) and,
    when a knowledge base is given, from the documents it owns (those in its scope and in no
    narrower agent's; the fallback agent owns what no specialist covers). Each source is scaled
    to the best agent's score, then they are summed with ``profile_weight`` and
    ``document_weight``.

    *Fit* says whether the question belongs to the pack at all: the squared share of its terms
    the pack knows (an off-topic question scores near 0) times how strong the best match is
    against a typical match of the pack's own example questions. Below ``threshold`` the question
    goes to the fallback agent with ``confidence = fit``. Otherwise ``confidence`` is fit times
    the square root of the best agent's relative lead over the runner-up. A question routed with
    confidence below ``follow_up_below`` is re-read together with the previous question; if that
    points to the previous turn's agent, it is a follow-up.
    """

    def __init__(
        self,
        pack: DomainPack,
        *,
        knowledge_base: KnowledgeBase | None = None,
        threshold: float = 0.2,
        follow_up_below: float = 0.25,
        profile_weight: float = 0.5,
        document_weight: float = 1.0,
    ) -> None:
        self.pack = pack
        self.kb = knowledge_base
        self.threshold = threshold
        self.follow_up_below = follow_up_below
        self.weights = (profile_weight, document_weight if knowledge_base else 0.0)
        self._owners: list[str] = []
        profiles: list[str] = []
        for agent in pack.agents:
            for text in (f"{agent.label}. {agent.description}", *agent.examples):
                profiles.append(text)
                self._owners.append(agent.name)
        self._index = bm25s.BM25()
        self._index.index(tokenize_many(profiles), show_progress=False)
        self._known = set(self._index.vocab_dict)
        self._vocab = self._known | (knowledge_base.vocabulary if knowledge_base else set())
        self._doc_owners = self._own_documents(knowledge_base) if knowledge_base else []
        examples = [e for a in pack.agents for e in a.examples] or profiles
        self._reference = (
            self._typical(lambda q: max(self._profile(q).values()), examples),
            self._typical(lambda q: max(self._documents(q).values()), examples),
        )

    def _own_documents(self, kb: KnowledgeBase) -> list[tuple[str, ...]]:
        """For each chunk, the agents that own it."""
        owned: list[tuple[str, ...]] = []
        for chunk in kb.chunks:
            mine = tuple(a.name for a in self.pack.agents if not a.fallback and a.covers(chunk.doc))
            owned.append(mine or (self.pack.fallback_agent.name,))
        return owned

    @staticmethod
    def _typical(best: Callable[[str], float], questions: Sequence[str]) -> float:
        scores = [s for s in (best(q) for q in questions) if s > 0]
        return float(np.median(scores)) if scores else 1.0

    def _profile(self, question: str) -> dict[str, float]:
        """Per agent: best example match plus half the second best."""
        known = [t for t in tokenize(question) if t in self._known]
        raw = np.zeros(len(self._owners))
        if known:
            raw = np.asarray(self._index.get_scores(known), dtype=float)
        out: dict[str, float] = {}
        for name in self.pack.agent_names:
            mine = np.sort(raw[[o == name for o in self._owners]])[::-1]
            out[name] = float(mine[0] + 0.5 * mine[1]) if len(mine) > 1 else float(mine[0])
        return out

    def _documents(self, question: str) -> dict[str, float]:
        """Per agent: the best score of a chunk it owns."""
        out = dict.fromkeys(self.pack.agent_names, 0.0)
        if self.kb is None:
            return out
        for score, owners in zip(self.kb.scores(question), self._doc_owners, strict=True):
            for name in owners:
                out[name] = max(out[name], float(score))
        return out

    def score(self, question: str) -> Classification:
        """Route one question on its own words; a question that fits no agent gets the fallback."""
        terms = tokenize(question)
        profile, documents = self._profile(question), self._documents(question)
        best_p, best_d = max(profile.values()), max(documents.values())
        fallback = self.pack.fallback_agent.name
        if not terms or best_p + best_d <= 0:
            return Classification(agent=fallback, confidence=0.0, reason="no agent matches")
        wp, wd = self.weights
        combined = {
            n: wp * profile[n] / (best_p or 1.0) + wd * documents[n] / (best_d or 1.0)
            for n in self.pack.agent_names
        }
        ranked = sorted(combined.values(), reverse=True)
        top = max(combined, key=lambda name: combined[name])
        c1, c2 = ranked[0], ranked[1] if len(ranked) > 1 else 0.0  # a pack may have one agent
        ref_p, ref_d = self._reference
        strength = max(1 - math.exp(-best_p / ref_p), 1 - math.exp(-best_d / ref_d))
        fit = self.knows(question) ** 2 * strength  # does the question belong here at all?
        if fit < self.threshold:
            reason = f"fits no agent well (best: {top}); the {fallback} agent answers"
            return Classification(agent=fallback, confidence=round(fit, 3), reason=reason)
        confidence = fit * math.sqrt((c1 - c2) / c1)  # ...and how clearly to this agent?
        return Classification(agent=top, confidence=round(confidence, 3), reason="lexical match")

    def knows(self, question: str) -> float:
        """Share of the question's terms that the pack (agents and documents) knows at all."""
        terms = tokenize(question)
        return sum(t in self._vocab for t in terms) / len(terms) if terms else 0.0

    async def classify(self, question: str, history: Sequence[BaseMessage]) -> Classification:
        decision = self.score(question)
        if decision.confidence >= self.follow_up_below:
            return decision
        previous, previous_agent = previous_turn(history)
        # A follow-up ("and the base?") speaks the pack's language but too briefly to route;
        # a question the pack knows nothing about is off-topic, not a follow-up.
        if previous and previous_agent in self.pack.agent_names and self.knows(question) >= 0.5:
            joint = self.score(f"{previous} {question}")
            if joint.agent == previous_agent:
                return joint.model_copy(
                    update={"follow_up": True, "reason": "follow-up to the previous question"}
                )
        return decision
