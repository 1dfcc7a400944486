"""The kind of figure a question asks for, and the figures a sentence holds.

"How heavy is it?" asks for a weight, "The charger weighs 2.1 kg." holds one: a sentence holding
the kind of figure asked for answers better than one that only shares words with the question,
and when no sentence about the thing holds it, the documents don't give it. Units are read after
a number ("2.1 kg", "20 operating hours") or, for currencies, before it ("EUR 349").

Example:
    >>> ask = asked_figure("How much does the charger weigh?")
    >>> sorted(ask.kinds), holds(ask, "The charger weighs 2.1 kg."), holds(ask, "It costs EUR 9.")
    (['weight'], True, False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["Ask", "Kind", "asked_figure", "holds", "leans", "numbers"]

Kind = Literal[
    "price",
    "weight",
    "length",
    "duration",
    "speed",
    "temperature",
    "power",
    "energy",
    "voltage",
    "current",
    "torque",
    "force",
    "volume",
    "percent",
    "pressure",
    "loudness",
    "year",
    "count",
]

_WRITTEN = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "fifteen": "15",
    "twenty": "20",
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "hundred": "100",
}
_DIGITS = r"(?<![\w.,-])[−+-]?\d+(?:[.,]\d+)*"
_NUMBER = rf"(?:{_DIGITS}|\b(?i:{'|'.join(_WRITTEN)})\b)"
# A number a text states: digits, or a written number before a word ("two batteries", not "the
# stock one?").
_STATED = rf"(?:{_DIGITS}|\b(?i:{'|'.join(_WRITTEN)})(?=\s+[A-Za-z]))"

# Units after a number, as (symbols, words): symbols match case and follow the number at once,
# words ignore case and may follow one qualifying word ("20 operating hours", "3,000 motor rpm").
_UNITS: dict[Kind, tuple[str, str]] = {
    "price": (r"EUR|USD|GBP|CHF|SEK|NOK|DKK|€|\$|£", r"euros?|dollars?"),
    "weight": (r"kg|g|lbs?", r"kilos?|kilograms?|grams?|pounds?|tonnes?"),
    "length": (
        r"mm|cm|m|km|nm|ft|mi|\"",
        r"nautical miles?|metres?|meters?|millimet(?:re|er)s?|centimet(?:re|er)s?|inch(?:es)?|"
        r"feet|foot|miles?|yards?",
    ),
    "duration": (r"s|min|h|hrs?", r"seconds?|minutes?|hours?|days?|weeks?|months?|years?"),
    "speed": (r"kn|kts|km/h|kph|mph|m/s", r"knots?|rpm"),
    "temperature": (r"°\s?[CF]|º\s?[CF]", r"degrees?"),
    "power": (r"kW|W|hp|PS", r"watts?|kilowatts?|horsepower"),
    "energy": (r"kWh|Wh|Ah|mAh|MWh", r"kilowatt[- ]hours?|amp[- ]hours?"),
    "voltage": (r"V|kV|mV", r"volts?"),
    "current": (r"A|mA", r"amps?|amperes?"),
    "torque": (r"Nm|N·m|N m|N-m|ft-?lbs?|lb-?ft", r"newton[- ]met(?:re|er)s?"),
    "force": (r"kN|N|kgf|lbf", r"newtons?"),
    "volume": (r"ml|mL|l|L|cl|dl|cc", r"litres?|liters?|millilit(?:re|er)s?|gallons?"),
    "percent": (r"%", r"percent"),
    "pressure": (r"bar|psi|kPa|mbar", r"bars?"),
    "loudness": (r"dB(?:\(A\)|A)?", r"decibels?"),
}
_CURRENCY_FIRST = re.compile(rf"(?:EUR|USD|GBP|CHF|€|\$|£)\s?{_DIGITS}")
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
# A sentence's kg may weigh a boat's load rather than the thing: it counts with a weight word.
_CUES: dict[Kind, re.Pattern[str]] = {"weight": re.compile(r"\bweigh|\bweight|\bmass\b", re.I)}


def _unit_pattern(symbols: str, words: str) -> re.Pattern[str]:
    return re.compile(
        rf"{_NUMBER}\s?(?:{symbols})(?![\w/])|{_NUMBER}[\s-](?:[a-z]+\s)?(?i:{words})\b"
    )


_FIGURES = {kind: _unit_pattern(*units) for kind, units in _UNITS.items()}

# How questions ask for each kind; ``firm`` asks ("how heavy") let the answer say the figure is
# missing, ``soft`` ones ("what size") only steer the choice of sentence.
_ASKED: list[tuple[str, tuple[Kind, ...], bool]] = [
    # "a heavy sailboat" asks for no weight; "how heavy", "heavier than" and "is it heavy" do.
    (
        r"\bweigh\w*|\bhow heavy\b|\bheav(?:ier|iest)\b|\b(?:is|are)\b[^?,.]*\bheavy\b(?! \w)|"
        r"\bhow light\b|\bmass\b",
        ("weight",),
        True,
    ),
    (
        r"\bcosts?\b|\bprices?d?\b|\bpay\b|\bexpensive\b|\bcheap(?:er)?\b|\bhow much for\b",
        ("price",),
        True,
    ),
    (
        r"\bhow (?:far|wide|tall|high|deep|thick)\b|\bdimensions?\b|\blength\b|\bwidth\b|"
        r"\bheight\b|\bdiameter\b|\bdistance\b",
        ("length",),
        True,
    ),
    (r"\bhow big\b|\bwhat size\b|\bsize\b|\brange\b", ("length",), False),
    (r"\bhow long\b", ("duration", "length"), True),
    (r"\bhow soon\b|\bduration\b|\bruntime\b|\bhow much time\b", ("duration",), True),
    (r"\bhow often\b", ("duration",), False),  # "before every trip" answers it too
    (r"\bhow fast\b|\b(?:top|max\w*|what) speed\b|\brpm\b|\bknots\b|\bmph\b", ("speed",), True),
    (r"\bspeed\b(?! (?:up|down))", ("speed",), False),
    (r"\btemperatures?\b|\bhow (?:hot|cold|warm)\b|\bdegrees\b", ("temperature",), True),
    (
        r"\bhow much power\b|\bhow powerful\b|\bpower (?:output|rating)\b|\bwattage\b|\bwatts\b|"
        r"\bkw\b|\bhorsepower\b",
        ("power",),
        True,
    ),
    (r"\bhow much capacity\b", ("energy", "percent"), True),
    (r"\bcapacity\b|\bhow much energy\b|\bkwh\b|\bamp[- ]?hours?\b", ("energy",), True),
    (r"\bvoltage\b|\bvolts\b", ("voltage",), True),
    (
        r"\bcurrent\b(?! (?:firmware|version|state|model|position))|\bamps\b|\bamperage\b",
        ("current",),
        True,
    ),
    (r"\btorque\b|\bhow tight\b|\bnewton[- ]?met", ("torque",), True),
    (r"\bforce\b|\bthrust\b|\bnewtons\b|\bkgf\b", ("force",), True),
    (
        r"\bvolume\b|\blit(?:re|er)s\b|"
        r"\bhow much(?= (?:oil|fluid|liquid|grease|lube|water|fuel)\b)",
        ("volume",),
        True,
    ),
    (r"\bpercent(?:age)?\b|%", ("percent",), True),
    (r"\blevel\b", ("percent",), False),
    (r"\bpressure\b|\bpsi\b", ("pressure",), True),
    (r"\bhow (?:loud|noisy|quiet)\b|\bnoise level\b|\bdecibels?\b", ("loudness",), True),
    (r"\bwhat year\b|\bwhich year\b|\bsince when\b", ("year",), True),
]
_HOW_MUCH = re.compile(
    r"\bhow much (?:is|are|was|were|will|would|do|does|did)\b(?![^?]*\b(?:weigh|hold|take|draw|use|"
    r"consume|last|carry|need|go|fit|produce|deliver|pull|push|lose|keep|store|get)\w*)",
    re.I,
)
_YES_NO = re.compile(
    r"^(?:(?:and|so|ok|okay)\W+)*(?:is|are|was|were|does|do|did|can|could|will|would|should|"
    r"shall|may|has|have)\b",
    re.I,
)
_INTERROGATIVE = re.compile(r"\?|\b(?:how|what|which|when|where|who|whose)\b", re.I)
_HOW_MANY = re.compile(r"\b(?:how many|number of)\s+(?:[\w-]*\d[\w-]*\s+)?(?P<noun>[a-z]+)", re.I)
_TIME_WORDS = re.compile(rf"(?:{_UNITS['duration'][1]})$", re.I)
_LENGTH_WORDS = re.compile(rf"(?:{_UNITS['length'][1]}|{_UNITS['length'][0]})$", re.I)


@dataclass(frozen=True, slots=True)
class Ask:
    """What a question asks for: figure ``kinds`` (any will do), or for "how many X", ``counted``
    (X as written). ``cues`` are the question's words that ask ("heavy", "cost"); ``firm`` says
    whether a missing figure means the documents don't give it."""

    kinds: frozenset[Kind]
    counted: str | None
    cues: frozenset[str]
    firm: bool


