"""The graphwire.v1 wire protocol: every envelope and client frame, in one place.

Server, clients and tests import these types; nobody writes envelope dicts by hand.
``docs/protocol.md`` is the prose version of this module.

Example:
    >>> env = TextEnvelope(run_id="r_1", session_id="s_1", seq=3,
    ...                    data=TextData(delta="Hello", agent="specs"))
    >>> env.to_wire()["data"]
    {'delta': 'Hello', 'agent': 'specs'}
"""

from __future__ import annotations

import json
from enum import StrEnum
from functools import lru_cache
from json.encoder import encode_basestring as _quote
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter

from graphwire.transport.protocol.ids import ID_PATTERN, MAX_ID_CHARS, check_id
from graphwire.transport.protocol.wirejson import check_text, check_value

__all__ = [
    "PROTOCOL",
    "AuthFrame",
    "AuthSuccessData",
    "AuthSuccessEnvelope",
    "ClientFrame",
    "ConnectedData",
    "ConnectedEnvelope",
    "EndData",
    "EndEnvelope",
    "EndReason",
    "Envelope",
    "ErrorCode",
    "ErrorData",
    "ErrorEnvelope",
    "FinalData",
    "FinalEnvelope",
    "Identifier",
    "MaybeIdentifier",
    "MessageFrame",
    "Multitask",
    "Options",
    "PingFrame",
    "PongEnvelope",
    "ResumeFrame",
    "RunEnvelope",
    "Source",
    "SourcesData",
    "SourcesEnvelope",
    "StepName",
    "StepStatus",
    "StopFrame",
    "SubscribeFrame",
    "TextData",
    "TextEnvelope",
    "Timing",
    "UnsubscribeFrame",
    "Usage",
    "WireText",
    "WorkflowStepData",
    "WorkflowStepEnvelope",
    "parse_client_frame",
    "parse_envelope",
    "restore_envelope",
]

PROTOCOL = "graphwire.v1"

Multitask = Literal["reject", "interrupt", "enqueue"]
"""What a new question does while its conversation has a run: refused ``BUSY``, the running one
stopped first, or queued behind it (``options.multitask``, protocol section 5)."""

_M = TypeVar("_M", bound=BaseModel)


# BaseModel's three slots, set through their descriptors: object.__setattr__ would look each
# name up along the model's MRO first, four times per instance.
_SET_FIELDS_SET = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_SET_EXTRA = BaseModel.__dict__["__pydantic_extra__"].__set__
_SET_PRIVATE = BaseModel.__dict__["__pydantic_private__"].__set__


def _unvalidated(model: type[_M], values: dict[str, Any], fields_set: set[str]) -> _M:
    """An instance of ``model`` holding ``values`` as they are, set up as pydantic's own
    ``model_construct`` does (which is slower: it goes over every field in Python)."""
    instance = object.__new__(model)
    instance.__dict__.update(values)
    _SET_FIELDS_SET(instance, fields_set)
    _SET_EXTRA(instance, None)
    _SET_PRIVATE(instance, None)
    return instance


@lru_cache(maxsize=1024)
def _text_template(run_id: str, session_id: str, agent: str) -> tuple[str, str, str] | None:
    """The JSON of a run's ``text`` envelopes around its seq and delta (the same every token);
    None when an id or the agent is not ASCII (those take the validated path)."""
    if not (run_id.isascii() and session_id.isascii() and agent.isascii()):
        return None
    head = f'{{"type":"text","run_id":{_quote(run_id)},"session_id":{_quote(session_id)},"seq":'
    return head, ',"data":{"delta":', f',"agent":{_quote(agent)}}}}}'


class ErrorCode(StrEnum):
    """Every error code of section 7 of the protocol."""

    AUTH_REQUIRED = "AUTH_REQUIRED"
    AUTH_FAILED = "AUTH_FAILED"
    FORBIDDEN = "FORBIDDEN"
    INVALID_MESSAGE = "INVALID_MESSAGE"
    EMPTY_MESSAGE = "EMPTY_MESSAGE"
    MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"
    BUSY = "BUSY"
    RATE_LIMITED = "RATE_LIMITED"
    NOT_FOUND = "NOT_FOUND"
    MODEL_ERROR = "MODEL_ERROR"
    TIMEOUT = "TIMEOUT"
    PROCESSING_ERROR = "PROCESSING_ERROR"


