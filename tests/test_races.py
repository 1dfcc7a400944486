"""Claiming a conversation and a run id is atomic: two starts at the same moment never both run.

The registry tests race two ``start`` calls in one event loop (the store lookup of a new
conversation's owner awaits, which is where the old code let both through); the server tests
race a WebSocket and an HTTP client, of two users and of one, against a real uvicorn. Both use
a SQLite file (``:memory:`` is LangGraph's in-memory saver, whose lookups never await).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from graphwire.agents import DomainPack
from graphwire.api.tokens import mint_token
from graphwire.graph import build_graph, open_checkpointer
from graphwire.transport.protocol import ErrorCode
from graphwire.transport.protocol.errors import GraphwireError
from graphwire.transport.runs.registry import RunRegistry
from graphwire.transport.runs.run import Run
from tests.fakes import ProbedOfflineModel, StreamProbe
from tests.server import running, server_settings

Q = "What does error F3 mean?"
SECRET = "r" * 32
TRIALS = 10


async def _both(*starts: Any) -> list[Run | GraphwireError]:
    """Each start's run, or the error it was refused with."""
    results = await asyncio.gather(*starts, return_exceptions=True)
    for result in results:
        if not isinstance(result, Run | GraphwireError):
            raise result
    return list(results)


async def test_two_users_racing_for_a_new_conversation_one_owns_it(
    minipack: DomainPack, tmp_path: Path
) -> None:
    async with open_checkpointer(str(tmp_path / "c.sqlite")) as saver:
        model = ProbedOfflineModel(probe=StreamProbe(), token_delay=0.01)
        registry = RunRegistry(build_graph(pack=minipack, model=model, checkpointer=saver))
        for trial in range(TRIALS):
            session_id = f"s_race_{trial}"
            results = await _both(
                registry.start(question="alice asks", user_id="alice", session_id=session_id),
                registry.start(question="bob asks", user_id="bob", session_id=session_id),
            )
            runs = [r for r in results if isinstance(r, Run)]
            refused = [r for r in results if isinstance(r, GraphwireError)]
            assert len(runs) == 1 and len(refused) == 1, results
            assert refused[0].code is ErrorCode.FORBIDDEN
            winner = runs[0]
            await winner.done.wait()
            loser = "bob" if winner.user_id == "alice" else "alice"
            assert await registry.sessions.check(session_id, user_id=winner.user_id)
            with pytest.raises(GraphwireError) as denied:
                await registry.sessions.check(session_id, user_id=loser)
            assert denied.value.code is ErrorCode.FORBIDDEN


async def test_one_user_racing_twice_for_a_new_conversation_gets_busy(
    minipack: DomainPack, tmp_path: Path
) -> None:
    async with open_checkpointer(str(tmp_path / "c.sqlite")) as saver:
        model = ProbedOfflineModel(probe=StreamProbe(), token_delay=0.01)
        graph = build_graph(pack=minipack, model=model, checkpointer=saver)
        registry = RunRegistry(graph)
        for trial in range(TRIALS):
            session_id = f"s_twice_{trial}"
            results = await _both(
                registry.start(question=Q, user_id="alice", session_id=session_id),
                registry.start(question=Q, user_id="alice", session_id=session_id),
            )
            runs = [r for r in results if isinstance(r, Run)]
            assert len(runs) == 1, results
            assert [r.code for r in results if isinstance(r, GraphwireError)] == [ErrorCode.BUSY]
            await runs[0].done.wait()
            state = await graph.aget_state({"configurable": {"thread_id": session_id}})
            assert [m.type for m in state.values["messages"]] == ["human", "ai"]


async def test_two_interrupting_messages_at_once_leave_one_run(minipack: DomainPack) -> None:
    model = ProbedOfflineModel(probe=StreamProbe(), token_delay=0.02)
    registry = RunRegistry(build_graph(pack=minipack, model=model))
    first = await registry.start(question=Q, user_id="alice", session_id="s_int")
    results = await _both(
        *(
            registry.start(question=Q, user_id="alice", session_id="s_int", multitask="interrupt")
            for _ in range(2)
        )
    )
    assert all(isinstance(r, Run) for r in results)
    assert first.end_reason == "cancelled"
    assert len(registry.sessions.active_runs("s_int")) == 1  # the later interrupted the earlier
    await registry.close()


