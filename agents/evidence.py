"""Routing evidence: how strongly a question points to each agent, and whether it fits the pack.

The strongest evidence is the pack's own passages: retrieval over the whole knowledge base
(:meth:`graphwire.agents.retrieval.KnowledgeBase.scores`, lexical and semantic fused) gives each
agent the score of the best passage it owns, an agent owning the documents in its scope that no
narrower agent covers (the fallback owns what no specialist covers). The agents' profiles (label,
description, example questions) add a little, by meaning and by words, so that a pack whose
documents say little still routes.

*Fit* is the probability that the question belongs to the pack at all. With embeddings it comes
from how close the nearest passage is in meaning (an off-topic question's nearest passage is far
away, whatever words it shares); without, from the share of its words the pack knows and how
strong its best lexical match is.

Example:
    >>> evidence = RoutingEvidence(load_pack(), knowledge_base=kb)   # doctest: +SKIP
    >>> max(evidence.scores("how heavy is the battery").items(), key=lambda kv: kv[1])[0]
    'specs'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np

from graphwire.agents.lexical import LexicalIndex
from graphwire.agents.packs import DomainPack
from graphwire.agents.retrieval import KnowledgeBase
from graphwire.agents.text import tokenize

__all__ = ["DOCUMENT_WEIGHT", "PROFILE_WEIGHTS", "RoutingEvidence"]

DOCUMENT_WEIGHT = 1.0
PROFILE_WEIGHTS = (0.25, 0.1)  # by meaning, by words
# Fit by meaning: the nearest passage's cosine similarity, through a logistic curve. Questions
# about the demo pack have a nearest passage at 0.24 or more in 98 of 100 cases; questions about
# anything else (weather, recipes, football) below 0.21.
FIT_CENTRE, FIT_SCALE = 0.22, 0.03


class RoutingEvidence:
    """Per-agent evidence and fit for questions to one pack (see the module docstring)."""

    def __init__(self, pack: DomainPack, *, knowledge_base: KnowledgeBase | None = None) -> None:
        self.pack = pack
        self.kb = knowledge_base
        texts: list[str] = []
        self._profile_owners: list[str] = []
        for agent in pack.agents:
            for text in (f"{agent.label}. {agent.description}", *agent.examples):
                texts.append(text)
                self._profile_owners.append(agent.name)
        self._profiles = LexicalIndex(texts)
        self._profile_vectors = knowledge_base.embed(texts) if knowledge_base else None
        self._doc_owners = self._own_documents(knowledge_base) if knowledge_base else []
        self._vocabulary = self._profiles.vocabulary | (
            knowledge_base.vocabulary if knowledge_base else frozenset()
        )
        self._examples = [e for a in pack.agents for e in a.examples] or texts

    @cached_property
    def _reference(self) -> tuple[float, float]:
        """Typical best lexical matches of the pack's own examples, to the profiles and to the
        documents: what the lexical fit compares a question's against (only needed without
        embeddings, so worked out on first use rather than at start-up)."""
        return (
            _typical(lambda q: max(self._lexical_profile(q).values()), self._examples),
            _typical(lambda q: float(self._lexical_documents(q).max(initial=0.0)), self._examples),
        )

    def scores(self, question: str) -> dict[str, float]:
        """Each agent's evidence: its best passage (0 to 1) plus a little of its profile."""
        documents = self._documents(question)
        by_words = self._lexical_profile(question)
        best_words = max(by_words.values()) or 1.0
        by_meaning = self._semantic_profile(question)
        weight_meaning, weight_words = PROFILE_WEIGHTS
        return {
            name: DOCUMENT_WEIGHT * documents[name]
            + weight_meaning * by_meaning.get(name, 0.0)
            + weight_words * by_words[name] / best_words
            for name in self.pack.agent_names
        }

    def fit(self, question: str) -> float:
        """The probability that ``question`` is about the pack at all, 0 to 1."""
        if self.kb is not None and (cosines := self.kb.similarities(question)) is not None:
            nearest = float(cosines.max(initial=-1.0))
            return 1 / (1 + math.exp(-(nearest - FIT_CENTRE) / FIT_SCALE))
        reference_profile, reference_documents = self._reference
        best_profile = max(self._lexical_profile(question).values())
        best_documents = float(self._lexical_documents(question).max(initial=0.0))
        strength = max(
            1 - math.exp(-best_profile / reference_profile),
            1 - math.exp(-best_documents / reference_documents),
        )
        return self.knows(question) ** 2 * strength

    def knows(self, question: str) -> float:
        """Share of the question's terms (as written) that the pack knows at all."""
        terms = tokenize(question)
        return sum(t in self._vocabulary for t in terms) / len(terms) if terms else 0.0

    def _documents(self, question: str) -> dict[str, float]:
        """Per agent: the relevance of the best passage it owns."""
        out = dict.fromkeys(self.pack.agent_names, 0.0)
        if self.kb is None:
            return out
        for score, owners in zip(self.kb.scores(question), self._doc_owners, strict=True):
            for name in owners:
                out[name] = max(out[name], float(score))
        return out

    def _lexical_documents(self, question: str) -> np.ndarray:
        return self.kb.lexical_scores(question) if self.kb is not None else np.zeros(0)

    def _lexical_profile(self, question: str) -> dict[str, float]:
        """Per agent: best profile match by words plus half the second best."""
        raw = self._profiles.scores(question)
        out: dict[str, float] = {}
        for name in self.pack.agent_names:
            mine = np.sort(raw[[o == name for o in self._profile_owners]])[::-1]
            out[name] = float(mine[0] + 0.5 * mine[1]) if len(mine) > 1 else float(mine[0])
        return out

    def _semantic_profile(self, question: str) -> dict[str, float]:
        """Per agent: the cosine similarity of its closest profile text (0 without embeddings)."""
        if self.kb is None or self._profile_vectors is None:
            return {}
        vector = self.kb.embed_query(question)
        if vector is None:
            return {}
        cosines = self._profile_vectors @ vector
        out = dict.fromkeys(self.pack.agent_names, -1.0)
        for cosine, name in zip(cosines, self._profile_owners, strict=True):
            out[name] = max(out[name], float(cosine))
        return out

    def _own_documents(self, kb: KnowledgeBase) -> list[tuple[str, ...]]:
        """For each chunk, the agents that own it."""
        owned: list[tuple[str, ...]] = []
        fallback = self.pack.fallback_agent.name
        for chunk in kb.chunks:
            mine = tuple(a.name for a in self.pack.agents if not a.fallback and a.covers(chunk.doc))
            owned.append(mine or (fallback,))
        return owned


def _typical(best: Callable[[str], float], questions: Sequence[str]) -> float:
    scores = [s for s in (best(q) for q in questions) if s > 0]
    return float(np.median(scores)) if scores else 1.0
