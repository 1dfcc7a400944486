"""Reading JSON a client sent: the standard library's parser, with the limits the protocol sets.

Every client frame and HTTP request body goes through :func:`read_json`. It refuses, with a
:class:`JSONRefused` that says why (never echoing the input), what would otherwise crash or
poison the server further on:

* nesting deeper than :data:`MAX_DEPTH` (``json`` recurses, and 5,000 levels fit in 10 KB);
* numbers longer than :data:`MAX_NUMBER_CHARS` (``int()`` refuses past 4,300 digits, and
  converting long ones costs quadratic time), ``NaN`` and ``Infinity``;
* text that UTF-8 cannot carry: invalid bytes, or a lone surrogate written as ``"\\ud800"``,
  which parses fine and then fails wherever the string is encoded again (a log, the SQLite
  store, the reply that names it).

Pure: no I/O, no state.

Example:
    >>> read_json('{"type": "ping", "n": [1, 2.5]}')
    {'type': 'ping', 'n': [1, 2.5]}
    >>> read_json('"\\\\ud800"')
    Traceback (most recent call last):
    graphwire.transport.protocol.wirejson.JSONRefused: text must be valid Unicode: a lone surrogate (\\ud800-\\udfff) cannot be encoded
"""  # noqa: E501

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_NUMBER_CHARS", "JSONRefused", "check_text", "check_value", "read_json"]

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted (a frame needs 3)."""

MAX_NUMBER_CHARS = 40
"""Longest number accepted, in characters (an int64 has 19 digits)."""

_SURROGATE = "text must be valid Unicode: a lone surrogate (\\ud800-\\udfff) cannot be encoded"


class JSONRefused(ValueError):
    """The input is not JSON the protocol accepts; the message says why, for a person.

    ``kind`` is ``"syntax"`` (not JSON at all), ``"encoding"`` (not UTF-8) or ``"limit"``
    (JSON, but past one of this module's limits).
    """

    def __init__(self, message: str, *, kind: str = "limit") -> None:
        super().__init__(message)
        self.kind = kind


def read_json(data: str | bytes | bytearray) -> Any:
    """The value of the JSON document ``data``, within the limits; else :class:`JSONRefused`."""
    if isinstance(data, bytes | bytearray):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise JSONRefused("JSON must be encoded as UTF-8", kind="encoding") from None
    else:
        text = data
    try:
        value = json.loads(
            text, parse_int=_int, parse_float=_float, parse_constant=_refuse_constant
        )
    except JSONRefused:
        raise
    except RecursionError:
        raise JSONRefused(f"JSON is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # json.JSONDecodeError is one
        raise JSONRefused("not valid JSON", kind="syntax") from None
    check_value(value)
    return value


def check_text(text: str) -> str:
    """``text`` if UTF-8 can carry it; else :class:`JSONRefused` (for pydantic validators too).

    >>> check_text("Grüße")
    'Grüße'
    """
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise JSONRefused(_SURROGATE) from None
    return text


def check_value(value: Any) -> Any:
    """``value`` (parsed JSON) if its depth and text are within the limits; else
    :class:`JSONRefused`. Walks without recursion: the value may be deep.

    >>> check_value({"multitask": "enqueue"})
    {'multitask': 'enqueue'}
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            check_text(item)
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise JSONRefused(f"JSON is nested deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                for key in item:
                    check_text(key)
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)
    return value


def _int(digits: str) -> int:
    if len(digits) > MAX_NUMBER_CHARS:
        raise JSONRefused(f"a number is longer than {MAX_NUMBER_CHARS} characters")
    return int(digits)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise JSONRefused(f"a number is longer than {MAX_NUMBER_CHARS} characters")
    number = float(text)
    if not math.isfinite(number):
        raise JSONRefused("a number is too large")
    return number


def _refuse_constant(name: str) -> Any:
    raise JSONRefused(f"{name} is not a JSON number")