def asked_figure(question: str) -> Ask | None:
    """The figure ``question`` asks for, or ``None``; a figure it states ("at 5 knots") is not
    asked for.

    >>> ask = asked_figure("How many cells does it have?")
    >>> ask.counted, ask.kinds
    ('cells', frozenset({'count'}))
    """
    text = _without_figures(question)
    kinds: set[Kind] = set()
    cues: set[str] = set()
    firm = False
    for pattern, found, is_firm in _ASKED:
        for match in re.finditer(pattern, text, re.I):
            kinds.update(found)
            cues.update(re.findall(r"\w+", match.group().lower())[-1:])  # "heavy" of "is it heavy"
            firm = firm or is_firm
    counted = None
    many = _HOW_MANY.search(text)
    if many and not kinds:
        noun = many["noun"].lower()
        if _TIME_WORDS.match(noun):
            kinds.add("duration")
            cues.add(noun)
        elif _LENGTH_WORDS.match(noun):
            kinds.add("length")
            cues.add(noun)
        else:
            kinds.add("count")
            counted = noun
        firm = True
    if not kinds and _HOW_MUCH.search(text):
        kinds.add("price")
        firm = True
    if not kinds:
        return None
    # "Does the temperature affect the range?" asks whether, not how much, and "rpm shoots up
    # in turns" asks nothing: no figure to miss.
    main = re.split(r"[,;:]\s*", text.strip())[-1]
    firm = firm and _YES_NO.match(main) is None and _INTERROGATIVE.search(text) is not None
    return Ask(frozenset(kinds), counted, frozenset(cues), firm)


