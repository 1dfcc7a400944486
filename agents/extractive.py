"""Extractive answering: pick the retrieved sentences that answer a question, and cite them.

This is the offline model's whole "intelligence". It never writes a fact of its own: every
sentence of an answer is a sentence of a passage, followed by the passage's id.

Example:
    >>> compose_answer("What does it weigh?", [Passage("a#0", "Weight", "The motor weighs 9 kg.")])
    'The motor weighs 9 kg. [a#0]'
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from agents.prompts import Passage
from agents.text import split_sentences, tokenize

__all__ = ["NOTHING_FOUND", "compose_answer"]

NOTHING_FOUND = (
    "I could not find anything about that in the knowledge base, so I can't answer it. "
    "Try rephrasing the question or asking about something the documentation covers."
)
MIN_COVERAGE = 0.4  # share of the question's weight the best sentence must match
KEEP_RATIO = 0.55  # other sentences must score at least this share of the best one


@dataclass(frozen=True, slots=True)
class _Sentence:
    text: str
    passage: int
    position: int
    terms: frozenset[str]


def _table_row(line: str, header: list[str] | None) -> tuple[str | None, list[str] | None]:
    """A Markdown table row as a sentence ``"Header: cell; …"`` (the header row returns none)."""
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
        return None, header
    if header is None:
        return None, cells
    pairs = [f"{h}: {c}" if h else c for h, c in zip(header, cells, strict=False) if c]
    return "; ".join(pairs) + ".", header


def _sentences(passages: Sequence[Passage]) -> list[_Sentence]:
    found: list[_Sentence] = []
    for p_index, passage in enumerate(passages):
        header: list[str] | None = None
        lines: list[str] = []
        for line in passage.text.splitlines():
            if line.lstrip().startswith("|"):
                row, header = _table_row(line, header)
                if row:
                    lines.append(row)
            else:
                header = None
                lines.append(line)
        # A sentence is read under its heading: "### E15 Cell undervoltage" scopes what follows.
        heading = frozenset(tokenize(passage.title.split(" › ")[-1]))
        for text in split_sentences("\n".join(lines)):
            if len(text) > 12:
                terms = frozenset(tokenize(text)) | heading
                found.append(_Sentence(text, p_index, len(found), terms))
    return found


def _weights(question: str, context: str, sentences: list[_Sentence]) -> dict[str, float]:
    """IDF of each question term over the candidate sentences; earlier turns weigh half.

    A term no sentence contains weighs the median of the others: casual words ("wrong",
    "guys") should not sink a good match, yet a question mostly about absent things still fails.
    """
    df = Counter(t for s in sentences for t in s.terms)
    n = len(sentences)

    def idf(term: str) -> float:
        return math.log(1 + n / (1 + df[term]))

    present = [idf(t) for t in tokenize(question) if df[t]]
    absent = statistics.median(present) if present else math.log(1 + n)
    weights = {t: 0.5 * (idf(t) if df[t] else absent) for t in tokenize(context)}
    weights.update({t: idf(t) if df[t] else absent for t in tokenize(question)})
    return weights


def compose_answer(
    question: str,
    passages: Sequence[Passage],
    *,
    context: str = "",
    max_sentences: int = 3,
) -> str:
    """The answer to ``question`` from ``passages``; ``context`` is the earlier turns' questions.

    Returns :data:`NOTHING_FOUND` when no sentence matches enough of the question.
    """
    sentences = _sentences(passages)
    weights = _weights(question, context, sentences)
    total = sum(w for t, w in weights.items() if t in tokenize(question)) or sum(weights.values())
    if not sentences or total <= 0:
        return NOTHING_FOUND

    def score(s: _Sentence) -> float:
        matched = sum(weights.get(t, 0.0) for t in s.terms)
        return matched * (1 - 0.04 * s.passage) / (1 + 0.01 * len(s.terms))

    ranked = sorted(sentences, key=lambda s: (-score(s), s.position))
    best = ranked[0]
    coverage = sum(weights.get(t, 0.0) for t in best.terms & set(tokenize(question))) / total
    if coverage < MIN_COVERAGE:
        return NOTHING_FOUND
    chosen: list[_Sentence] = []
    for s in ranked:
        if len(chosen) == max_sentences or score(s) < KEEP_RATIO * score(best):
            break
        if all(s.terms != c.terms for c in chosen):
            chosen.append(s)
    rank = {s.passage: i for i, s in reversed(list(enumerate(chosen)))}
    return _cite(sorted(chosen, key=lambda s: (rank[s.passage], s.position)), passages)


def _cite(chosen: list[_Sentence], passages: Sequence[Passage]) -> str:
    """Sentences in reading order; each run of sentences from one passage ends with its id."""
    parts: list[str] = []
    for i, s in enumerate(chosen):
        parts.append(s.text)
        last_of_run = i + 1 == len(chosen) or chosen[i + 1].passage != s.passage
        if last_of_run:
            parts[-1] += f" [{passages[s.passage].id}]"
    return " ".join(parts)
