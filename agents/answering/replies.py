"""The wording of answers that say the documents don't say.

Three cases, each matched by :func:`graphwire.agents.evaluation.says_not_in_docs`: nothing in the
passages is about the question (:data:`NOTHING_FOUND`), the question names something the documents
never name (:func:`not_mentioned`), or the documents mention the thing but not the figure asked for
(:func:`not_stated`).

Example:
    >>> not_stated("the VB-20 battery", "its price")
    "The documents mention the VB-20 battery but don't state its price."
"""

from __future__ import annotations

from collections.abc import Sequence

from graphwire.agents.answering.figures import Ask, Kind

__all__ = ["NOTHING_FOUND", "figure_name", "not_mentioned", "not_stated"]

NOTHING_FOUND = (
    "I could not find anything about that in the knowledge base, so I can't answer it. "
    "Try rephrasing the question or asking about something the documentation covers."
)

_FIGURE_NAMES: dict[Kind, str] = {
    "price": "its price",
    "weight": "its weight",
    "duration": "how long",
    "length": "the size or distance",
    "speed": "how fast",
    "temperature": "the temperature",
    "power": "the power",
    "energy": "the capacity",
    "voltage": "the voltage",
    "current": "the current",
    "torque": "the torque",
    "force": "the force",
    "volume": "the amount",
    "percent": "the percentage",
    "pressure": "the pressure",
    "loudness": "how loud",
    "year": "the year",
    "count": "how many",
}


def figure_name(ask: Ask) -> str:
    """How an answer names the figure ``ask`` asks for: "its price", "how many cells"."""
    if ask.counted is not None:
        return f"how many {ask.counted}"
    kind = next(k for k in _FIGURE_NAMES if k in ask.kinds)
    return _FIGURE_NAMES[kind]


def not_mentioned(names: Sequence[str]) -> str:
    """The answer to a question about things the documents never name.

    >>> not_mentioned(["Yamaha F9.9"])
    "I could not find anything about Yamaha F9.9 in the documents, so I can't answer that."
    """
    listed = " or ".join(names)
    return f"I could not find anything about {listed} in the documents, so I can't answer that."


def not_stated(thing: str | None, figure: str) -> str:
    """The answer when the documents mention ``thing`` without the ``figure`` asked for."""
    if thing:
        return f"The documents mention {thing} but don't state {figure}."
    return f"The documents don't state {figure}."
