"""Routing: which specialist answers a question, and how sure we are.

:class:`OfflineClassifier` routes by evidence (:mod:`graphwire.agents.evidence`): which agent owns
the passages that answer the question, and a little of its description and examples.
:class:`graphwire.agents.model_classifier.ModelClassifier` asks a chat model and falls back to the
offline one when the model's answer is unusable. Both return a :class:`Classification`.

Example:
    >>> classifier = OfflineClassifier(load_pack())                      # doctest: +SKIP
    >>> (await classifier.classify("What is the top speed?", [])).agent  # doctest: +SKIP
    'specs'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from langchain_core.messages import BaseMessage
from pydantic import BaseModel, Field

from graphwire.agents.evidence import RoutingEvidence
from graphwire.agents.packs import DomainPack
from graphwire.agents.retrieval import KnowledgeBase
from graphwire.agents.text import tokenize

__all__ = [
    "Classification",
    "Classifier",
    "OfflineClassifier",
    "previous_turn",
    "reads_as_follow_up",
]

SHARPNESS = 20.0
"""How sharply the confidence favours the agent with the most evidence (a softmax's inverse
temperature), set so that confidence matches accuracy on the demo pack's own questions."""
FOLLOW_UP_BELOW = 0.5  # a question leaning on "it" with less confidence of its own follows up
SHORT_QUESTION = 6  # words: "and what does it weigh?" needs the turn before it
_CONTINUES = re.compile(r"^(and|also|but|so|then|what about|how about|same for|or)\b")
_LEANS_BACK = re.compile(r"\b(it|its|it's|that|this|these|those|they|them|their|there|one)\b")

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
    """Routes by evidence, with a confidence that is a probability.

    :class:`graphwire.agents.evidence.RoutingEvidence` gives each agent a score (its best passage
    for the question, plus a little of its profile) and the question's *fit* (the probability that
    it is about the pack at all). Below ``threshold`` fit, the question goes to the fallback agent,
    with confidence ``1 - fit``. Otherwise the agent with the most evidence answers, and its
    confidence is the softmax of the scores (with ``sharpness``) times the fit.

    A question that reads as a follow-up (it starts with "and", "what about" …, or leans on "it",
    "that" … with little evidence of its own) is read together with the previous question; if
    that points to the previous turn's agent, it is a follow-up. Any other question is routed on
    its own words, however short the conversation's last turn was.
    """

    def __init__(
        self,
        pack: DomainPack,
        *,
        knowledge_base: KnowledgeBase | None = None,
        threshold: float = 0.5,
        sharpness: float = SHARPNESS,
    ) -> None:
        self.pack = pack
        self.threshold = threshold
        self.sharpness = sharpness
        self.evidence = RoutingEvidence(pack, knowledge_base=knowledge_base)

    def score(self, question: str) -> Classification:
        """Route one question on its own words; a question that fits no agent gets the fallback."""
        fallback = self.pack.fallback_agent.name
        if not tokenize(question):
            return Classification(agent=fallback, confidence=0.0, reason="no words to route on")
        fit = self.evidence.fit(question)
        scores = self.evidence.scores(question)
        top = max(scores, key=lambda name: scores[name])
        if fit < self.threshold:
            reason = f"fits no agent well (best: {top}); the {fallback} agent answers"
            return Classification(agent=fallback, confidence=round(1 - fit, 3), reason=reason)
        values = np.array(list(scores.values()))
        weights = np.exp(self.sharpness * (values - values.max()))
        share = float(weights[list(scores).index(top)] / weights.sum())
        reason = "the passages that answer it are this agent's"
        return Classification(agent=top, confidence=round(share * fit, 3), reason=reason)

    async def classify(self, question: str, history: Sequence[BaseMessage]) -> Classification:
        decision = self.score(question)
        previous, previous_agent = previous_turn(history)
        if not previous or previous_agent not in self.pack.agent_names:
            return decision
        if reads_as_follow_up(question, confidence=decision.confidence):
            joint = self.score(f"{previous} {question}")
            return joint.model_copy(
                update={"follow_up": True, "reason": "follow-up to the previous question"}
            )
        return decision


def reads_as_follow_up(question: str, *, confidence: float) -> bool:
    """Whether ``question`` leans on the turn before it rather than having a topic of its own.

    >>> reads_as_follow_up("And how long does that take?", confidence=0.9)
    True
    >>> reads_as_follow_up("How long does charging take?", confidence=0.7)
    False
    """
    text = question.strip().lower()
    if _CONTINUES.match(text):
        return True
    short, unsure = len(text.split()) <= SHORT_QUESTION, confidence < FOLLOW_UP_BELOW
    return (short and unsure) or (bool(_LEANS_BACK.search(text)) and (short or unsure))
