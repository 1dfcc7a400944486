"""Routing: which specialist answers a question, and how sure we are.

:class:`OfflineClassifier` scores the question against each agent's description and example
questions with BM25; :class:`ModelClassifier` asks a chat model and falls back to the offline one
when the model's answer is unusable. Both return a :class:`Classification`.

Example:
    >>> classifier = OfflineClassifier(load_pack())                      # doctest: +SKIP
    >>> (await classifier.classify("What is the top speed?", [])).agent  # doctest: +SKIP
    'specs'
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Sequence
from typing import Protocol

import bm25s
import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field, ValidationError

from agents.packs import DomainPack
from agents.text import tokenize, tokenize_many
from transport.markers import INTERNAL_TAG

__all__ = ["Classification", "Classifier", "ModelClassifier", "OfflineClassifier"]

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


def _previous_turn(history: Sequence[BaseMessage]) -> tuple[str, str | None]:
    """The last earlier question and the agent that answered it (``name`` of its AI message)."""
    question, agent = "", None
    for message in reversed(history):
        if message.type == "ai" and agent is None and question == "":
            agent = message.name
        if message.type == "human":
            question = message.text if isinstance(message.text, str) else str(message.text)
            break
    return question, agent


class OfflineClassifier:
    """BM25 similarity to each agent's description and examples, with a calibrated confidence.

    Confidence multiplies three shares, each 0..1: how much of the question the pack's vocabulary
    knows at all, how far the best agent leads the runner-up, and how strong the best match is
    compared with a typical example-to-example match in this pack. Below ``threshold`` the
    question goes to the pack's fallback agent, unless it reads as a follow-up of the previous
    turn.
    """

    def __init__(
        self,
        pack: DomainPack,
        *,
        threshold: float = 0.25,
        extra_vocabulary: frozenset[str] = frozenset(),
    ) -> None:
        self.pack = pack
        self.threshold = threshold
        self._owners: list[str] = []
        profiles: list[str] = []
        for agent in pack.agents:
            for text in (f"{agent.label}. {agent.description}", *agent.examples):
                profiles.append(text)
                self._owners.append(agent.name)
        self._index = bm25s.BM25()
        tokens = tokenize_many(profiles)
        self._index.index(tokens, show_progress=False)
        self._vocab = set(self._index.vocab_dict) | set(extra_vocabulary)
        self._known = set(self._index.vocab_dict)
        self._reference = self._typical_match(tokens)

    def _typical_match(self, tokens: list[list[str]]) -> float:
        """Median best score of an example against the other agents' and its own other examples."""
        best: list[float] = []
        for i, terms in enumerate(tokens):
            scores = self._raw_scores(terms)
            scores[i] = 0.0
            if scores.max() > 0:
                best.append(float(scores.max()))
        return float(np.median(best)) if best else 1.0

    def _raw_scores(self, terms: list[str]) -> np.ndarray:
        known = [t for t in terms if t in self._known]
        if not known:
            return np.zeros(len(self._owners))
        return np.asarray(self._index.get_scores(known), dtype=float)

    def score(self, question: str) -> Classification:
        """Route one question on its own words."""
        terms = tokenize(question)
        raw = self._raw_scores(terms)
        per_agent: dict[str, float] = {}
        for name in self.pack.agent_names:
            mine = np.sort(raw[[o == name for o in self._owners]])[::-1]
            per_agent[name] = float(mine[0] + 0.5 * mine[1]) if len(mine) > 1 else float(mine[0])
        ranked = sorted(per_agent.items(), key=lambda kv: -kv[1])
        (top, s1), (_, s2) = ranked[0], ranked[1]
        if s1 <= 0 or not terms:
            return Classification(
                agent=self.pack.fallback_agent.name,
                confidence=0.0,
                reason="no agent matches the question",
            )
        coverage = sum(t in self._vocab for t in terms) / len(terms)
        margin = (s1 - s2) / (s1 + s2)
        strength = 1 - math.exp(-s1 / self._reference)
        confidence = round(min(1.0, coverage * math.sqrt(margin) * strength), 3)
        return Classification(agent=top, confidence=confidence, reason="lexical match")

    def knows(self, question: str) -> float:
        """Share of the question's terms that the pack (agents and documents) knows at all."""
        terms = tokenize(question)
        return sum(t in self._vocab for t in terms) / len(terms) if terms else 0.0

    async def classify(self, question: str, history: Sequence[BaseMessage]) -> Classification:
        decision = self.score(question)
        if decision.confidence >= self.threshold:
            return decision
        previous, previous_agent = _previous_turn(history)
        # A follow-up ("and the base?") speaks the pack's language but too briefly to route;
        # a question the pack knows nothing about is off-topic, not a follow-up.
        if previous and previous_agent in self.pack.agent_names and self.knows(question) >= 0.5:
            joint = self.score(f"{previous} {question}")
            if joint.agent == previous_agent:
                return joint.model_copy(
                    update={"follow_up": True, "reason": "follow-up to the previous question"}
                )
        fallback = self.pack.fallback_agent.name
        if decision.agent == fallback:
            return decision
        return Classification(
            agent=fallback,
            confidence=decision.confidence,
            reason=f"low confidence for {decision.agent}; the {fallback} agent answers",
        )


_JSON_OBJECT = re.compile(r"\{.*\}", re.S)


class ModelClassifier:
    """Asks a chat model for ``{"agent", "confidence"}``; falls back when the answer is unusable.

    The model call is tagged internal, so its tokens never reach a client.
    """

    def __init__(self, pack: DomainPack, model: BaseChatModel, *, fallback: Classifier) -> None:
        self.pack = pack
        self.model = model.with_config(tags=[INTERNAL_TAG], run_name="classifier")
        self.fallback = fallback

    def _prompt(self, question: str, history: Sequence[BaseMessage]) -> list[BaseMessage]:
        agents = "\n".join(f"- {a.name}: {a.description}" for a in self.pack.agents)
        previous, _ = _previous_turn(history)
        system = (
            "Route the user's question to exactly one agent. Agents:\n"
            f"{agents}\n"
            'Reply with JSON only: {"agent": "<name>", "confidence": <0..1>, "reason": "<short>"}.'
        )
        context = f"Previous question: {previous}\n" if previous else ""
        return [SystemMessage(system), HumanMessage(f"{context}Question: {question}")]

    async def classify(self, question: str, history: Sequence[BaseMessage]) -> Classification:
        try:
            reply = await self.model.ainvoke(self._prompt(question, history))
            match = _JSON_OBJECT.search(str(reply.text))
            decision = Classification.model_validate(json.loads(match.group(0) if match else ""))
            if decision.agent not in self.pack.agent_names:
                raise ValueError(f"unknown agent {decision.agent!r}")
            return decision
        except (ValueError, ValidationError) as exc:
            log.warning("model classifier gave an unusable answer (%s); using offline routing", exc)
        fallback = await self.fallback.classify(question, history)
        reason = f"model routing unusable, offline routing used ({fallback.reason})"
        return fallback.model_copy(update={"reason": reason})