StepName = Literal["classify", "retrieve", "generate"]
StepStatus = Literal["started", "completed", "failed"]
EndReason = Literal["complete", "error", "cancelled"]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- payloads


class Source(_Data):
    """A passage the answer is grounded on."""

    id: str
    title: str
    uri: str
    snippet: str
    score: float


class Usage(_Data):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    estimated: bool | None = None


class Timing(_Data):
    first_token_ms: float | None = None
    total_ms: float


class WorkflowStepData(_Data):
    step: StepName
    status: StepStatus
    label: str
    agent: str | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    count: int | None = None
    detail: str | None = None


class SourcesData(_Data):
    sources: list[Source]


class TextData(_Data):
    delta: str
    agent: str


class FinalData(_Data):
    text: str
    agent: str
    confidence: float = Field(ge=0.0, le=1.0)
    sources: list[Source]
    message_id: str
    model: str
    finish_reason: str
    usage: Usage
    timing: Timing


class ErrorData(_Data):
    code: ErrorCode
    message: str
    retryable: bool = False


class EndData(_Data):
    reason: EndReason


class ConnectedData(_Data):
    connection_id: str
    protocol: str = PROTOCOL
    auth_required: bool
    user: dict[str, Any] | None = None


class AuthSuccessData(_Data):
    user: dict[str, Any]


class EmptyData(_Data):
    pass


