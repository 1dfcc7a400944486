"""Reading a client's WebSocket frame: size, UTF-8, JSON, then the protocol's frame models.

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
    INVALID_MESSAGE - unknown frame type; expected auth, message, stop, resume, subscribe or ping
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from transport.errors import GraphwireError
from transport.protocol import ClientFrame, ErrorCode, parse_client_frame

__all__ = ["FrameRefused", "frame_ids", "read_frame"]

_NO_TYPE = "a frame must be a JSON object with a 'type'"


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
    size = len(text.encode("utf-8")) if text is not None else len(data)
    if size > max_bytes:
        raise FrameRefused(
            GraphwireError(
                f"a frame of {size} bytes is over the {max_bytes}-byte limit",
                code=ErrorCode.MESSAGE_TOO_LARGE,
            )
        )
    try:
        decoded = json.loads(text if text is not None else data.decode("utf-8"))
    except UnicodeDecodeError:
        raise _invalid("a frame must be UTF-8 JSON") from None
    except json.JSONDecodeError:
        raise _invalid("a frame must be a JSON object") from None
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
    run_id, session_id = decoded.get("run_id"), decoded.get("session_id")
    return (
        run_id if isinstance(run_id, str) else None,
        session_id if isinstance(session_id, str) else None,
    )


def _explain(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid frame"
    first = errors[0]
    if first["type"] == "union_tag_invalid":
        return "unknown frame type; expected auth, message, stop, resume, subscribe or ping"
    if first["type"] in ("union_tag_not_found", "model_attributes_type"):
        return _NO_TYPE
    where = ".".join(str(p) for p in first["loc"][1:])  # loc[0] is the frame type
    return f"invalid frame: {where}: {first['msg']}" if where else f"invalid frame: {first['msg']}"
