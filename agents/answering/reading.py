"""What one part of a question asks, read against the passages' words.

A part's own words weigh their rarity; the words of the statements around it weigh as much when
the part says little itself ("Is there something better?"), half otherwise; the words of earlier
parts and of the previous turn weigh a little, and much more when the part leans back ("how much
is it?" is "how much is the VB-24?"). Names ("E03", "Voltra 6") are weighed as wholes, by how
rare they are. A part with a pronoun and little of its own has a ``referent``: what "it" stands
for, the words before it less what they asked ("the capacity of the battery" → the battery).

Example:
    >>> from graphwire.agents.answering.sentences import read_sentences
    >>> from graphwire.agents.answering.terms import Lexicon
    >>> from graphwire.agents.prompts import Passage
    >>> sentences = read_sentences([Passage("a#0", "Charger", "The charger weighs 2.1 kg.")])
    >>> reading = Reading(Frame("How heavy is the charger?"), Lexicon(sentences), sentences)
    >>> sorted(reading.ask.kinds), [t.word for t in reading.topic], reading.self_contained
    (['weight'], ['charger'], True)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from graphwire.agents.answering.figures import Ask, asked_figure, numbers
from graphwire.agents.answering.questions import identifiers, mentions, phrase_about
from graphwire.agents.answering.sentences import Sentence
from graphwire.agents.answering.terms import Lexicon, Term
from graphwire.agents.text import tokenize

__all__ = ["Frame", "Reading", "without_names"]

CUE_SHARE = 0.5  # "heavy", "cost": the figure answers them, the word itself matters less
BACKGROUND_SHARE = (0.5, 1.0)  # statements around the question: (a part of its own, leaning)
EARLIER_SHARE = (0.25, 0.75)  # earlier parts of the question: (a new topic, a part leaning back)
CONTEXT_SHARE = (0.1, 0.75)  # the previous turn's question: (a new topic, a part leaning back)
NAME_BOOST = 1.5  # a name weighs this many times its rarity: names say what a question is about
PAIR_SHARE = 0.5  # two question words written together add this share of the lighter one
FEW_WORDS = 2  # a part saying at most this many words of its own says little itself


@dataclass(frozen=True, slots=True)
class Frame:
    """One part of a question with what it is read with: the ``background`` statements, the
    ``earlier`` parts of the same question, the previous turn's question (``context``) and the
    figure an ``elliptical`` part inherits ("and the charger?" after "how heavy is the
    battery?"); ``refers`` when a pronoun in it stands for what it is about."""

    text: str
    leans_back: bool = False
    elliptical: bool = False
    refers: bool = False
    background: str = ""
    earlier: str = ""
    context: str = ""
    inherited: Ask | None = None


class Reading:
    """A frame's weighed terms (``weights``; ``topic`` leaves out the words that ask for the
    figure), its ``ask``, names, numbers, the ``thing`` it asks about and its ``referent``."""

    def __init__(self, frame: Frame, lexicon: Lexicon, sentences: Sequence[Sentence]) -> None:
        self.ask = asked_figure(frame.text) or frame.inherited
        self._cues = cue_stems(self.ask)
        self.weights: dict[Term, float] = {}
        self.topic: dict[Term, float] = {}
        leaning = 1 if frame.leans_back else 0
        own = lexicon.terms(without_names(frame.text))
        base = lexicon.weights(own)
        self.unit = max(base.values(), default=1.0)  # the weight of the part's heaviest word
        self._add(base, 1.0)
        self.own = [t for t in own if t in self.topic]
        background = lexicon.terms(without_names(frame.background))
        says_little = sum(1 for t in self.own if not t.light) <= FEW_WORDS
        self._add(lexicon.weights(background), BACKGROUND_SHARE[leaning or says_little])
        self.near = {t: w for t, w in self.topic.items() if not t.light}
        before: set[Term] = set()
        for text, share in ((frame.earlier, EARLIER_SHARE), (frame.context, CONTEXT_SHARE)):
            before |= self._add(lexicon.weights(lexicon.terms(without_names(text))), share[leaning])
        self.pairs = [
            (a, b, PAIR_SHARE * min(self.weights[a], self.weights[b]))
            for a, b in [*itertools.pairwise(own), *itertools.pairwise(background)]
            if a in self.weights and b in self.weights
        ]
        self.own_names = identifiers(frame.text)
        self.names = _weigh_names(frame, leaning, sentences)
        self.numbers = numbers(without_names(f"{frame.background} {frame.text}"))
        self.stated = set(tokenize(f"{frame.background} {frame.text}"))  # every word, as written
        self.figure = self.unit if self.ask is not None else 0.0
        self.total = sum(self.topic.values()) + sum(self.names.values()) + self.figure
        self.thing = self._thing(frame.text, lexicon)
        self._read_referent(frame, before)

    def _add(self, weights: dict[Term, float], share: float) -> set[Term]:
        """Add the terms not yet weighed, at ``share`` of their weight; the ones added."""
        added: set[Term] = set()
        for term, weight in weights.items():
            if term in self.weights:
                continue
            added.add(term)
            is_cue = not term.stems.isdisjoint(self._cues)
            self.weights[term] = share * weight * (CUE_SHARE if is_cue else 1.0)
            if not is_cue:
                self.topic[term] = share * weight
        return added

    def _thing(self, text: str, lexicon: Lexicon) -> list[Term]:
        """The terms of the longest run of the part's own topic words: the thing it asks about
        ("zinc anodes" in "How many months do zinc anodes usually last in salt water?")."""
        near = {stem for t in self.near for stem in t.stems}

        def known(word: str) -> bool:
            return not near.isdisjoint(stem for t in lexicon.terms(word) for stem in t.stems)

        phrase = phrase_about(text, known) or ""
        return [t for t in lexicon.terms(phrase) if t in self.near]

    def _read_referent(self, frame: Frame, before: set[Term]) -> None:
        """What "it" stands for, when the part says little itself: "how do I turn it on?"."""
        says = len(self.near) + len(self.own_names)
        refers = frame.refers and says <= FEW_WORDS
        # Whether the part says what it asks about itself: not "how long will they keep it?".
        self.self_contained = says > 0 and not refers
        asked = cue_stems(asked_figure(frame.earlier)) | cue_stems(asked_figure(frame.context))
        needed = refers and not frame.elliptical  # "and at 2 knots?" replaces what it names
        self.referent = {
            t: self.topic[t]
            for t in before
            if needed and t in self.topic and not t.light and t.stems.isdisjoint(asked)
        }
        self.referent_names = identifiers(f"{frame.earlier} {frame.context}") if needed else []


def _weigh_names(frame: Frame, leaning: int, sentences: Sequence[Sentence]) -> dict[str, float]:
    names: dict[str, float] = {}
    named = (
        (frame.text, 1.0),
        (frame.background, BACKGROUND_SHARE[leaning]),
        (frame.earlier, EARLIER_SHARE[leaning]),
        (frame.context, CONTEXT_SHARE[leaning]),
    )
    for text, share in named:
        for name in identifiers(text):
            names.setdefault(name, share * NAME_BOOST * _rarity(name, sentences))
    return names


def _rarity(name: str, sentences: Sequence[Sentence]) -> float:
    """Inverse document frequency of a name over the sentences; 0 when none names it."""
    df = sum(1 for s in sentences if mentions(name, s.scope))
    return math.log(1 + len(sentences) / (1 + df)) if df else 0.0


def without_names(text: str) -> str:
    """``text`` without its names: a name is weighed as a whole, not as its words and digits.

    >>> without_names("Does the VB-24 fit?")
    'Does the   fit?'
    """
    for name in identifiers(text):
        text = text.replace(name, " ")
    return text


def cue_stems(ask: Ask | None) -> set[str]:
    """The stems of the words by which a question asks for its figure ("heavy" → "heavi")."""
    return {t for w in (ask.cues if ask else ()) for t in tokenize(w)}