# --------------------------------------------------------------------------- envelopes


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str  # each envelope narrows it to its Literal; declared here so it is serialised first
    run_id: str | None = None
    session_id: str | None = None
    seq: int | None = Field(default=None, ge=0)

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict sent on the wire (absent optional payload fields are omitted)."""
        data = getattr(self, "data")  # noqa: B009 - every subclass declares data
        return {
            "type": getattr(self, "type"),  # noqa: B009
            "run_id": self.run_id,
            "session_id": self.session_id,
            "seq": self.seq,
            "data": data.model_dump(mode="json", exclude_none=True),
        }

    def to_json(self) -> str:
        """:meth:`to_wire` as compact one-line JSON: the same text on every transport.

        Envelopes are immutable, so the text is made once however many listeners a run has.
        It is kept in the instance ``__dict__`` (which pydantic's equality ignores), not in a
        ``functools.cached_property``: Python 3.11's takes a lock on every first access, and
        this runs once per token.
        """
        cached: str | None = self.__dict__.get("_json")
        if cached is None:
            if self.seq is not None:  # a run's envelope: every top-level field is set
                cached = self.model_dump_json(exclude_none=True)  # pydantic-core: the fast path
            else:
                cached = json.dumps(self.to_wire(), ensure_ascii=False, separators=(",", ":"))
            self.__dict__["_json"] = cached
        return cached


class WorkflowStepEnvelope(_Envelope):
    type: Literal["workflow_step"] = "workflow_step"
    data: WorkflowStepData


class SourcesEnvelope(_Envelope):
    type: Literal["sources"] = "sources"
    data: SourcesData


class TextEnvelope(_Envelope):
    type: Literal["text"] = "text"
    data: TextData

    @classmethod
    def streamed(cls, *, run_id: str, session_id: str, seq: int, delta: str, agent: str) -> Self:
        """A run's ``text`` envelope from values already of their types (the transformer's).

        This is the one envelope made per token, so it skips what the other constructors do
        for untrusted input: no validation, and its JSON comes from a template rather than the
        serializer, byte for byte what :meth:`to_json` would give (escapes included). Text with
        non-ASCII characters takes the validated path, which also refuses what UTF-8 cannot
        carry (a lone surrogate).
        """
        template = _text_template(run_id, session_id, agent) if delta.isascii() else None
        if template is None:
            data = TextData(delta=delta, agent=agent)
            return cls(run_id=run_id, session_id=session_id, seq=seq, data=data)
        head, middle, tail = template
        text = _unvalidated(TextData, {"delta": delta, "agent": agent}, {"delta", "agent"})
        wire = f"{head}{seq}{middle}{_quote(delta)}{tail}"
        values = {"type": "text", "run_id": run_id, "session_id": session_id, "seq": seq,
                  "data": text, "_json": wire}  # fmt: skip
        return _unvalidated(cls, values, {"run_id", "session_id", "seq", "data"})


class FinalEnvelope(_Envelope):
    type: Literal["final"] = "final"
    data: FinalData


class ErrorEnvelope(_Envelope):
    type: Literal["error"] = "error"
    data: ErrorData


class EndEnvelope(_Envelope):
    type: Literal["end"] = "end"
    data: EndData


class ConnectedEnvelope(_Envelope):
    type: Literal["connected"] = "connected"
    data: ConnectedData


class AuthSuccessEnvelope(_Envelope):
    type: Literal["auth_success"] = "auth_success"
    data: AuthSuccessData


class PongEnvelope(_Envelope):
    type: Literal["pong"] = "pong"
    data: EmptyData = EmptyData()


Envelope = Annotated[
    WorkflowStepEnvelope
    | SourcesEnvelope
    | TextEnvelope
    | FinalEnvelope
    | ErrorEnvelope
    | EndEnvelope
    | ConnectedEnvelope
    | AuthSuccessEnvelope
    | PongEnvelope,
    Field(discriminator="type"),
]
RunEnvelope = (
    WorkflowStepEnvelope
    | SourcesEnvelope
    | TextEnvelope
    | FinalEnvelope
    | ErrorEnvelope
    | EndEnvelope
)

# --------------------------------------------------------------------------- client frames

Identifier = Annotated[
    str,
    AfterValidator(check_id),  # the one check; the schema below only documents it
    Field(json_schema_extra={"pattern": ID_PATTERN, "minLength": 1, "maxLength": MAX_ID_CHARS}),
]
"""A client-chosen ``session_id`` or ``run_id`` (:mod:`graphwire.transport.protocol.ids` says what
it may be).
"""

MaybeIdentifier = Annotated[Identifier | None, BeforeValidator(lambda v: None if v == "" else v)]
"""An optional id; an empty string (an empty form field, say) counts as none."""

WireText = Annotated[str, AfterValidator(check_text)]
"""Text from a client: any string UTF-8 can carry (no lone surrogate)."""

Options = Annotated[dict[str, Any], AfterValidator(check_value)]


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthFrame(_Frame):
    type: Literal["auth"] = "auth"
    token: WireText


class MessageFrame(_Frame):
    type: Literal["message"] = "message"
    message: WireText
    session_id: MaybeIdentifier = None
    run_id: MaybeIdentifier = None
    options: Options = Field(default_factory=dict)


class StopFrame(_Frame):
    type: Literal["stop"] = "stop"
    run_id: MaybeIdentifier = None


class ResumeFrame(_Frame):
    type: Literal["resume"] = "resume"
    run_id: Identifier
    after_seq: int = Field(ge=-1)


class SubscribeFrame(_Frame):
    type: Literal["subscribe"] = "subscribe"
    session_id: Identifier


class UnsubscribeFrame(_Frame):
    type: Literal["unsubscribe"] = "unsubscribe"
    session_id: Identifier


class PingFrame(_Frame):
    type: Literal["ping"] = "ping"


ClientFrame = Annotated[
    AuthFrame
    | MessageFrame
    | StopFrame
    | ResumeFrame
    | SubscribeFrame
    | UnsubscribeFrame
    | PingFrame,
    Field(discriminator="type"),
]

_ENVELOPES: TypeAdapter[Envelope] = TypeAdapter(Envelope)
_FRAMES: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)
_RUN_ENVELOPES: TypeAdapter[RunEnvelope] = TypeAdapter(
    Annotated[RunEnvelope, Field(discriminator="type")]
)


def parse_envelope(raw: str | bytes | dict[str, Any]) -> Envelope:
    """Parse one server envelope (JSON text or dict); raises ``pydantic.ValidationError``."""
    if isinstance(raw, dict):
        return _ENVELOPES.validate_python(raw)
    return _ENVELOPES.validate_json(raw)


def restore_envelope(text: str) -> RunEnvelope:
    """A run's envelope back from the exact text its :meth:`~_Envelope.to_json` gave (a stored log).

    The text is kept as the envelope's JSON, so sending it again costs no re-encoding.
    """
    envelope = _RUN_ENVELOPES.validate_json(text)
    envelope.__dict__["_json"] = text
    return envelope


def parse_client_frame(raw: str | bytes | dict[str, Any]) -> ClientFrame:
    """Parse one client frame (JSON text or dict); raises ``pydantic.ValidationError``."""
    if isinstance(raw, dict):
        return _FRAMES.validate_python(raw)
    return _FRAMES.validate_json(raw)
