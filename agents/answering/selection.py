"""Choosing the sentences that answer one part of a question.

Sentences are ranked by :class:`~graphwire.agents.answering.scoring.Scorer`. A part is answered when
its best sentence covers enough of what it asks; when it asks for a figure, the best sentence is one
that holds it, and so are the others quoted with it. When the part asks firmly for a figure
("how heavy") that no sentence about its topic holds, the documents don't give it: the choice is
``missing``, with the sentence that best mentions the topic.

Example:
    >>> from graphwire.agents.answering.sentences import read_sentences
    >>> from graphwire.agents.prompts import Passage
    >>> sentences = read_sentences([Passage("a#0", "Charger", "The charger weighs 2.1 kg.")])
    >>> choice = choose(Frame("How heavy is the charger?"), sentences, Lexicon(sentences))
    >>> [s.text for s in choice.sentences], choice.missing
    (['The charger weighs 2.1 kg.'], False)
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from graphwire.agents.answering.figures import Ask
from graphwire.agents.answering.reading import Frame
from graphwire.agents.answering.scoring import Scorer
from graphwire.agents.answering.sentences import Sentence
from graphwire.agents.answering.terms import Lexicon

__all__ = ["Choice", "Frame", "choose"]

MIN_COVERAGE = 0.35  # share of the part's weight the best sentence must hold
KEEP_RATIO = 0.55  # another sentence must score at least this share of the best one
# A figure answers when its sentence is about the thing about as much as any sentence is: "a
# sailboat weighing 1,200 kg with the push propeller" does not weigh the 4-blade push propeller.
HOLDER_SHARE = 0.5
LEAD_SHARE = 0.25  # enough when the thing leads to the figure: "The VB-24 battery weighs …"
SECTION_SHARE = 1.25  # the other sentences of the best one's passage score this much more
SAID_SHARE = 0.5  # a sentence an earlier part chose scores this share for a later part


@dataclass(frozen=True, slots=True)
class Choice:
    """The sentences chosen for a part, best first; ``missing`` when the part asks for a figure
    the documents don't give; ``topic`` is the best sentence about the part's topic (for saying
    what the documents do mention) and ``ask`` the figure asked for."""

    sentences: list[Sentence] = field(default_factory=list)
    missing: bool = False
    topic: Sentence | None = None
    ask: Ask | None = None


def choose(
    frame: Frame,
    sentences: Sequence[Sentence],
    lexicon: Lexicon,
    *,
    quoted: Collection[str] = (),
    said: Collection[str] = (),
    budget: int = 3,
) -> Choice:
    """The sentences of ``sentences`` that answer ``frame``, at most ``budget``; sentences of the
    previous answer (``quoted``) only when the part asks for them again, and those earlier parts
    of the question chose (``said``) after new ones."""
    scorer = Scorer(frame, lexicon, sentences)
    ask = scorer.ask
    if not sentences or scorer.reading.total <= 0:
        return Choice(ask=ask)
    score = {s.position: scorer.score(s) for s in sentences}
    for s in sentences:  # an earlier part's sentence serves this one only if it holds its figure
        if s.text in said and not scorer.answers(s):
            score[s.position] *= SAID_SHARE
    eligible = _eligible(scorer, sentences, quoted, again=frame.leans_back and not frame.elliptical)
    ranked = sorted(eligible, key=lambda s: (-score[s.position], s.position))
    topical = [s for s in ranked if scorer.coverage(s) >= MIN_COVERAGE]
    holders = _holders(scorer, topical, eligible)
    if ask is not None and ask.firm and not holders:
        topic = max(eligible, key=lambda s: (scorer.mention(s), -s.position), default=None)
        if topic is None or scorer.mention(topic) < MIN_COVERAGE:
            return Choice(ask=ask)
        return Choice(missing=True, topic=topic, ask=ask)
    if not topical:
        return Choice(ask=ask)
    firm = ask is not None and ask.firm
    best = holders[0] if firm else topical[0]
    chosen = _pick(best, ranked, score, budget, only=holders.__contains__ if firm else None)
    return Choice(_with_antecedents(chosen, sentences, budget), topic=best, ask=ask)


def _eligible(
    scorer: Scorer, sentences: Sequence[Sentence], quoted: Collection[str], *, again: bool
) -> list[Sentence]:
    """The sentences about what the part's "it" stands for; of the previous answer's, only
    those the part asks for again (as much as any other sentence, when it asks ``again`` about
    the same thing: "and what should I check?"; more, otherwise), unless nothing else answers."""
    about = [s for s in sentences if scorer.about_referent(s)]
    fresh = [s for s in about if s.text not in quoted]
    best_fresh = max((scorer.own_coverage(s) for s in fresh), default=0.0)

    def asked(s: Sentence) -> bool:
        coverage = scorer.own_coverage(s)
        return coverage > best_fresh or (again and coverage >= best_fresh > 0)

    eligible = [s for s in about if s in fresh or asked(s)]
    if any(scorer.coverage(s) >= MIN_COVERAGE for s in eligible):
        return eligible
    return about


def _holders(scorer: Scorer, topical: list[Sentence], eligible: list[Sentence]) -> list[Sentence]:
    """The topical sentences holding the figure asked for, of the thing asked about."""
    nearest = max(eligible, key=lambda s: (scorer.closeness(s), -s.position), default=None)
    return [
        s
        for s in topical
        if scorer.answers(s)
        and (not scorer.self_contained or _of_the_thing(scorer, s, nearest))
        and scorer.names_all(s)
    ]


def _pick(
    best: Sentence,
    ranked: list[Sentence],
    score: dict[int, float],
    budget: int,
    *,
    only: Callable[[Sentence], bool] | None,
) -> list[Sentence]:
    """``best``, then the next best sentences scoring near it (those ``only`` accepts), the
    other sentences of its passage first: its section most likely holds the rest of the answer."""

    def ranking(s: Sentence) -> tuple[float, int]:
        boost = SECTION_SHARE if s.passage == best.passage and s is not best else 1.0
        return (-score[s.position] * boost, s.position)

    chosen = [best]
    for s in sorted(ranked, key=ranking):
        boost = SECTION_SHARE if s.passage == best.passage else 1.0
        if len(chosen) >= budget or score[s.position] * boost < KEEP_RATIO * score[best.position]:
            break
        if (only is None or only(s)) and all(s.terms != c.terms for c in chosen):
            chosen.append(s)
    return chosen


def _of_the_thing(scorer: Scorer, s: Sentence, nearest: Sentence | None) -> bool:
    """Whether the figure of ``s`` is of the thing the part asks about: ``s`` is about it nearly
    as much as the sentence most about it (``nearest``), or less but with the thing leading to
    the figure."""
    if nearest is None:
        return True
    closeness, closest = scorer.closeness(s), scorer.closeness(nearest)
    return closeness >= HOLDER_SHARE * closest or (
        closeness >= LEAD_SHARE * closest and scorer.leads(s, nearest)
    )


def _with_antecedents(
    chosen: list[Sentence], sentences: Sequence[Sentence], budget: int
) -> list[Sentence]:
    """``chosen`` with the sentence before each one that opens with "It"/"They", so the quote
    says what it is about; the best sentence and its antecedent always stay."""
    result: list[Sentence] = []
    for s in chosen:
        before = sentences[s.position - 1] if s.lead_in and s.position > 0 else None
        if before is not None and before not in result:
            result.append(before)
        if s not in result:
            result.append(s)
    floor = result.index(chosen[0]) + 1 if chosen else 0
    return result[: max(budget, floor)]
