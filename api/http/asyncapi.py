"""The AsyncAPI 3.0.0 description of the WebSocket API (``/ws/chat``), built from the protocol.

Every message payload and every schema under ``components.schemas`` is generated from the pydantic
models of :mod:`graphwire.transport.protocol`, so the document cannot drift from the code. The
document describes the *server*: in AsyncAPI 3 an operation's ``action`` is what the described
application does, so the envelopes clients receive are the server's ``send`` operation
(``receiveEnvelopes``) and the frames clients send are its ``receive`` operation (``sendFrames``).
``docs/protocol.md`` is the prose for people writing clients.

Example:
    >>> doc = build_asyncapi(server_url="wss://chat.example.com")
    >>> doc["asyncapi"], doc["servers"]["graphwire"]["host"], doc["channels"]["chat"]["address"]
    ('3.0.0', 'chat.example.com', '/ws/chat')
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel

from graphwire.transport.protocol import (
    PROTOCOL,
    AuthFrame,
    AuthSuccessData,
    AuthSuccessEnvelope,
    ClientFrame,
    ConnectedData,
    ConnectedEnvelope,
    EndData,
    EndEnvelope,
    Envelope,
    ErrorCode,
    ErrorData,
    ErrorEnvelope,
    FinalData,
    FinalEnvelope,
    MessageFrame,
    PingFrame,
    PongEnvelope,
    ResumeFrame,
    Source,
    SourcesData,
    SourcesEnvelope,
    StopFrame,
    SubscribeFrame,
    TextData,
    TextEnvelope,
    Timing,
    UnsubscribeFrame,
    Usage,
    WorkflowStepData,
    WorkflowStepEnvelope,
)

__all__ = ["ASYNCAPI_VERSION", "CHANNEL_ADDRESS", "build_asyncapi"]

ASYNCAPI_VERSION = "3.0.0"
CHANNEL_ADDRESS = "/ws/chat"
_CHANNEL = "chat"
_SCHEMA_REF = "#/components/schemas/{model}"
_SCHEMES = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}

_INFO = f"""\
The `{PROTOCOL}` protocol over WebSocket: one JSON object per text frame in each direction.

A *run* is one question and its answer. Its envelopes carry `run_id`, `session_id` and a `seq`
that counts from 0 with no gap: `workflow_step`s as the graph moves, one `sources` before the first
`text`, `text` deltas of the answering agent, exactly one of `final` or `error` (neither after a
stop), then exactly one `end`, always last. A frame refused before a run starts gets one `error`
with `seq: null` and no `end`. `connected`, `auth_success` and `pong` belong to the connection and
carry `run_id`, `session_id` and `seq` as null.

The project's `docs/protocol.md` describes every rule, close code and error code."""

_CHANNEL_DESCRIPTION = """\
The chat socket. A JSON Web Token may be given as the `token` query parameter, as an
`Authorization: Bearer` header, or in an `auth` frame. Handshakes from an `Origin` other than the
server's own that is not in `GRAPHWIRE_ALLOWED_ORIGINS` are refused with HTTP 403.

Close codes: 1000 idle timeout; 1008 policy (no `auth` in time, token expired, or a client too slow
to read); 1009 frame above the size limit; 1012 server restart (every live run ends with `end`
first); 1013 too many connections."""

_SECURITY_SCHEMES: dict[str, Any] = {
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "`Authorization: Bearer <JWT>` on the handshake; needed only when the "
        "server has a JWT key configured. An `auth` frame is the in-band alternative.",
    },
    "queryToken": {
        "type": "httpApiKey",
        "name": "token",
        "in": "query",
        "description": "`?token=<JWT>` on the handshake URL (for browsers, which cannot set "
        "headers on a WebSocket); needed only when the server has a JWT key configured.",
    },
}

_CHANNEL_BINDING: dict[str, Any] = {
    "method": "GET",
    "query": {
        "type": "object",
        "properties": {"token": {"type": "string", "description": "a JWT (optional)"}},
    },
    "headers": {
        "type": "object",
        "properties": {
            "Authorization": {"type": "string", "pattern": "^Bearer ", "description": "a JWT"}
        },
    },
    "bindingVersion": "0.1.0",
}


def _members(union: Any) -> tuple[type[BaseModel], ...]:
    """The models of an ``Annotated[A | B | …, Field(discriminator="type")]`` union."""
    return typing.get_args(typing.get_args(union)[0])


