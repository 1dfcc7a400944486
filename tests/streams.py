"""Recording and replaying ``astream_events`` streams as JSON (for transformer tests).

Only what the transformer may read is kept: event, name, tags, metadata, parent ids, and the
data's chunk / output / input, with LangChain messages and documents in a tagged form.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict
from langchain_core.messages.ai import AIMessageChunk

STREAMS = Path(__file__).parent / "fixtures" / "streams"


def _dump(value: Any) -> Any:
    if isinstance(value, AIMessageChunk):
        return {"__chunk__": value.model_dump(mode="json")}
    if isinstance(value, BaseMessage):
        return {"__message__": message_to_dict(value)}
    if isinstance(value, Document):
        return {"__document__": {"page_content": value.page_content, "metadata": value.metadata}}
    if isinstance(value, Mapping):
        return {str(k): _dump(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_dump(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


def _load(value: Any) -> Any:
    if isinstance(value, dict):
        if "__chunk__" in value:
            return AIMessageChunk.model_validate(value["__chunk__"])
        if "__message__" in value:
            return messages_from_dict([value["__message__"]])[0]
        if "__document__" in value:
            return Document(**value["__document__"])
        return {k: _load(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_load(v) for v in value]
    return value


def dump_events(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    keep = ("event", "name", "tags", "metadata", "parent_ids", "data", "run_id")
    return [_dump({k: e[k] for k in keep if k in e}) for e in events]


def save_stream(
    name: str, events: Iterable[Mapping[str, Any]], *, raises: str | None = None
) -> Path:
    path = STREAMS / f"{name}.json"
    payload = {"raises": raises, "events": dump_events(events)}
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load_stream(name: str) -> tuple[list[dict[str, Any]], str | None]:
    """The recorded events and the name of the exception the stream ended with (or None)."""
    payload = json.loads((STREAMS / f"{name}.json").read_text(encoding="utf-8"))
    return [_load(e) for e in payload["events"]], payload["raises"]


async def replay(
    events: list[dict[str, Any]], *, error: BaseException | None = None
) -> AsyncIterator[dict[str, Any]]:
    """An async generator over recorded events that raises ``error`` at the end, if given."""
    for event in events:
        yield event
    if error is not None:
        raise error
