"""Lexical analysis shared by retrieval, routing and the offline model: one tokenizer for all."""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import bm25s
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

__all__ = ["split_sentences", "tokenize", "tokenize_many"]

# bm25s sets its own logger to DEBUG when imported, which floods any configured log handler
# with "Building index" lines; put it back to the usual level.
logging.getLogger("bm25s").setLevel(logging.WARNING)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
# Decimal figures ("4.5") stay one token; otherwise bm25s's default of words of 2+ characters.
_TOKEN_PATTERN = r"(?u)\d+(?:[.,]\d+)+|\b\w\w+\b"
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


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def tokenize_many(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed tokens of each text (bm25s's tokenizer)."""
    if not texts:
        return []
    tokens = bm25s.tokenize(
        texts,
        token_pattern=_TOKEN_PATTERN,
        stopwords=_STOPWORDS,
        stemmer=_stemmer(),
        return_ids=False,
        show_progress=False,
    )
    return [list(t) for t in tokens]


def tokenize(text: str) -> list[str]:
    """Tokens of one text, as :func:`tokenize_many` makes them.

    >>> tokenize("How heavy is the batteries?")
    ['heavi', 'batteri']
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
