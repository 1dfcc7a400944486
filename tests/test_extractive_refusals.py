"""Saying plainly that the documents don't say: nothing relevant, a thing they never name, a
figure they don't give. Every such answer is matched by the evaluation's ``says_not_in_docs``.
"""

from __future__ import annotations

import pytest

from graphwire.agents.evaluation import says_not_in_docs
from graphwire.agents.extractive import NOTHING_FOUND, compose_answer
from graphwire.agents.prompts import Passage

PASSAGES = [
    Passage(
        "general/prices#2",
        "Price List › Chargers",
        "The VC-600 charger costs EUR 349. The charger cover is sold separately in three colours.",
    ),
    Passage(
        "specs/propellers#3",
        "Propellers › Push propeller",
        "The push propeller is a 4-blade aluminium propeller for heavy boats.",
    ),
    Passage(
        "specs/propellers#4",
        "Propellers › Stainless steel propeller",
        "The stainless steel propeller weighs 2.4 kg.",
    ),
    Passage(
        "specs/performance#2",
        "Performance › Example boats",
        "A sailboat weighing 1,200 kg reaches 5.8 knots with the push propeller.",
    ),
    Passage(
        "specs/charger#4",
        "Charger › VC-1200 fast charger",
        "The VC-1200 fast charger charges the battery in 2.3 hours. "
        "The VC-600 charger draws at most 7 A from the mains.",
    ),
    Passage(
        "maintenance/anodes#1",
        "Anodes › Material",
        "Zinc anodes are for use in salt water. Rinse the motor with fresh water within 24 hours "
        "after use in salt water.",
    ),
]


def test_nothing_found_still_says_the_documents_dont_say() -> None:
    assert says_not_in_docs(NOTHING_FOUND)


@pytest.mark.parametrize(
    "question", ["Who won the football cup?", "What is the best recipe for pancakes?"]
)
def test_an_off_topic_question_gets_the_plain_refusal(question: str) -> None:
    assert compose_answer(question, PASSAGES) == NOTHING_FOUND


def test_no_passages_no_answer() -> None:
    assert compose_answer("How heavy is it?", []) == NOTHING_FOUND


def test_a_price_the_documents_do_not_give_is_not_answered_by_the_mention() -> None:
    answer = compose_answer("How much is the charger cover?", PASSAGES)
    assert answer == "The documents mention the charger cover but don't state its price."
    assert says_not_in_docs(answer)


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        # A weight of another propeller, and a boat's weight near the push propeller: neither
        # weighs the push propeller.
        ("How much does the 4-blade push prop weigh?", "its weight"),
        # A current of the VC-600 is not one of the VC-1200.
        ("What's the maximum charging current of the VC-1200 in amps?", "the current"),
        # 24 hours is how soon to rinse, not how long a zinc anode lasts.
        ("How many months do zinc anodes last in salt water?", "how long"),
    ],
)
def test_a_figure_of_something_else_does_not_answer(question: str, missing: str) -> None:
    answer = compose_answer(question, PASSAGES)
    assert says_not_in_docs(answer), answer
    assert answer.endswith(f"don't state {missing}.")
    assert "[" not in answer  # nothing quoted as if it answered


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("How do I change the oil on my Yamaha F9.9?", "Yamaha F9.9"),
        ("What does fault code E45 mean?", "E45"),
        ("Is the VC-600 faster than a Torqeedo charger?", "Torqeedo"),
    ],
)
def test_a_thing_the_documents_never_name_is_not_answered(question: str, name: str) -> None:
    answer = compose_answer(question, PASSAGES)
    assert name in answer and says_not_in_docs(answer)


def test_a_name_one_typo_away_is_known() -> None:
    answer = compose_answer("What does the VC600 charger cost?", PASSAGES)
    assert answer == "The VC-600 charger costs EUR 349. [general/prices#2]"


def test_a_missing_part_is_said_alongside_the_answered_one() -> None:
    answer = compose_answer("What does the VC-600 cost, and how much is the cover?", PASSAGES)
    assert answer.startswith("The VC-600 charger costs EUR 349. [general/prices#2]")
    assert answer.endswith("don't state its price.")
