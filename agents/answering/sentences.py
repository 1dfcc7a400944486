"""Passages as the sentences an answer may quote: prose sentences, list items and table rows.

A Markdown table row becomes one sentence that carries its header, ``"Header: cell; …"``, so a
quoted row still says what each figure is; its first cell is the row's ``key`` (the value a
question names to pick the row: "at 5 knots" picks the row whose first cell is "5 knots").
Each sentence is read under its passage's heading ("### E15 Cell undervoltage" scopes what
follows), so the heading's words count as the sentence's.

Example:
    >>> table = "| Speed | Range |\\n|---|---|\\n| 5 kn | 4 nm |"
    >>> rows = read_sentences([Passage("a#0", "Range", table)])
    >>> rows[0].text, rows[0].key
    ('Speed: 5 kn; Range: 4 nm.', '5 kn')
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from graphwire.agents.prompts import Passage
from graphwire.agents.text import split_sentences, tokenize

__all__ = ["Sentence", "read_sentences"]

MIN_CHARS = 12  # shorter fragments ("Notes:") are not worth quoting
_PRONOUN_START = re.compile(r"(?:It|Its|They|Their|This|These|That|Those|He|She|Both)\b")


@dataclass(frozen=True, slots=True)
class Sentence:
    """One quotable sentence: ``text`` verbatim, its ``passage`` (index) and ``position`` in
    reading order over all passages, its stemmed ``terms`` (heading included), the ``key`` of a
    table row (its first cell; empty for prose), its ``heading``, the ``pairs`` of
    terms it writes one after the other ("first service", not "comes first … service") and the
    terms of its passage's whole title (what the document is about: "VB-24 Battery …"). A
    sentence opening with "It" or "They" carries the sentence before it as its ``lead_in``,
    whose terms count as its own."""

    text: str
    passage: int
    position: int
    terms: frozenset[str]
    key: str
    heading: str
    pairs: frozenset[tuple[str, str]] = frozenset()
    title_terms: frozenset[str] = frozenset()
    lead_in: str = ""

    @property
    def scope(self) -> str:
        """The sentence, its heading and what its "It" stands for: where a name it is about
        may be written."""
        return f"{self.heading}\n{self.lead_in}\n{self.text}"


def read_sentences(passages: Sequence[Passage]) -> list[Sentence]:
    """Every quotable sentence of ``passages``, in reading order."""
    found: list[Sentence] = []
    for index, passage in enumerate(passages):
        heading = passage.title.split(" › ")[-1]
        heading_terms = frozenset(tokenize(heading))
        title_terms = frozenset(tokenize(passage.title))
        before = ""
        for text, key in _units(passage.text):
            if len(text) <= MIN_CHARS:
                continue
            tokens = tokenize(text)
            # "It weighs 14.2 kg." is about what the sentence before it is about.
            lead_in = before if _PRONOUN_START.match(text) else ""
            terms = frozenset(tokens) | heading_terms | frozenset(tokenize(lead_in))
            pairs = frozenset(itertools.pairwise(tokens))
            found.append(
                Sentence(text, index, len(found), terms, key, heading, pairs, title_terms, lead_in)
            )
            before = text
    return found


def _units(text: str) -> list[tuple[str, str]]:
    """The passage's sentences with their row keys: prose split into sentences, rows whole."""
    units: list[tuple[str, str]] = []
    prose: list[str] = []
    header: list[str] | None = None
    for line in text.splitlines():
        if not line.lstrip().startswith("|"):
            header = None
            prose.append(line)
            continue
        units += [(s, "") for s in split_sentences("\n".join(prose))]
        prose = []
        row, header = _table_row(line, header)
        if row is not None:
            units.append(row)
    units += [(s, "") for s in split_sentences("\n".join(prose))]
    return units


def _table_row(
    line: str, header: list[str] | None
) -> tuple[tuple[str, str] | None, list[str] | None]:
    """A Markdown row as ``("Header: cell; …", key)``; the header and rule rows give none."""
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
        return None, header
    if header is None:
        return None, cells
    pairs = [f"{h}: {c}" if h else c for h, c in zip(header, cells, strict=False) if c]
    if not pairs:
        return None, header
    return ("; ".join(pairs) + ".", cells[0] if cells else ""), header
