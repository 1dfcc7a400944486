"""Extractive answering: pick the retrieved sentences that answer a question, and cite them.

This is the offline model's whole "intelligence". It never writes a fact of its own: every
sentence of an answer is a sentence of a passage, followed by the passage's id. Each part of a
question ("X and Y?") gets its own sentences; a follow-up reads the previous question only to
know what "it" is, and does not quote the previous answer again; and when the passages don't
answer, the answer says so (see :mod:`graphwire.agents.answering.replies`). The pieces live in
:mod:`graphwire.agents.answering`.

Example:
    >>> compose_answer("What does it weigh?", [Passage("a#0", "Weight", "The motor weighs 9 kg.")])
    'The motor weighs 9 kg. [a#0]'
"""

from __future__ import annotations

from collections.abc import Sequence

from graphwire.agents.answering.figures import asked_figure
from graphwire.agents.answering.questions import (
    Question,
    mentions,
    parse_question,
    phrase_about,
    unknown_names,
)
from graphwire.agents.answering.replies import NOTHING_FOUND, figure_name, not_mentioned, not_stated
from graphwire.agents.answering.selection import Choice, Frame, choose
from graphwire.agents.answering.sentences import Sentence, read_sentences
from graphwire.agents.answering.terms import LIGHT_WORDS, Lexicon
from graphwire.agents.prompts import Passage
from graphwire.agents.text import tokenize

__all__ = ["NOTHING_FOUND", "compose_answer"]


def compose_answer(
    question: str,
    passages: Sequence[Passage],
    *,
    context: str = "",
    previous_answer: str = "",
    max_sentences: int = 3,
) -> str:
    """The answer to ``question`` from ``passages``.

    ``context`` is the earlier turns' questions and ``previous_answer`` the last answer given
    (when missing, it is worked out again from ``context``). A question of several parts may use
    one more sentence per extra part than ``max_sentences``. Returns :data:`NOTHING_FOUND` when
    no sentence is about the question.
    """
    sentences = read_sentences(passages)
    if not sentences:
        return NOTHING_FOUND
    parsed = parse_question(question)
    if context and not parse_question(context).asks:
        # A previous turn that only stated something ("My motor vibrates at speed.") is what
        # this question is asked against, like a statement made in the same message.
        background = f"{context} {parsed.background}".strip()
        parsed = Question(parsed.parts, background, parsed.asks)
        context = previous_answer = ""
    known = "\n".join(f"{p.title}\n{p.text}" for p in passages)
    unknown = unknown_names(" ".join(p.text for p in parsed.parts), known)
    if unknown:
        return not_mentioned(unknown)
    lexicon = Lexicon(sentences)
    quoted = previous_answer or _recalled(context, sentences, lexicon)
    budget = max_sentences + len(parsed.parts) - 1
    each = -(-budget // len(parsed.parts))  # a fair share of the budget, rounded up
    choices = _choices(parsed, context, sentences, lexicon, quoted=quoted, budget=each)
    chosen = _merge([c.sentences for c in choices], budget)
    missing = [_missing(part.text, c) for part, c in zip(parsed.parts, choices, strict=True)]
    missing = [m for m in missing if m]
    if not chosen:
        return " ".join(missing) or NOTHING_FOUND
    return " ".join([_cite(chosen, passages), *missing])


def _choices(
    parsed: Question,
    context: str,
    sentences: list[Sentence],
    lexicon: Lexicon,
    *,
    quoted: str,
    budget: int,
) -> list[Choice]:
    """Each part's choice; an elliptical part asks for the figure the part before it asked."""
    choices: list[Choice] = []
    before = asked_figure(context) if context else None
    for i, part in enumerate(parsed.parts):
        frame = Frame(
            part.text,
            leans_back=part.leans_back,
            elliptical=part.elliptical,
            refers=part.refers,
            background=parsed.background,
            earlier=" ".join(p.text for p in parsed.parts[:i]),
            context=context,
            inherited=before if part.elliptical else None,
        )
        said = " ".join(s.text for c in choices for s in c.sentences)
        choice = choose(frame, sentences, lexicon, quoted=quoted, said=said, budget=budget)
        choices.append(choice)
        before = choice.ask or before
    return choices


def _recalled(context: str, sentences: list[Sentence], lexicon: Lexicon) -> str:
    """The sentences the previous question would have been answered with, as one text."""
    if not context.strip():
        return ""
    return " ".join(s.text for s in choose(Frame(context), sentences, lexicon).sentences)


def _merge(per_part: list[list[Sentence]], budget: int) -> list[Sentence]:
    """Each part's best sentence first, then the parts' next ones in turn, without repeats,
    up to ``budget``; in the order of the parts, then of their best passages, then reading."""
    picked: list[tuple[int, Sentence]] = []
    for rank in range(max((len(p) for p in per_part), default=0)):
        for part, sentences in enumerate(per_part):
            fits = rank < len(sentences) and len(picked) < budget
            if fits and all(s is not sentences[rank] for _, s in picked):
                picked.append((part, sentences[rank]))
    passage_rank: dict[tuple[int, int], int] = {}
    for part, s in picked:
        passage_rank.setdefault((part, s.passage), len(passage_rank))
    picked.sort(key=lambda ps: (ps[0], passage_rank[ps[0], ps[1].passage], ps[1].position))
    return [s for _, s in picked]


def _missing(part: str, choice: Choice) -> str:
    """The sentence saying the documents mention the part's topic but not the figure asked; ""
    when the part's figure is not missing."""
    topic, ask = choice.topic, choice.ask
    if not choice.missing or topic is None or ask is None:
        return ""
    cues = {t for w in ask.cues for t in tokenize(w)}

    def known(word: str) -> bool:
        stems = set(tokenize(word))
        if word.lower() in LIGHT_WORDS or not stems - cues:
            return False
        return stems <= topic.terms or mentions(word, topic.scope)

    return not_stated(phrase_about(part, known), figure_name(ask))


def _cite(chosen: list[Sentence], passages: Sequence[Passage]) -> str:
    """Sentences in order; each run of sentences from one passage ends with its id."""
    parts: list[str] = []
    for i, s in enumerate(chosen):
        parts.append(s.text)
        last_of_run = i + 1 == len(chosen) or chosen[i + 1].passage != s.passage
        if last_of_run:
            parts[-1] += f" [{passages[s.passage].id}]"
    return " ".join(parts)
