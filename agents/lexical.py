"""The lexical half of retrieval: BM25 over a list of texts, forgiving of typos.

Built on bm25s with graphwire's tokenizer (:mod:`graphwire.agents.text`): numbers and one-character
words count, plural nouns keep their own stem, and a misspelt query word is read as the nearest
word the texts use.

Example:
    >>> index = LexicalIndex(["The VB-24 battery weighs 16.8 kg.", "The prop has 3 blades."])
    >>> [round(float(s), 2) > 0 for s in index.scores("how heavy is the batery")]
    [True, False]
"""

from __future__ import annotations

import bm25s
import numpy as np

from graphwire.agents.text import LightStemmer, Vocabulary, words_many

__all__ = ["LexicalIndex"]


class LexicalIndex:
    """BM25 scores of every text for a query (0 for a text sharing no term with it)."""

    def __init__(self, texts: list[str]) -> None:
        surface = words_many(texts)
        self.words = Vocabulary(w for found in surface for w in found)
        stemmer = LightStemmer()
        self._size = len(texts)
        self._index = bm25s.BM25()
        self._index.index([stemmer.stemWords(found) for found in surface], show_progress=False)
        self.vocabulary: frozenset[str] = frozenset(self._index.vocab_dict)

    def terms(self, query: str) -> list[str]:
        """The query's indexed terms, misspelt words read as the nearest known word."""
        return [t for t in self.words.terms(query) if t in self.vocabulary]

    def scores(self, query: str) -> np.ndarray:
        terms = self.terms(query)
        if not terms:
            return np.zeros(self._size)
        return np.asarray(self._index.get_scores(terms), dtype=float)
