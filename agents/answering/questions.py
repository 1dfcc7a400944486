"""A question as the answer reads it: its parts, the names it uses, what its pronouns lean on.

"What is E40 and how do I get rid of it?" has two parts, the second leaning back on the first
("it"); "The display showed E23. What causes it?" has one part and a statement around it, the
``background`` every part is read with. Names are model codes ("VB-24", "E03", "F9.9"), a
capitalised word with a number ("Voltra 6") and other capitalised words ("Yamaha"): a question
naming something the documents never name is about something else.

Example:
    >>> [p.text for p in parse_question("What does it weigh, and how much is it?").parts]
    ['What does it weigh', 'how much is it?']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from graphwire.agents.answering.terms import corrected
from graphwire.agents.text import Vocabulary, tokenize

__all__ = [
    "Part",
    "Question",
    "identifiers",
    "mentions",
    "parse_question",
    "phrase_about",
    "unknown_names",
]

_ASKING = (
    r"what|what's|whats|how|how's|when|where|which|who|whose|why|is|are|was|were|does|do|did|"
    r"can|could|will|would|should|shall|may|any|tell|explain"
)
_ASKS = re.compile(rf"^(?:and\s+|so\s+|ok\s+|okay\s+)?(?:{_ASKING})\b", re.I)
_CLAUSE = re.compile(
    rf"(?:,\s*(?:and|but|or|also|plus)?|\s+(?:and|but|or|also|plus))\s+(?=(?:{_ASKING})\b)", re.I
)
_SENTENCE = re.compile(r"(?<=[?!.])\s+(?=\S)")
_PRONOUN = re.compile(
    r"\b(?:it|its|it's|that|this|they|them|their|those|these|one|ones|he|she|there)\b", re.I
)
_ELLIPSIS = re.compile(
    rf"^(?:(?:and|or|ok|okay|so)\s+)*(?:what about|how about|what of)\b|"
    rf"^(?:and|or)\s+(?!(?:{_ASKING})\b)",
    re.I,
)
_CODE = re.compile(r"(?<![\w-])[A-Za-z]+-?\d+(?:[.-]?[A-Za-z0-9]+)*")
_NAMED_MODEL = re.compile(r"\b[A-Z][a-z]+\s\d+(?:\.\d+)?(?![\w.,]?\d)")
# Capitalised words; two capitals ("US", "TV") are too often common words to count as names.
_CAPITALISED = re.compile(r"(?<![\w-])(?:[A-Z][a-z]{2,}|[A-Z]{3,})(?![\w-])")
_CALENDAR = frozenset(
    re.findall(
        r"\w+",
        "january february march april may june july august september october november december "
        "monday tuesday wednesday thursday friday saturday sunday",
    )
)


@dataclass(frozen=True, slots=True)
class Part:
    """One thing a question asks; ``leans_back`` when it leans on what came before ("it",
    "and the charger?"), ``elliptical`` when it leaves out what it asks ("and the charger?",
    "what about the VC-1200?"): it asks what the part before it asked; ``refers`` when a
    pronoun stands for what it is about ("how many cells are in it?")."""

    text: str
    leans_back: bool
    elliptical: bool = False
    refers: bool = False


@dataclass(frozen=True, slots=True)
class Question:
    """A question's ``parts`` and the statements around them (``background``); ``asks`` is false
    for a text that only states ("My motor vibrates at speed."): its one part is the text."""

    parts: tuple[Part, ...]
    background: str
    asks: bool = True


def parse_question(text: str) -> Question:
    """Split ``text`` into the parts it asks and the statements it makes."""
    asked: list[str] = []
    stated: list[str] = []
    for sentence in _SENTENCE.split(text.strip()):
        is_question = sentence.rstrip().endswith("?") or _ASKS.match(sentence) is not None
        (asked if is_question else stated).append(sentence)
    if not asked:
        return Question((_part(text.strip()),), "", asks=False)
    parts = [_part(clause) for sentence in asked for clause in _clauses(sentence)]
    return Question(tuple(parts), " ".join(stated))


def _clauses(sentence: str) -> list[str]:
    """A question sentence cut where a new question starts ("…, and how far…"); a leading
    fragment that asks nothing ("For the fin anode,") stays with the clause it introduces."""
    pieces = [p.strip(" ,") for p in _CLAUSE.split(sentence) if p.strip(" ,")]
    if len(pieces) > 1 and not re.search(rf"\b(?:{_ASKING})\b", pieces[0], re.I):
        pieces[:2] = [f"{pieces[0]}, {pieces[1]}"]
    return pieces or [sentence]


def _part(text: str) -> Part:
    content = [w for w in tokenize(text) if not w.isdigit()]
    asks = re.search(rf"\b(?:{_ASKING})\b", text, re.I) is not None
    elliptical = len(content) <= 2 and (bool(_ELLIPSIS.match(text)) or not asks)
    refers = _PRONOUN.search(text) is not None
    return Part(text, elliptical or refers or len(content) <= 1, elliptical, refers)


def identifiers(text: str) -> list[str]:
    """The model codes and numbered names of ``text``, in order.

    >>> identifiers("Does the VB-24 fit the Voltra 6 or the Cruise 6.0? E03 shows.")
    ['VB-24', 'E03', 'Voltra 6', 'Cruise 6.0']
    """
    return [m.group() for m in [*_CODE.finditer(text), *_named_models(text)]]


def _named_models(text: str) -> Iterable[re.Match[str]]:
    """Capitalised words with a number ("Voltra 6"); not "At 5", nor a sentence's opening
    "Using 2 batteries"."""
    for match in _NAMED_MODEL.finditer(text):
        if tokenize(match.group().split()[0]) and not _opens(text, match.start()):
            yield match


def _opens(text: str, at: int) -> bool:
    """Whether ``at`` starts a sentence of ``text``, where every word is capitalised."""
    before = text[:at].rstrip(" \"'(")
    return not before or before[-1] in ".?!:"


def mentions(name: str, text: str) -> bool:
    """Whether ``text`` names ``name``, however it is spaced or zero-padded ("E3" is "E03",
    "vb24" is "VB-24").

    >>> mentions("vb24", "The VB-24 battery"), mentions("Voltra 6", "the Voltra 60")
    (True, False)
    """
    return _name_pattern(name).search(text) is not None


@lru_cache(maxsize=1024)
def _name_pattern(name: str) -> re.Pattern[str]:
    chunks = re.findall(r"[A-Za-z]+|\d+(?:\.\d+)?", name)
    parts = [rf"0*{re.escape(c.lstrip('0') or '0')}" if c[0].isdigit() else c for c in chunks]
    joined = r"[-\s]?".join(parts)
    return re.compile(rf"(?<![\w.-]){joined}(?![\w]|[.,]\d)", re.I)


def unknown_names(question: str, known: str) -> list[str]:
    """The names ``question`` uses that ``known`` (the documents' text) never does, in order;
    a name one typo away from a known word is known.

    >>> unknown_names("Is the Voltra 6 faster than a Torqeedo Cruise 6.0?", "The Voltra 6 is fast.")
    ['Torqeedo Cruise 6.0']
    """
    vocabulary = Vocabulary(w.lower() for w in re.findall(r"\b[A-Z][\w-]*", known))
    spans: list[tuple[int, int]] = []
    words: list[tuple[int, int]] = []  # plain capitalised words: "RIB" alone may be an acronym
    for match, is_word in _name_matches(question):
        name = match.group()
        if not mentions(name, known) and not _known_word(name, vocabulary):
            (words if is_word else spans).append(match.span())
    # A capitalised word alone may be an acronym ("a RIB"), a place ("the States") or the
    # asker's own product ("my Voltra"): it counts when it is none of these, when two name one
    # thing ("Tesla Model Y") or when it stands by a code ("Yamaha F9.9").
    if len(words) > 1 or any(_adjacent(w, s, question) for w in words for s in spans):
        spans += words
    else:
        spans += [w for w in words if _proper(question, *w)]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and not question[merged[-1][1] : start].strip():
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        elif not merged or start >= merged[-1][1]:
            merged.append((start, end))
    return [question[start:end] for start, end in merged]


def _proper(text: str, start: int, end: int) -> bool:
    """Whether the capitalised word at ``start:end`` reads as the name of something else: not an
    acronym ("a RIB"), a place after "the" ("the States") nor the asker's own ("my Voltra")."""
    after = re.search(r"\b(?:the|my|our|your)\s+$", text[:start], re.I)
    return not text[start:end].isupper() and after is None


def _adjacent(a: tuple[int, int], b: tuple[int, int], text: str) -> bool:
    first, second = sorted([a, b])
    return not text[first[1] : second[0]].strip()


def _name_matches(question: str) -> Iterable[tuple[re.Match[str], bool]]:
    """The names of ``question``, each with whether it is a plain capitalised word."""
    for match in [*_CODE.finditer(question), *_named_models(question)]:
        yield match, False
    letters = [c for c in question if c.isalpha()]
    if sum(c.isupper() for c in letters) * 2 > len(letters):
        return  # a shouted question capitalises every word
    for match in _CAPITALISED.finditer(question):
        word = match.group().lower()
        if not _opens(question, match.start()) and word not in _CALENDAR and tokenize(word):
            yield match, True


def _known_word(name: str, vocabulary: Vocabulary) -> bool:
    """A word the documents capitalise, or a typo of one ("Tidwell")."""
    if any(c.isdigit() for c in name) or " " in name:
        return False
    word = name.lower()
    return (
        word in vocabulary or word.rstrip("s") in vocabulary or corrected(word, vocabulary) != word
    )


def phrase_about(text: str, known: Callable[[str], bool], *, longest: int = 5) -> str | None:
    """The longest run of words of ``text`` that ``known`` accepts (ties: the first), as a noun
    phrase: what a question is about, in its own words.

    >>> phrase_about("What does an old VB-20 battery cost?", lambda w: w in {"VB-20", "battery"})
    'the VB-20 battery'
    """
    runs: list[list[str]] = [[]]
    for word in re.findall(r"\w+(?:[-.]\w+)*", text):
        if known(word):
            runs[-1].append(word)
        elif runs[-1]:
            runs.append([])
    run = max(runs, key=len)
    if not run or len(run) > longest:
        return None
    return "the " + " ".join(run)
