"""Reading questions and sentences: the figure asked for, the figures held, parts, names."""

from __future__ import annotations

import pytest

from graphwire.agents.answering.figures import asked_figure, holds, numbers
from graphwire.agents.answering.questions import identifiers, parse_question, unknown_names


@pytest.mark.parametrize(
    ("question", "kinds", "firm"),
    [
        ("How heavy is the battery pack?", {"weight"}, True),
        ("What does it cost me in electricity?", {"price"}, True),
        ("How much is a replacement tiller arm?", {"price"}, True),
        ("How far can I get at 5 knots?", {"length"}, True),  # "5 knots" is stated, not asked
        ("How long is the warranty?", {"duration", "length"}, True),
        ("What's the max prop rpm?", {"speed"}, True),
        ("At what water temperature does it cut back its power?", {"temperature"}, True),
        ("How many newtons of bollard pull does it have?", {"force"}, True),
        ("How many months do zinc anodes last?", {"duration"}, True),
        ("What size wrench do I need?", {"length"}, False),  # any size of thing: only a hint
        ("Does the temperature affect the range?", {"temperature", "length"}, False),
    ],
)
def test_the_kind_of_figure_a_question_asks_for(question: str, kinds: set[str], firm: bool) -> None:
    ask = asked_figure(question)
    assert ask is not None and (set(ask.kinds), ask.firm) == (kinds, firm)


@pytest.mark.parametrize(
    "question",
    [
        "Which propeller is best for a heavy sailboat?",  # an adjective, not "how heavy"
        "Which prop suits a boat weighing 1,200 kg?",  # a stated figure
        "What does E40 mean?",
    ],
)
def test_questions_that_ask_for_no_figure(question: str) -> None:
    assert asked_figure(question) is None


def test_how_many_counts_the_noun_it_names() -> None:
    ask = asked_figure("How many phones can I pair?")
    assert ask is not None and ask.counted == "phones"
    assert holds(ask, "Up to four phones can be paired.")
    assert holds(ask, "Phones: 4; Range: 10 m.")
    assert not holds(ask, "The phone must stay within 3 m.")


@pytest.mark.parametrize(
    ("sentence", "held"),
    [
        ("The VB-24 battery weighs 16.8 kg.", True),
        ("It is designed for boats of 1,000 kg to 3,000 kg.", False),  # a load, not a weight
        ("The stainless steel propeller has a weight of 2.4 kg.", True),
    ],
)
def test_a_weight_is_kilograms_said_of_weight(sentence: str, held: bool) -> None:
    ask = asked_figure("How much does it weigh?")
    assert ask is not None and holds(ask, sentence) is held


def test_figures_are_read_with_their_units() -> None:
    for question, sentence in [
        ("What does it cost?", "The annual service costs EUR 149."),
        ("How long does it take?", "A service usually takes two working days."),
        ("How long is the warranty?", "The motor has a 1-year limited warranty."),
        ("What torque for the nut?", "Tighten the propeller nut to 35 Nm."),
        ("What is the maximum current in amps?", "The charger draws at most 7 A."),
        ("How loud is it?", "The noise level is 52 dB(A) at 1 m."),
    ]:
        ask = asked_figure(question)
        assert ask is not None and holds(ask, sentence), (question, sentence)


def test_numbers_are_written_one_way() -> None:
    assert numbers("At 5 knots two batteries last 1,400 minutes") == {"5", "2", "1400"}
    assert numbers("Is there something better than the stock one?") == frozenset()


def test_a_question_is_cut_into_the_parts_it_asks() -> None:
    question = parse_question(
        "The display showed E23. At what temperature does that trigger and what causes it?"
    )
    assert [p.text for p in question.parts] == [
        "At what temperature does that trigger",
        "what causes it?",
    ]
    assert question.background == "The display showed E23."
    assert all(p.refers for p in question.parts)
    fin = parse_question("For the fin anode, what hex key do I need and what torque for it?")
    assert fin.parts[0].text == "For the fin anode, what hex key do I need"
    assert (
        parse_question("Can I use the VB-24 and the VB-20 together?")
        .parts[0]
        .text.startswith("Can I use the VB-24 and the VB-20")
    )
    assert parse_question("And the charger?").parts[0].elliptical
    assert not parse_question("My motor vibrates at speed.").asks


def test_names_are_codes_and_numbered_models() -> None:
    assert identifiers("Does the VB-24 fit a Voltra 6? E03 shows. Using 2 batteries?") == [
        "VB-24",
        "E03",
        "Voltra 6",
    ]


@pytest.mark.parametrize(
    ("question", "unknown"),
    [
        ("How do I change the oil on my Yamaha F9.9?", ["Yamaha F9.9"]),
        ("Is it faster than a Torqeedo Cruise 6.0?", ["Torqeedo Cruise 6.0"]),
        ("When is the Voltra 10 coming out?", ["Voltra 10"]),
        ("What's the weather in Paris tomorrow?", ["Paris"]),
        ("What does E3 mean on my Voltra?", []),  # zero-padded "E03"; the asker's own product
        ("Can I plug it in in the States?", []),
        ("Which prop for a light RIB?", []),
        ("Who is Tidwell?", []),  # one typo from a name the documents use
    ],
)
def test_names_the_documents_never_use(question: str, unknown: list[str]) -> None:
    known = "The Voltra 6 by Tidewell. E03 (motor overtemperature) stops the motor."
    assert unknown_names(question, known) == unknown
