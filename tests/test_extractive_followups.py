"""Follow-ups: the previous question says what "it" is; the previous answer is not quoted again.

Through :func:`graphwire.agents.extractive.compose_answer` and through the offline model, which passes
the conversation's previous question and answer itself.
"""

from __future__ import annotations

from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from graphwire.agents import OfflineChatModel
from graphwire.agents.extractive import compose_answer
from graphwire.agents.prompts import Passage, format_passages

STORAGE = Passage(
    "maintenance/battery-care#2",
    "Battery Care › Winter storage",
    "To put the battery into storage mode, press and hold the battery button for 10 seconds. "
    "To wake the battery from storage mode, press the battery button for 2 seconds. "
    "For winter storage, keep the battery at 50% to 60% state of charge.",
)
ECO = Passage(
    "specs/app#2",
    "App › Eco mode",
    "Eco mode limits the maximum power to 3 kW to extend the range. "
    "Eco mode is switched on and off only in the app.",
)
STEERING = Passage(
    "specs/steering#5",
    "Dimensions › Steering",
    "A friction knob on the bracket adjusts how freely the tiller turns.",
)
PRICES = Passage(
    "general/prices#1",
    "Price List › Chargers",
    "The charger costs EUR 349. The fast charger costs EUR 649.",
)
WEIGHTS = Passage("specs/charger#0", "Charger › Physical data", "The charger weighs 2.1 kg.")
PASSAGES = [STORAGE, ECO, STEERING, PRICES, WEIGHTS]


def test_a_follow_up_on_something_else_does_not_quote_the_previous_answer() -> None:
    first = compose_answer("How do I put the battery into storage mode?", PASSAGES)
    assert "hold the battery button for 10 seconds" in first
    second = compose_answer(
        "ok and what charge level should it be at for the winter?",
        PASSAGES,
        context="How do I put the battery into storage mode?",
        previous_answer=first,
    )
    assert "50% to 60%" in second
    assert "10 seconds" not in second


def test_the_previous_answer_is_worked_out_again_when_not_given() -> None:
    second = compose_answer(
        "and what charge level should it be at for the winter?",
        PASSAGES,
        context="How do I put the battery into storage mode?",
    )
    assert "50% to 60%" in second and "10 seconds" not in second


def test_it_is_read_as_what_the_previous_question_was_about() -> None:
    answer = compose_answer("how much is it?", PASSAGES, context="How heavy is the charger?")
    assert answer.startswith("The charger costs EUR 349.")
    answer = compose_answer("how do I turn it on?", PASSAGES, context="What is Eco mode?")
    assert "friction knob" not in answer  # it is about Eco mode, not about turning
    assert "only in the app" in answer


def test_an_elliptical_follow_up_asks_what_the_previous_question_asked() -> None:
    answer = compose_answer("And the fast charger?", PASSAGES, context="How much is the charger?")
    assert answer == "The fast charger costs EUR 649. [general/prices#1]"


def test_a_previous_statement_is_what_the_question_is_asked_against() -> None:
    answer = compose_answer(
        "what should I do?", PASSAGES, context="I need the battery to survive the winter."
    )
    assert "50% to 60%" in answer


async def test_the_offline_model_does_not_repeat_its_previous_answer() -> None:
    docs = [
        Document(page_content=p.text, metadata={"id": p.id, "title": p.title}) for p in PASSAGES
    ]
    model = OfflineChatModel(token_delay=0)
    system = SystemMessage(f"Be brief.\n\n{format_passages(docs)}")
    question = HumanMessage("How do I put the battery into storage mode?")
    first = await model.ainvoke([system, question])
    follow_up = HumanMessage("what charge level should it be at for the winter?")
    second = await model.ainvoke([system, question, AIMessage(first.content), follow_up])
    assert "10 seconds" in str(first.content)
    assert "50% to 60%" in str(second.content) and "10 seconds" not in str(second.content)
