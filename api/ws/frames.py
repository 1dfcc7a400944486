"""Reading a client's WebSocket frame: size, JSON within limits, then the protocol's frame models.

The JSON is read by :func:`graphwire.transport.protocol.wirejson.read_json`, which refuses invalid UTF-8, lone
surrogates, deep nesting and overlong numbers, so nothing a frame carries can fail to encode
again further on (in a log, the store, the ``error`` that names its ids).

Pure: no socket, no state. A frame that cannot be read raises :class:`FrameRefused` with the
error to send (``MESSAGE_TOO_LARGE`` or ``INVALID_MESSAGE``) and whatever ``run_id`` and
``session_id`` the frame did carry, so the ``error`` envelope can name them; the connection
stays open.

Example:
    >>> read_frame({"text": '{"type": "ping"}'}, max_bytes=65536).type
    'ping'
    >>> try:
    ...     read_frame({"bytes": b'{"type": "nap"}'}, max_bytes=65536)
    ... except FrameRefused as refused:
    ...     print(refused.error.code.value, "-", refused)
    INVALID_MESSAGE - unknown frame type; expected auth, message, stop, resume, subscribe, unsubscribe or ping
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from graphwire.transport.protocol import ClientFrame, ErrorCode, parse_client_frame
from graphwire.transport.protocol.errors import GraphwireError
from graphwire.transport.protocol.ids import is_valid_id
from graphwire.transport.protocol.wirejson import JSONRefused, read_json

__all__ = ["FrameRefused", "frame_ids", "read_frame"]

_NO_TYPE = "a frame must be a JSON object with a 'type'"
_JSON_PROBLEMS = {
    "syntax": "a frame must be a JSON object",
    "encoding": "a frame must be UTF-8 JSON",
}


class FrameRefused(Exception):
    """A frame refused before any run started: one ``error`` envelope, the socket stays open."""

    def __init__(
        self, error: GraphwireError, *, run_id: str | None = None, session_id: str | None = None
    ) -> None:
        super().__init__(error.message)
        self.error, self.run_id, self.session_id = error, run_id, session_id


def read_frame(message: Mapping[str, Any], *, max_bytes: int) -> ClientFrame:
    """The client frame in an ASGI ``websocket.receive`` message (``text`` or ``bytes``)."""
    text: str | None = message.get("text")
    data: bytes = (message.get("bytes") or b"") if text is None else b""
    # (surrogatepass: a lone surrogate counts as UTF-8 would write it; read_json refuses it)
    size = len(text.encode("utf-8", "surrogatepass")) if text is not None else len(data)
    if size > max_bytes:
        raise FrameRefused(
            GraphwireError(
                f"a frame of {size} bytes is over the {max_bytes}-byte limit",
                code=ErrorCode.MESSAGE_TOO_LARGE,
            )
        )
    try:
        decoded = read_json(text if text is not None else data)
    except JSONRefused as exc:
        raise _invalid(_JSON_PROBLEMS.get(exc.kind) or f"invalid frame: {exc}") from None
    if not isinstance(decoded, dict):
        raise _invalid(_NO_TYPE)
    run_id, session_id = _ids(decoded)
    try:
        return parse_client_frame(decoded)
    except ValidationError as exc:
        raise _invalid(_explain(exc), run_id=run_id, session_id=session_id) from None


def frame_ids(frame: ClientFrame) -> tuple[str | None, str | None]:
    """The ``run_id`` and ``session_id`` a frame names, for the error a refusal sends."""
    return getattr(frame, "run_id", None), getattr(frame, "session_id", None)


def _invalid(
    message: str, *, run_id: str | None = None, session_id: str | None = None
) -> FrameRefused:
    error = GraphwireError(message, code=ErrorCode.INVALID_MESSAGE)
    return FrameRefused(error, run_id=run_id, session_id=session_id)


def _ids(decoded: dict[str, Any]) -> tuple[str | None, str | None]:
    """The frame's ids, for the refusal to name; only ids a client may choose are echoed."""
    run_id, session_id = decoded.get("run_id"), decoded.get("session_id")
    return (
        run_id if is_valid_id(run_id) else None,
        session_id if is_valid_id(session_id) else None,
    )


def _explain(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid frame"
    first = errors[0]
    if first["type"] == "union_tag_invalid":
        return (
            "unknown frame type; expected auth, message, stop, resume, subscribe, unsubscribe "
            "or ping"
        )
    if first["type"] in ("union_tag_not_found", "model_attributes_type"):
        return _NO_TYPE
    where = ".".join(str(p) for p in first["loc"][1:])  # loc[0] is the frame type
    message = first["msg"].removeprefix("Value error, ")
    return f"invalid frame: {where}: {message}" if where else f"invalid frame: {message}"
