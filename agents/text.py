"""Lexical analysis shared by retrieval, routing and the offline model: one tokenizer for all.

Tokens are lower-cased words and numbers, one character included (the "5" of "at 5 knots", the
"6" of "Voltra 6"), without stop words, stemmed by :class:`LightStemmer` (Snowball's English
stemmer, except that plural "-ings" and "-er(s)" nouns keep their own stem: "buildings" does not
become "build", nor "propellers" "propel"). :class:`Vocabulary` maps a misspelt query term to the
nearest indexed one ("batery" → "batteri").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import lru_cache

import bm25s
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

__all__ = [
    "LightStemmer",
    "Vocabulary",
    "split_sentences",
    "tokenize",
    "tokenize_many",
    "words",
    "words_many",
]

# bm25s sets its own logger to DEBUG when imported, which floods any configured log handler
# with "Building index" lines; put it back to the usual level.
logging.getLogger("bm25s").setLevel(logging.WARNING)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
# Decimal figures ("4.5") stay one token; so do words and numbers of one character.
_TOKEN_PATTERN = r"(?u)\d+(?:[.,]\d+)+|\b\w+\b"
# Question words are noise for routing and retrieval; spatial and temporal words are not.
_KEEP = {
    "off",
    "on",
    "up",
    "down",
    "over",
    "under",
    "after",
    "before",
    "again",
    "out",
    "above",
    "below",
}
# Words people wrap questions in ("how much", "tell me", "please") carry no topic.
_FILLER = set(
    [
        "much",
        "many",
        "often",
        "tell",
        "know",
        "want",
        "please",
        "anything",
        "something",
        "thing",
        "things",
        "also",
        "ok",
        "okay",
        "hi",
        "hello",
        "thanks",
        "thank",
        "hey",
        "would",
        "could",
        "should",
        "can",
        "im",
        "ive",
        "dont",
        "doesnt",
        "anyone",
        "guys",
        "mean",
        "means",
        "meaning",
        "wrong",
        "happen",
        "happens",
        "explain",
        "say",
        "says",
    ]
)
_STOPWORDS = sorted((set(STOPWORDS_EN_PLUS) - _KEEP) | _FILLER)


class LightStemmer:
    """Snowball's English stemmer, kept off the endings where it merges different words.

    >>> LightStemmer().stemWords(["builds", "buildings", "propellers", "charging", "batteries"])
    ['build', 'building', 'propeller', 'charg', 'batteri']
    """

    def __init__(self) -> None:
        self._snowball = Stemmer.Stemmer("english")

    def stemWord(self, word: str) -> str:
        if len(word) > 5 and word.endswith("ings"):
            return word[:-1]
        if len(word) > 5 and word.endswith("ers"):
            return word[:-1]
        if len(word) > 4 and word.endswith("er"):
            return word
        return str(self._snowball.stemWord(word))

    def stemWords(self, words: list[str]) -> list[str]:
        return [self.stemWord(word) for word in words]


@lru_cache(maxsize=1)
def _stemmer() -> LightStemmer:
    return LightStemmer()


class Vocabulary:
    """The words a corpus uses, and for a query word it does not, the nearest one (a typo).

    Matching is on words as written, before stemming ("batery" is one edit from "battery").
    A word of 4 to 7 characters may be one edit away from its match, a longer one two; numbers
    and shorter words must match exactly (a different figure is not a typo).

    >>> vocabulary = Vocabulary(["battery", "charge", "propeller"])
    >>> vocabulary.terms("How long to chrge the batery at 6 kw?")
    ['long', 'charg', 'batteri', '6', 'kw']
    """

    def __init__(self, words: Iterable[str]) -> None:
        self.words = frozenset(words)
        self._listed = sorted(self.words)
        self._corrected: dict[str, str] = {}

    def __contains__(self, word: object) -> bool:
        return word in self.words

    def terms(self, text: str) -> list[str]:
        """The stemmed tokens of ``text``, each unknown word first corrected if close."""
        return _stemmer().stemWords(self.correct(words(text)))

    def correct(self, found: Iterable[str]) -> list[str]:
        """``found`` with each unknown word replaced by its nearest known word, if close."""
        return [w if w in self.words else self._nearest(w) for w in found]

    def _nearest(self, word: str) -> str:
        if word in self._corrected:
            return self._corrected[word]
        nearest = word
        if len(word) >= 4 and not any(c.isdigit() for c in word):
            limit = 1 if len(word) < 8 else 2
            match = process.extractOne(
                word, self._listed, scorer=Levenshtein.distance, score_cutoff=limit
            )
            if match is not None:
                nearest = match[0]
        if len(self._corrected) < 10_000:  # a bounded memo: queries are few, typos fewer
            self._corrected[word] = nearest
        return nearest


def words_many(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free words of each text, not stemmed."""
    if not texts:
        return []
    found = bm25s.tokenize(
        texts,
        token_pattern=_TOKEN_PATTERN,
        stopwords=_STOPWORDS,
        return_ids=False,
        show_progress=False,
    )
    return [list(t) for t in found]


def words(text: str) -> list[str]:
    """:func:`words_many` of one text."""
    return words_many([text])[0]


def tokenize_many(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed tokens of each text."""
    stemmer = _stemmer()
    return [stemmer.stemWords(found) for found in words_many(texts)]


def tokenize(text: str) -> list[str]:
    """Tokens of one text, as :func:`tokenize_many` makes them.

    >>> tokenize("How heavy are the batteries at 5 knots?")
    ['heavi', 'batteri', '5', 'knot']
    """
    return tokenize_many([text])[0]


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph of prose; list items and headings count as sentences."""
    sentences: list[str] = []
    for line in text.splitlines():
        line = line.strip().lstrip("-*>#").strip()
        line = re.sub(r"^\d+[.)]\s+", "", line)
        if line:
            sentences.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return sentences