def _wire_type(model: type[BaseModel]) -> str:
    return str(model.model_fields["type"].default)


def _package_version() -> str:
    try:
        return version("graphwire")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0.0.0+unknown"


def _server(server_url: str) -> dict[str, Any]:
    parts = urlsplit(server_url)
    protocol = _SCHEMES.get(parts.scheme)
    if protocol is None or not parts.netloc:
        raise ValueError(
            f"server_url must be a ws://, wss://, http:// or https:// URL: {server_url!r}"
        )
    server: dict[str, Any] = {
        "host": parts.netloc,
        "protocol": protocol,
        "title": "graphwire",
        "description": "The graphwire server; the chat socket is at "
        f"`{protocol}://{parts.netloc}{parts.path.rstrip('/')}{CHANNEL_ADDRESS}`.",
        "security": [
            {"$ref": f"#/components/securitySchemes/{name}"} for name in _SECURITY_SCHEMES
        ],
    }
    if parts.path.rstrip("/"):
        server["pathname"] = parts.path.rstrip("/")
    return server


def _collect_schemas(
    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]],
) -> dict[str, Any]:
    """Every model's JSON Schema and its ``$defs``, flattened into one ``components.schemas``."""
    schemas: dict[str, Any] = {}
    for model, mode in models:
        schema = model.model_json_schema(ref_template=_SCHEMA_REF, mode=mode)
        defs: dict[str, Any] = schema.pop("$defs", {})
        for name, sub in [*defs.items(), (model.__name__, schema)]:
            if schemas.setdefault(name, sub) != sub:
                raise ValueError(f"two different schemas are both named {name!r}")
    return dict(sorted(schemas.items()))


_SUMMARIES = {
    "workflow_step": "The graph moved: a step started, completed or failed.",
    "sources": "The passages the answer is grounded on; once, before the first text.",
    "text": "New answer text (a delta, never the accumulated text) from the answering agent.",
    "final": "The whole answer and its metadata; only `end` follows it.",
    "error": "The run failed (`end` follows), or a frame was refused (`seq` null, no `end`).",
    "end": "The run is over (`complete`, `error` or `cancelled`); always its last message.",
    "connected": "The first message on every connection.",
    "auth_success": "The token of an `auth` frame was accepted.",
    "pong": "The answer to a `ping`.",
    "auth": "Authenticate this connection with a JWT.",
    "message": "Ask a question: start a run.",
    "stop": "Stop one run, or every run this connection started.",
    "resume": "Replay a run's envelopes after `after_seq`, then follow it live.",
    "subscribe": "Receive every run of a conversation, whichever connection started it.",
    "unsubscribe": "Stop receiving the new runs of a conversation this connection subscribed to.",
    "ping": "Ask for a `pong`.",
}


def _examples() -> dict[str, BaseModel]:
    """One example per wire type, from the demo domain (the Tidewell Voltra 6 outboard)."""
    run_id, session_id = "r_Vq3xT9kLm2PzA7cD", "s_8HnKw4RtYb1QeF6u"
    run = {"run_id": run_id, "session_id": session_id}
    source = Source(
        id="specs/battery-vb24#0",
        title="VB-24 Battery Specifications › Overview",
        uri="docs/specs/battery-vb24.md#overview",
        snippet="The VB-24 battery has a capacity of 2.4 kWh (2,400 Wh)…",
        score=3.8528,
    )
    final = FinalData(
        text="The VB-24 battery has a capacity of 2.4 kWh. [specs/battery-vb24#0]",
        agent="specs",
        confidence=0.62,
        sources=[source],
        message_id="lc_run--01a2f4c9-7d3e-7b21-9c55-3f0e8a6d1b47",
        model="graphwire-offline",
        finish_reason="stop",
        usage=Usage(input_tokens=412, output_tokens=14, total_tokens=426),
        timing=Timing(first_token_ms=21.4, total_ms=318.0),
    )
    label = "Routed to specs (62%)"
    routed = WorkflowStepData(
        step="classify", status="completed", label=label, agent="specs", confidence=0.62
    )
    failed = ErrorData(
        code=ErrorCode.MODEL_ERROR,
        message="The language model is unavailable right now; try again shortly.",
        retryable=True,
    )
    question = "What is the capacity of the VB-24 battery?"
    return {
        "workflow_step": WorkflowStepEnvelope(**run, seq=1, data=routed),
        "sources": SourcesEnvelope(**run, seq=4, data=SourcesData(sources=[source])),
        "text": TextEnvelope(**run, seq=6, data=TextData(delta="The VB-24 ", agent="specs")),
        "final": FinalEnvelope(**run, seq=13, data=final),
        "error": ErrorEnvelope(**run, seq=6, data=failed),
        "end": EndEnvelope(**run, seq=14, data=EndData(reason="complete")),
        "connected": ConnectedEnvelope(
            data=ConnectedData(connection_id="c_Jd82kLq0ZxV5nT3w", auth_required=True)
        ),
        "auth_success": AuthSuccessEnvelope(
            data=AuthSuccessData(user={"id": "alice", "name": "Alice Marin"})
        ),
        "pong": PongEnvelope(),
        "auth": AuthFrame(token="eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"),
        "message": MessageFrame(
            message=question,
            session_id=session_id,
            run_id=run_id,
            options={"multitask": "enqueue"},
        ),
        "stop": StopFrame(run_id=run_id),
        "resume": ResumeFrame(run_id=run_id, after_seq=5),
        "subscribe": SubscribeFrame(session_id=session_id),
        "unsubscribe": UnsubscribeFrame(session_id=session_id),
        "ping": PingFrame(),
    }


