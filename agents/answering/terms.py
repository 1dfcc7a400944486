"""Question words matched to the passages' words, and weighed by how rare they are.

People write "prop" for "propeller", "max" for "maximum", "freshwater" for "fresh water" and
"torqe" for "torque". A question word the passages lack is looked up, in this order, as the
start of passage words (an abbreviation), as two passage words run together, then as a typo of
one; what is still missing weighs less than a word the passages use, so that casual words don't
sink a good match.

Example:
    >>> from graphwire.agents.answering.sentences import read_sentences
    >>> from graphwire.agents.prompts import Passage
    >>> passage = Passage("a#0", "Fitting", "Fit the propeller in fresh water.")
    >>> lexicon = Lexicon(read_sentences([passage]))
    >>> [sorted(t.stems) for t in lexicon.terms("max prop in freshwater")]
    [['max'], ['propeller'], ['fresh'], ['water']]
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from graphwire.agents.answering.sentences import Sentence
from graphwire.agents.text import Vocabulary, tokenize, words

__all__ = ["LIGHT_WORDS", "Lexicon", "Term", "corrected"]

MAX_EXPANSIONS = 3  # an abbreviation matching more words than this is too vague to expand
MIN_TYPO_CHARS = 5  # shorter words one letter from a passage word are other words ("fill")
SWAP_TYPO_CHARS = 8  # below this length, a typo adds or drops a letter, it does not change one
ABSENT_SHARE = 0.5  # a word no sentence holds weighs this share of the median weight
LIGHT_SHARE = 0.3  # a light word ("get", "done", "make") weighs this share of its rarity
# Verbs, prepositions and words that carry little of what a question is about, whatever the
# domain ("put antifouling on the lower leg" is about antifouling and the lower leg).
LIGHT_WORDS = frozenset(
    re.findall(
        r"\w+",
        "get gets got getting done do make makes made go goes going gone put take takes took "
        "need needs use using keep keeps one ones way kind sort really just still usually "
        "normally actually like stuff bit lot come comes happen work works fine good best better "
        "right sure guess think give gives show tell let help find see look try ask wondering "
        "nothing something anything everything away "
        "on off up down over under out after before again above below",
    )
)


@dataclass(frozen=True, slots=True)
class Term:
    """One question word as the passages know it: ``stems`` are its alternatives, any of which
    a sentence may hold; ``word`` is how the question wrote it."""

    word: str = field(compare=False)  # two spellings of one word are one term
    stems: frozenset[str] = frozenset()

    @property
    def light(self) -> bool:
        """Whether the word carries little of the question's topic ("get", "done")."""
        return self.word in LIGHT_WORDS


class Lexicon:
    """The words of a set of sentences: which question words they hold, and how rare each is."""

    def __init__(self, sentences: Sequence[Sentence]) -> None:
        self._sentences = sentences
        surface = {w for s in sentences for w in words(f"{s.heading}\n{s.text}")}
        self._surface = sorted(surface)
        self._vocabulary = Vocabulary(surface)
        self._stems = {t for s in sentences for t in s.terms}
        self._idf: dict[frozenset[str], float] = {}

    def terms(self, text: str) -> list[Term]:
        """The distinct terms of ``text``, in order."""
        found: list[Term] = []
        for word in words(text):
            for term in self._lookup(word):
                if term.stems and all(term.stems != t.stems for t in found):
                    found.append(term)
        return found

    def _lookup(self, word: str) -> list[Term]:
        stem = _stem(word)
        if stem in self._stems or not word.isalpha():
            return [Term(word, frozenset({stem}))]
        longer = {_stem(w) for w in self._surface if w.startswith(word) and len(w) > len(word)}
        if len(word) >= 3 and 0 < len(longer) <= MAX_EXPANSIONS:
            return [Term(word, frozenset(longer))]
        for cut in range(3, len(word) - 2):
            head, tail = word[:cut], word[cut:]
            if head in self._vocabulary and tail in self._vocabulary:
                return [Term(head, frozenset({_stem(head)})), Term(tail, frozenset({_stem(tail)}))]
        return [Term(word, frozenset({_stem(corrected(word, self._vocabulary))}))]

    def holds(self, sentence: Sentence, term: Term) -> bool:
        """Whether ``sentence`` (or its heading) holds ``term``."""
        return not term.stems.isdisjoint(sentence.terms)

    def rarity(self, term: Term) -> float:
        """Inverse document frequency of ``term`` over the sentences; 0 when none holds it."""
        if term.stems not in self._idf:
            df = sum(1 for s in self._sentences if self.holds(s, term))
            n = len(self._sentences)
            self._idf[term.stems] = math.log(1 + n / (1 + df)) if df else 0.0
        return self._idf[term.stems]

    def weights(self, terms: Sequence[Term]) -> dict[Term, float]:
        """Each term's weight: its rarity, or for a term no sentence holds, a share of the
        median rarity of the others (a casual word or a synonym, not the question's topic)."""
        present = [r for r in (self.rarity(t) for t in terms) if r > 0]
        median = statistics.median(present) if present else math.log(1 + len(self._sentences))
        return {
            t: (self.rarity(t) or ABSENT_SHARE * median) * (LIGHT_SHARE if t.light else 1.0)
            for t in terms
        }


def corrected(word: str, vocabulary: Vocabulary) -> str:
    """``word``, or the known word it is a typo of. A short word counts as a typo only of a word
    one letter longer or shorter ("batery", "torqe"): one letter changed makes another word
    ("taxes" is not "takes", "fill" not "fell").

    >>> corrected("batery", Vocabulary(["battery"])), corrected("taxes", Vocabulary(["takes"]))
    ('battery', 'taxes')
    """
    if len(word) < MIN_TYPO_CHARS:
        return word
    nearest = vocabulary.correct([word])[0]
    if len(word) < SWAP_TYPO_CHARS and len(nearest) == len(word):
        return word
    return nearest


def _stem(word: str) -> str:
    stems = tokenize(word)
    return stems[0] if stems else word