@pytest.mark.parametrize("second_user", ["alice", "bob"])
async def test_a_client_chosen_run_id_goes_to_one_run(
    minipack: DomainPack, second_user: str, tmp_path: Path
) -> None:
    async with open_checkpointer(str(tmp_path / "c.sqlite")) as saver:
        model = ProbedOfflineModel(probe=StreamProbe(), token_delay=0.01)
        registry = RunRegistry(build_graph(pack=minipack, model=model, checkpointer=saver))
        results = await _both(
            registry.start(question=Q, user_id="alice", session_id="s_one", run_id="r_same"),
            registry.start(question=Q, user_id=second_user, session_id="s_two", run_id="r_same"),
        )
        runs = [r for r in results if isinstance(r, Run)]
        assert len(runs) == 1, results
        refused = next(r for r in results if isinstance(r, GraphwireError))
        # another user's run id is FORBIDDEN, as resuming or stopping it would be; one's own
        # is "already in use"
        same_user = second_user == "alice"
        assert refused.code is (ErrorCode.INVALID_MESSAGE if same_user else ErrorCode.FORBIDDEN)
        await registry.close()


# --------------------------------------------------------------------------- real server


def _token(sub: str) -> str:
    return mint_token(secret=SECRET, sub=sub, ttl_seconds=300)


async def _ws_start(ws: ClientConnection, session_id: str) -> dict[str, Any]:
    """Send a question; the first reply about it (an envelope of the run, or the refusal)."""
    await ws.send(json.dumps({"type": "message", "message": Q, "session_id": session_id}))
    while True:
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if reply["type"] in ("error", "workflow_step") and reply["session_id"] == session_id:
            return reply


async def _http_start(http: httpx.AsyncClient, user: str, session_id: str) -> dict[str, Any]:
    response = await http.post(
        "/api/v1/chat",
        json={"message": Q, "session_id": session_id},
        headers={"Authorization": f"Bearer {_token(user)}"},
    )
    body: dict[str, Any] = response.json()
    return {"status": response.status_code, **body}


@pytest.mark.parametrize("users", [("alice", "bob"), ("alice", "alice")])
async def test_a_new_conversation_started_over_two_transports_at_once(
    users: tuple[str, str], tmp_path: Path
) -> None:
    """WebSocket (first user) and HTTP (second user) race for the same new session id."""
    ws_user, http_user = users
    settings = server_settings(
        jwt_secret=SECRET, checkpoint_path=str(tmp_path / "c.sqlite"), offline_token_delay=0.005
    )
    with running(settings) as live:
        url = f"{live.ws}?token={_token(ws_user)}"
        async with connect(url) as ws, httpx.AsyncClient(base_url=live.http, timeout=30) as http:
            json.loads(await ws.recv())  # connected
            for trial in range(TRIALS // 2):
                session_id = f"s_{ws_user}_{http_user}_{trial}"
                over_ws, over_http = await asyncio.gather(
                    _ws_start(ws, session_id), _http_start(http, http_user, session_id)
                )
                ws_ran = over_ws["type"] == "workflow_step"
                http_ran = over_http["status"] == 200
                assert ws_ran != http_ran, (over_ws, over_http)  # exactly one ran
                refusal = over_http["code"] if ws_ran else over_ws["data"]["code"]
                assert refusal == ("BUSY" if ws_user == http_user else "FORBIDDEN")
                owner = ws_user if ws_ran else http_user
                await _wait_idle(live, session_id)
                history = await http.get(
                    f"/api/v1/sessions/{session_id}/messages",
                    headers={"Authorization": f"Bearer {_token(owner)}"},
                )
                assert [m["role"] for m in history.json()["messages"]] == ["user", "assistant"]
                if ws_user != http_user:
                    other = http_user if owner == ws_user else ws_user
                    denied = await http.get(
                        f"/api/v1/sessions/{session_id}/messages",
                        headers={"Authorization": f"Bearer {_token(other)}"},
                    )
                    assert denied.status_code == 403


async def _wait_idle(live: Any, session_id: str) -> None:
    for _ in range(500):
        if not live.state.registry.sessions.active_runs(session_id):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"a run of {session_id} never ended")
