"""HTTP routes: chat (JSON and SSE), run replay and cancel, and conversations
(ops: graphwire.api.http.ops).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.websockets import WebSocket

from graphwire.api.auth import ANONYMOUS, User, extract_token
from graphwire.api.http.bodyjson import WireJSONRoute
from graphwire.api.http.sse import parse_last_event_id, to_event
from graphwire.api.intake import address_key, start_run
from graphwire.api.state import AppState, app_state
from graphwire.api.ws.connection import ChatConnection
from graphwire.transport.protocol import (
    EndEnvelope,
    ErrorCode,
    ErrorEnvelope,
    FinalEnvelope,
    Identifier,
    MaybeIdentifier,
    Multitask,
    Options,
    WireText,
)
from graphwire.transport.protocol.errors import (
    GraphwireError,
    NotFoundError,
    ShuttingDownError,
    describe_exception,
)
from graphwire.transport.runs.run import Run

__all__ = ["create_router"]


class ChatRequest(BaseModel):
    """Body of ``POST /api/v1/chat`` and ``POST /api/v1/chat/stream``."""

    model_config = ConfigDict(extra="forbid")

    message: WireText
    session_id: MaybeIdentifier = None
    run_id: MaybeIdentifier = None
    options: Options = Field(default_factory=dict)


class Problem(BaseModel):
    code: ErrorCode
    message: str


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem} for status in (401, 403, 404, 409, 413, 422, 429, 503)
}


def current_user(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    token: Annotated[
        str | None, Query(description="JWT, for clients that cannot set headers")
    ] = None,
) -> User:
    """The caller, from ``Authorization: Bearer`` or ``?token=``; anonymous when auth is off."""
    state = app_state(request)
    if not state.auth.enabled:
        return ANONYMOUS
    found = extract_token(authorization=authorization, query_token=token)
    if found is None:
        raise GraphwireError("a bearer token is required", code=ErrorCode.AUTH_REQUIRED)
    return state.auth.verify(found)


UserDep = Annotated[User, Depends(current_user)]


async def _start(state: AppState, user: User, body: ChatRequest, request: Request) -> Run:
    """Start the run a chat request asks for.

    HTTP has no connection, so its per-client rate limit is kept per user when authentication
    is on (users behind one proxy or NAT do not share it), and per client address when it is
    off (nothing else tells anonymous callers apart).
    """
    address = request.client.host if request.client else None
    return await start_run(
        state,
        user_id=user.id,
        client_key=f"user:{user.id}" if state.auth.enabled else address_key(address),
        address=address,
        message=body.message,
        session_id=body.session_id,
        run_id=body.run_id,
        options=body.options,
    )


def _stream(state: AppState, run: Run, after_seq: int) -> Response:
    """The run's envelopes after ``after_seq`` as SSE; refused up front if they are not kept."""
    if after_seq + 1 < run.first_seq:
        raise NotFoundError(
            f"run {run.run_id} no longer keeps envelopes after seq {after_seq}; "
            f"the oldest kept is {run.first_seq}"
        )
    if not run.active and after_seq >= run.last_seq:
        return Response(status_code=204)  # nothing left: tells EventSource to stop reconnecting

    sent = state.metrics.envelopes_sent

    async def events() -> AsyncIterator[ServerSentEvent]:
        try:
            async for envelope in run.follow(after_seq):
                sent["sse"] += 1
                yield to_event(envelope)
        except GraphwireError as exc:  # this reader fell behind the log's bound
            error = ErrorEnvelope(
                run_id=run.run_id, session_id=run.session_id, data=describe_exception(exc)
            )
            yield ServerSentEvent(data=error.to_json(), event="error")

    return EventSourceResponse(
        events(),
        ping=state.settings.ping_interval,
        send_timeout=state.settings.send_timeout,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _resumed(state: AppState, user: User, last_event_id: str | None) -> tuple[Run, int] | None:
    """The run and seq an ``EventSource`` reconnect names in ``Last-Event-ID``, if still kept."""
    if not last_event_id:
        return None
    run_id, _, _ = last_event_id.strip().rpartition(":")
    seq = parse_last_event_id(last_event_id, run_id=run_id)
    if seq is None:
        return None
    return state.registry.get(run_id, user_id=user.id), seq


async def chat_socket(websocket: WebSocket) -> None:
    """``/ws/chat``, mounted as a plain Starlette route: FastAPI's dependency machinery would add
    exit stacks to every open socket for nothing (this endpoint takes no dependencies)."""
    await ChatConnection(websocket, app_state(websocket)).serve()


def create_router() -> APIRouter:
    """Every HTTP route of the app (``/ws/chat`` is :func:`chat_socket`)."""
    router = APIRouter(route_class=WireJSONRoute)  # bodies read with the protocol's JSON limits

    @router.post("/api/v1/chat", responses=ERRORS, tags=["chat"])
    async def chat(body: ChatRequest, user: UserDep, request: Request) -> dict[str, Any]:
        """Ask and wait: the ``final`` data of the run, with its ``run_id`` and ``session_id``."""
        state = app_state(request)
        run = await _start(state, user, body, request)
        async for envelope in run.follow():
            if isinstance(envelope, FinalEnvelope):
                return {
                    "run_id": run.run_id,
                    "session_id": run.session_id,
                    **envelope.to_wire()["data"],
                }
            if isinstance(envelope, ErrorEnvelope):
                raise GraphwireError(
                    envelope.data.message,
                    code=envelope.data.code,
                    retryable=envelope.data.retryable,
                )
            if isinstance(envelope, EndEnvelope):
                break
        if state.registry.closing:
            raise ShuttingDownError("the server shut down before the run answered; ask again")
        raise GraphwireError(  # stopped by someone else: the conversation went another way
            "the run was stopped before it answered: it was cancelled, interrupted by a newer "
            "message, or its conversation was deleted",
            code=ErrorCode.BUSY,
            retryable=False,
        )

    @router.post("/api/v1/chat/stream", responses=ERRORS, tags=["chat"])
    async def chat_stream(body: ChatRequest, user: UserDep, request: Request) -> Response:
        """Ask and stream the run's envelopes as server-sent events."""
        state = app_state(request)
        return _stream(state, await _start(state, user, body, request), -1)

    @router.get("/api/v1/chat/stream", responses=ERRORS, tags=["chat"])
    async def chat_stream_get(
        user: UserDep,
        request: Request,
        message: Annotated[WireText, Query()],
        session_id: Annotated[MaybeIdentifier, Query()] = None,
        run_id: Annotated[MaybeIdentifier, Query()] = None,
        multitask: Annotated[Multitask, Query()] = "reject",
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> Response:
        """The same for ``EventSource``, which can only GET.

        ``EventSource`` reconnects to the same URL with ``Last-Event-ID``: that resumes the run
        it names instead of asking the question again.
        """
        state = app_state(request)
        resumed = _resumed(state, user, last_event_id)
        if resumed is not None:
            return _stream(state, *resumed)
        body = ChatRequest(
            message=message, session_id=session_id, run_id=run_id, options={"multitask": multitask}
        )
        return _stream(state, await _start(state, user, body, request), -1)

    @router.get("/api/v1/runs/{run_id}/stream", responses=ERRORS, tags=["runs"])
    async def run_stream(
        run_id: Identifier,
        user: UserDep,
        request: Request,
        after_seq: Annotated[int | None, Query(ge=-1)] = None,
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> Response:
        """Replay and follow a run; honours ``Last-Event-ID: <run_id>:<seq>``."""
        state = app_state(request)
        run = state.registry.get(run_id, user_id=user.id)
        resumed = parse_last_event_id(last_event_id, run_id=run_id)
        if last_event_id and resumed is None:
            raise GraphwireError(
                "Last-Event-ID must be '<run_id>:<seq>' for this run",
                code=ErrorCode.INVALID_MESSAGE,
            )
        start = resumed if resumed is not None else (after_seq if after_seq is not None else -1)
        return _stream(state, run, start)

    @router.post("/api/v1/runs/{run_id}/cancel", responses=ERRORS, tags=["runs"])
    async def cancel_run(run_id: Identifier, user: UserDep, request: Request) -> dict[str, Any]:
        """Stop a run; it ends with ``end`` ``cancelled`` (a finished run is left as it ended)."""
        run = await app_state(request).registry.cancel_for(user_id=user.id, run_id=run_id)
        return {"run_id": run.run_id, "session_id": run.session_id, "reason": run.end_reason}

    @router.get("/api/v1/sessions/{session_id}/messages", responses=ERRORS, tags=["sessions"])
    async def session_messages(
        session_id: Identifier, user: UserDep, request: Request
    ) -> dict[str, Any]:
        """The conversation so far: every run that has ended (a run is saved as it ends)."""
        state = app_state(request)
        if not await state.registry.sessions.check(session_id, user_id=user.id):
            raise GraphwireError(f"no conversation {session_id}", code=ErrorCode.NOT_FOUND)
        snapshot = await state.graph.aget_state({"configurable": {"thread_id": session_id}})
        messages = snapshot.values.get("messages", []) if snapshot else []
        return {"session_id": session_id, "messages": [_message(m) for m in messages]}

    @router.delete(
        "/api/v1/sessions/{session_id}/messages",
        status_code=204,
        responses=ERRORS,
        tags=["sessions"],
    )
    async def forget_session(session_id: Identifier, user: UserDep, request: Request) -> Response:
        """Forget the conversation: its runs stop and its history is deleted."""
        state = app_state(request)
        if not await state.registry.sessions.check(session_id, user_id=user.id):
            raise GraphwireError(f"no conversation {session_id}", code=ErrorCode.NOT_FOUND)
        await state.registry.forget_session(session_id, user_id=user.id)
        await state.graph.checkpointer.adelete_thread(session_id)
        return Response(status_code=204)

    return router


def _message(message: Any) -> dict[str, Any]:
    role: Literal["user", "assistant", "system"] = (
        "user" if message.type == "human" else "assistant" if message.type == "ai" else "system"
    )
    out: dict[str, Any] = {"id": message.id, "role": role, "content": message.text}
    if role == "assistant" and message.name:
        out["agent"] = message.name
    return out
