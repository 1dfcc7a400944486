"""How well a sentence answers one part of a question, read by
:mod:`graphwire.agents.answering.reading`.

A sentence scores by the part's weighed words it holds. On top comes what makes a sentence an
answer rather than a neighbour: the kind of figure asked for ("how heavy" → a weight), a name
the question uses ("E03"), two question words written together ("first service"), a number the
question states ("at 5 knots") and, for a table row, its first cell named in the question. Its
coverage (the share of what the part asks that it holds) says whether it answers at all; its
closeness and lead say whether its figure is of the thing asked about.

Example:
    >>> from graphwire.agents.answering.sentences import read_sentences
    >>> from graphwire.agents.answering.terms import Lexicon
    >>> from graphwire.agents.prompts import Passage
    >>> sentences = read_sentences([Passage("a#0", "Charger", "The charger weighs 2.1 kg.")])
    >>> scorer = Scorer(Frame("How heavy is the charger?"), Lexicon(sentences), sentences)
    >>> scorer.answers(sentences[0]), scorer.coverage(sentences[0])
    (True, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence

from graphwire.agents.answering.figures import figure_at, holds, leans, numbers
from graphwire.agents.answering.questions import identifiers, mentions
from graphwire.agents.answering.reading import Frame, Reading, without_names
from graphwire.agents.answering.sentences import Sentence
from graphwire.agents.answering.terms import Lexicon, Term
from graphwire.agents.text import tokenize

__all__ = ["Frame", "Scorer"]

REFERENT_SHARE = 0.5  # a sentence about what "it" stands for holds this share of its words


class Scorer:
    """How the sentences meet one frame: score, coverage, and whether a figure is the one asked."""

    def __init__(self, frame: Frame, lexicon: Lexicon, sentences: Sequence[Sentence]) -> None:
        self.lexicon = lexicon
        self.reading = Reading(frame, lexicon, sentences)
        self.ask = self.reading.ask

    @property
    def self_contained(self) -> bool:
        """Whether the part says itself what it asks about."""
        return self.reading.self_contained

    def answers(self, s: Sentence) -> bool:
        """Whether ``s`` holds the figure asked for."""
        return self.ask is not None and holds(self.ask, s.text)

    def about_referent(self, s: Sentence) -> bool:
        """Whether ``s`` is about what the part's "it" stands for (always, when the part says
        enough itself): it names it, or holds half the weight of its words, its document's
        title included."""
        referent, names = self.reading.referent, self.reading.referent_names
        if not referent and not names:
            return True
        if any(mentions(n, s.scope) for n in names):
            return True
        terms = s.terms | s.title_terms
        held = sum(w for t, w in referent.items() if not t.stems.isdisjoint(terms))
        return bool(referent) and held >= REFERENT_SHARE * sum(referent.values())

    def names_all(self, s: Sentence) -> bool:
        """Whether ``s`` names every name of the part (a figure of the VC-600 is not one of the
        VC-1200)."""
        return all(mentions(n, s.scope) for n in self.reading.own_names)

    def coverage(self, s: Sentence) -> float:
        """The share of the part's topic (words and names) and of the figure asked that ``s``
        holds."""
        held = self._held(s) + (self.reading.figure if self.answers(s) else 0.0)
        return held / self.reading.total if self.reading.total else 0.0

    def mention(self, s: Sentence) -> float:
        """The share of the part's topic, leaving the figure aside, that ``s`` holds."""
        rest = self.reading.total - self.reading.figure
        return self._held(s) / rest if rest else 0.0

    def own_coverage(self, s: Sentence) -> float:
        """The share of the part's own words (not its context) that ``s`` holds."""
        own = self.reading.own
        whole = sum(self.reading.topic[t] for t in own)
        held = sum(self.reading.topic[t] for t in own if self.lexicon.holds(s, t))
        return held / whole if whole else 0.0

    def closeness(self, s: Sentence) -> float:
        """The share of what the part and its statements say themselves (its words, not light
        ones, and its names) that ``s`` holds: whether a figure is of the thing asked about."""
        near, names = self.reading.near, self.reading.own_names
        whole = sum(near.values()) + len(names)
        held = sum(w for t, w in near.items() if self.lexicon.holds(s, t))
        held += sum(1 for n in names if mentions(n, s.scope))
        return held / whole if whole else 0.0

    def leads(self, s: Sentence, closest: Sentence) -> bool:
        """Whether what ``s`` says before its figure (its subject, mostly) is the thing the part
        asks about: it holds one of the part's names, or the thing's last word ("the charger
        cover" is a cover, not a charger), or another of its words while naming what
        ``closest``, the sentence most about the thing, names ("The VB-24 battery weighs
        16.8 kg" and "The VB-24 is the battery pack")."""
        at = figure_at(self.ask, s.text) if self.ask is not None else None
        if at is None:
            return False
        before = s.text[:at]
        if any(mentions(n, before) for n in self.reading.own_names):
            return True
        stems = set(tokenize(f"{s.lead_in} {before}"))
        thing = self.reading.thing
        held = [t for t in thing if not t.stems.isdisjoint(stems)]
        if not held:
            return False
        if held[-1] is thing[-1]:
            return True
        named = {n.lower() for n in identifiers(s.scope)}
        return not named.isdisjoint(n.lower() for n in identifiers(closest.scope))

    def _names_row(self, key: str) -> bool:
        """Whether the part names the value of a table row's first cell ("at 5 knots")."""
        if any(mentions(n, key) for n in self.reading.names):
            return True
        stems = set(tokenize(key))
        return bool(stems) and stems <= self.reading.stated

    def _held(self, s: Sentence) -> float:
        held = sum(w for t, w in self.reading.topic.items() if self.lexicon.holds(s, t))
        return held + sum(w for n, w in self.reading.names.items() if mentions(n, s.scope))

    def score(self, s: Sentence) -> float:
        """How well ``s`` answers the part, to rank sentences (not a share)."""
        reading, unit = self.reading, self.reading.unit
        value = sum(w for t, w in reading.weights.items() if self.lexicon.holds(s, t))
        value += sum(w for a, b, w in reading.pairs if _together(a, b, s))
        value += sum(w for n, w in reading.names.items() if mentions(n, s.scope))
        if self.ask is not None:
            if self.answers(s):
                value += unit
            elif leans(self.ask, s.text):
                value += 0.3 * unit
            else:
                value *= 0.5
        value += unit * len(reading.numbers & numbers(without_names(s.text)))
        if s.key and self._names_row(s.key):
            value += unit
        return value * (1 - 0.04 * s.passage) / (1 + 0.01 * len(s.terms))


def _together(a: Term, b: Term, s: Sentence) -> bool:
    return any((x, y) in s.pairs for x in a.stems for y in b.stems)
