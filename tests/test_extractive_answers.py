"""Grounded answers: the sentence that answers wins over the one that only shares words.

Small hand-made passages, independent of the demo pack: the kind of figure asked for, a number
in the question picking a table row, every part of a multi-part question, quotes and citations.
"""

from __future__ import annotations

import re

from graphwire.agents.extractive import compose_answer
from graphwire.agents.prompts import Passage

CHARGER = Passage(
    "specs/charger#0",
    "Charger Specifications › Physical data",
    "The charger is splash-proof and has a 1.8 m mains cable. The charger weighs 2.1 kg. "
    "The charger is designed for boats of up to 3,000 kg.",
)
RANGE = Passage(
    "specs/range#1",
    "Performance › Range with one battery",
    "The range depends on the speed.\n\n"
    "| Speed | Runtime | Range |\n|---|---|---|\n"
    "| 3 knots | 2 hours 34 minutes | 7.7 nm |\n"
    "| 5 knots | 49 minutes | 4.1 nm |\n"
    "| 6 knots | 33 minutes | 3.3 nm |",
)
PRICES = Passage(
    "general/prices#2",
    "Price List › Chargers",
    "The charger costs EUR 349. The charger cover is sold separately in three colours.",
)
SERVICE = Passage(
    "maintenance/service#3",
    "Maintenance › First service",
    "The first service is due after 20 operating hours. "
    "At the first service the gear oil is changed. "
    "The annual service is due every 12 months, whichever comes first.",
)
CODES = Passage(
    "troubleshooting/codes#4",
    "Fault Codes › E40 Firmware mismatch",
    "E40 (firmware mismatch) means the firmware versions do not match; run the firmware update "
    "in the app.",
)
PASSAGES = [CHARGER, RANGE, PRICES, SERVICE, CODES]


def _quoted(answer: str) -> list[str]:
    return re.split(r"(?<=\.) ", re.sub(r" ?\[[^\]]+\]", "", answer))


def test_a_sentence_holding_the_weight_beats_one_sharing_words() -> None:
    answer = compose_answer("How heavy is the charger?", PASSAGES)
    assert answer == "The charger weighs 2.1 kg. [specs/charger#0]"


def test_a_boat_load_in_kg_is_not_the_weight_asked_for() -> None:
    # "designed for boats of up to 3,000 kg" holds kilograms, but no weight of the charger.
    answer = compose_answer("How much does the charger weigh?", PASSAGES)
    assert "3,000 kg" not in answer and "2.1 kg" in answer


def test_a_price_question_is_answered_with_the_price() -> None:
    answer = compose_answer("What does the charger cost?", PASSAGES)
    assert answer == "The charger costs EUR 349. [general/prices#2]"


def test_a_duration_question_gets_the_duration() -> None:
    answer = compose_answer("When is the first service due?", PASSAGES)
    assert answer.startswith("The first service is due after 20 operating hours.")


def test_a_number_in_the_question_picks_the_table_row_with_its_header() -> None:
    answer = compose_answer("How far can I get at 5 knots?", PASSAGES)
    assert answer == "Speed: 5 knots; Runtime: 49 minutes; Range: 4.1 nm. [specs/range#1]"
    answer = compose_answer("How long does the battery last at 6 knots?", PASSAGES)
    assert answer.startswith("Speed: 6 knots; Runtime: 33 minutes")


def test_every_part_of_a_multi_part_question_gets_its_sentence() -> None:
    answer = compose_answer("How much does the charger cost and how much does it weigh?", PASSAGES)
    assert "EUR 349" in answer and "2.1 kg" in answer
    answer = compose_answer("When is the first service due and what gets done at it?", PASSAGES)
    assert "20 operating hours" in answer and "gear oil is changed" in answer


def test_parts_answered_by_one_sentence_quote_it_once() -> None:
    answer = compose_answer("What is E40 and how do I get rid of it?", PASSAGES)
    assert answer.count("E40 (firmware mismatch)") == 1
    assert answer.endswith("[troubleshooting/codes#4]")


def test_a_statement_around_the_question_says_what_it_is_about() -> None:
    answer = compose_answer("The display shows E40. What should I do?", PASSAGES)
    assert answer.startswith("E40 (firmware mismatch)")


def test_abbreviations_and_typos_find_the_passage_words() -> None:
    assert "2.1 kg" in compose_answer("how hevy is the chargr", PASSAGES)
    assert "Speed: 5 knots" in compose_answer("whats the max range at 5 kn", PASSAGES)


def test_a_sentence_opening_with_it_is_quoted_after_what_it_stands_for() -> None:
    passages = [Passage("a#0", "Battery", "The VB-24 battery stores 2.4 kWh. It weighs 14.2 kg.")]
    answer = compose_answer("How much does the battery weigh?", passages)
    assert answer == "The VB-24 battery stores 2.4 kWh. It weighs 14.2 kg. [a#0]"


def test_answers_quote_the_passages_and_cite_them() -> None:
    corpus = " ".join(p.text for p in PASSAGES)
    for question in (
        "How heavy is the charger?",
        "How far can I get at 5 knots?",
        "How much does the charger cost and how much does it weigh?",
    ):
        answer = compose_answer(question, PASSAGES)
        cited = set(re.findall(r"\[([^\]]+)\]", answer))
        assert cited and cited <= {p.id for p in PASSAGES}
        for sentence in _quoted(answer):
            row = sentence.startswith("Speed:")
            assert row or sentence in corpus, sentence


def test_a_name_in_the_question_picks_the_row_it_names() -> None:
    table = Passage(
        "specs/chargers#1",
        "Chargers › Charging times",
        "| Charger | Empty to full | 20% to 80% |\n|---|---|---|\n"
        "| VC-600 | 4.5 hours | 2.5 hours |\n| VC-1200 | 2.3 hours | 1.3 hours |",
    )
    answer = compose_answer("How long does the VC-1200 take to charge from empty?", [table])
    assert answer == (
        "Charger: VC-1200; Empty to full: 2.3 hours; 20% to 80%: 1.3 hours. [specs/chargers#1]"
    )


def test_a_statement_without_a_question_is_answered_without_asking_a_figure() -> None:
    passages = [
        Passage(
            "troubleshooting/power#3",
            "Reduced Power › Ventilation",
            "Ventilation happens when the propeller draws in air; the motor rpm jumps up and the "
            "boat loses thrust.",
        )
    ]
    answer = compose_answer("rpm suddenly shoots up in turns and the boat loses grip", passages)
    assert answer.startswith("Ventilation happens")