def _wire(example: BaseModel) -> dict[str, Any]:
    """What the example looks like on the wire (envelopes know it: ``to_wire``)."""
    to_wire: Callable[[], dict[str, Any]] | None = getattr(example, "to_wire", None)
    return to_wire() if to_wire else example.model_dump(mode="json", exclude_none=True)


def _message(model: type[BaseModel], example: BaseModel | None) -> dict[str, Any]:
    wire_type = _wire_type(model)
    message: dict[str, Any] = {
        "name": wire_type,
        "title": model.__name__,
        "summary": _SUMMARIES.get(wire_type, model.__doc__ or wire_type),
        "contentType": "application/json",
        "payload": {"$ref": _SCHEMA_REF.format(model=model.__name__)},
    }
    if example is not None:
        message["examples"] = [{"name": wire_type, "payload": _wire(example)}]
    return message


def _operation(
    action: Literal["send", "receive"], models: tuple[type[BaseModel], ...], summary: str
) -> dict[str, Any]:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{_CHANNEL}"},
        "summary": summary,
        "messages": [{"$ref": f"#/channels/{_CHANNEL}/messages/{m.__name__}"} for m in models],
    }


def build_asyncapi(*, server_url: str = "ws://127.0.0.1:8000") -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of the WebSocket API, as a JSON-ready dict.

    Pure and deterministic: the same ``server_url`` gives an equal document. ``server_url`` is the
    server's base URL (``ws``/``wss``; ``http``/``https`` are mapped to them); a path in it becomes
    the server's ``pathname``. Raises ``ValueError`` for any other URL.

    >>> build_asyncapi()["operations"]["receiveEnvelopes"]["action"]
    'send'
    """
    envelopes, frames = _members(Envelope), _members(ClientFrame)
    models = [*envelopes, *frames]
    examples = _examples()
    messages = {m.__name__: _message(m, examples.get(_wire_type(m))) for m in models}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "graphwire",
            "version": _package_version(),
            "description": _INFO,
            "x-graphwire-protocol": PROTOCOL,
        },
        "defaultContentType": "application/json",
        "servers": {"graphwire": _server(server_url)},
        "channels": {
            _CHANNEL: {
                "address": CHANNEL_ADDRESS,
                "title": "Chat",
                "description": _CHANNEL_DESCRIPTION,
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
                "bindings": {"ws": copy.deepcopy(_CHANNEL_BINDING)},
            }
        },
        "operations": {
            "receiveEnvelopes": _operation(
                "send", envelopes, "The server sends envelopes; clients receive them."
            ),
            "sendFrames": _operation(
                "receive", frames, "Clients send frames; the server receives them."
            ),
        },
        "components": {
            "schemas": _collect_schemas(
                [(m, "serialization") for m in envelopes] + [(m, "validation") for m in frames]
            ),
            "messages": messages,
            "securitySchemes": copy.deepcopy(_SECURITY_SCHEMES),
        },
    }