def _without_figures(text: str) -> str:
    """``text`` without the figures it states, each with the word before it ("weighing 1,200
    kg", "at 5 knots"): they say what the question is about, not what it asks."""
    for pattern in _FIGURES.values():
        text = re.sub(rf"(?:\b\w+\s+)?(?:{pattern.pattern})", " ", text)
    return text


def _kinds_in(text: str) -> tuple[set[Kind], set[Kind]]:
    """The kinds of figure ``text`` holds firmly, and those it holds without the cue they need."""
    firm: set[Kind] = set()
    weak: set[Kind] = set()
    for kind, pattern in _FIGURES.items():
        if pattern.search(text):
            cue = _CUES.get(kind)
            (firm if cue is None or cue.search(text) else weak).add(kind)
    if _CURRENCY_FIRST.search(text):
        firm.add("price")
    if _YEAR.search(text):
        firm.add("year")
    return firm, weak


def holds(ask: Ask, text: str) -> bool:
    """Whether ``text`` holds a figure of a kind ``ask`` asks for."""
    return figure_at(ask, text) is not None


def figure_at(ask: Ask, text: str) -> int | None:
    """Where the first figure ``ask`` asks for starts in ``text``; ``None`` when none does.

    >>> figure_at(asked_figure("How heavy is it?"), "A 6 m boat weighing 1,200 kg")
    20
    """
    if ask.counted is not None:
        found = re.search(_count_pattern(ask.counted), text)
        return found.start() if found else None
    starts: list[int] = []
    for kind in ask.kinds:
        cue = _CUES.get(kind)
        if cue is not None and not cue.search(text):
            continue
        patterns = [_FIGURES[kind]] if kind in _FIGURES else []
        patterns += [_CURRENCY_FIRST] if kind == "price" else []
        patterns += [_YEAR] if kind == "year" else []
        starts += [m.start() for p in patterns if (m := p.search(text))]
    return min(starts, default=None)


def leans(ask: Ask, text: str) -> bool:
    """Whether ``text`` holds such a figure without the word that would make it sure ("1,000 kg"
    of a boat, not "weighs 16.8 kg")."""
    return ask.counted is None and bool(ask.kinds & _kinds_in(text)[1])


def _count_pattern(noun: str) -> str:
    """A number counting ``noun``: "182 cells", "up to five paired phones", "Cells: 182"."""
    word = rf"{re.escape(_root(noun))}\w*"
    return rf"{_NUMBER}\s+(?:[\w-]+\s+){{0,2}}(?i:{word})|(?i:\b{word})\W{{1,3}}{_DIGITS}"


def _root(noun: str) -> str:
    """``noun`` without a plural ending, to match either number: "batteries" → "batter"."""
    for ending in ("ies", "es", "s"):
        if noun.endswith(ending) and len(noun) > len(ending) + 2:
            return noun[: -len(ending)]
    return noun


def numbers(text: str) -> frozenset[str]:
    """The numbers ``text`` states, written the same way ("1,400" and "1400" are "1400"; "two"
    is "2"); digits inside names like "VB-24" are not numbers.

    >>> sorted(numbers("At 5 knots two VB-24 batteries last 1,400 minutes"))
    ['1400', '2', '5']
    """
    found: set[str] = set()
    for match in re.finditer(_STATED, text):
        value = match.group().lower().lstrip("+−-")
        value = _WRITTEN.get(value, value)
        value = re.sub(r",(?=\d{3}\b)", "", value).replace(",", ".")
        found.add(value)
    return frozenset(found)
