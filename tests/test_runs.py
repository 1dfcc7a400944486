"""The run registry and event logs, in process (the server tests run the same over sockets)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest

from graphwire.agents import DomainPack, OfflineChatModel
from graphwire.graph import build_graph
from graphwire.transport.protocol import EndData, EndEnvelope, ErrorCode, TextData, TextEnvelope
from graphwire.transport.protocol.errors import GraphwireError, NotFoundError, ShuttingDownError
from graphwire.transport.runs.eventlog import MemoryEventLog
from graphwire.transport.runs.registry import RunRegistry
from graphwire.transport.runs.run import Run
from tests.conftest import assert_run_invariants
from tests.fakes import ProbedOfflineModel, StreamProbe

Q = "What does error F3 mean?"


def _registry(minipack: DomainPack, *, delay: float = 0.0, **kwargs: Any) -> RunRegistry:
    graph = build_graph(pack=minipack, model=OfflineChatModel(token_delay=delay))
    return RunRegistry(graph, **kwargs)


async def _all(registry: RunRegistry, run: Run, after_seq: int = -1) -> list[Any]:
    return [e async for e in run.follow(after_seq)]


async def test_a_run_is_logged_and_replayed_from_any_seq(minipack: DomainPack) -> None:
    registry = _registry(minipack)
    run = await registry.start(question=Q, user_id="alice")
    whole = await _all(registry, run)
    assert_run_invariants(whole, reason="complete")
    assert await _all(registry, run, after_seq=5) == whole[6:]
    assert await _all(registry, run, after_seq=whole[-1].seq) == []
    assert run.end_reason == "complete" and not run.active


async def test_two_listeners_see_the_same_envelopes_live(minipack: DomainPack) -> None:
    registry = _registry(minipack, delay=0.01)
    run = await registry.start(question=Q, user_id="alice")
    first, second = await asyncio.gather(_all(registry, run), _all(registry, run))
    assert first == second
    assert_run_invariants(first, reason="complete")


async def test_busy_interrupt_and_enqueue(minipack: DomainPack) -> None:
    registry = _registry(minipack, delay=0.02)
    first = await registry.start(question=Q, user_id="alice", session_id="s_1")
    with pytest.raises(GraphwireError) as busy:
        await registry.start(question="How do I descale it?", user_id="alice", session_id="s_1")
    assert (busy.value.code, busy.value.retryable) == (ErrorCode.BUSY, True)

    queued = await registry.start(
        question="How do I descale it?", user_id="alice", session_id="s_1", multitask="enqueue"
    )
    assert queued.active
    first_out, queued_out = await asyncio.gather(_all(registry, first), _all(registry, queued))
    assert_run_invariants(first_out, reason="complete")
    assert_run_invariants(queued_out, reason="complete")
    assert queued.finished_at is not None and first.finished_at is not None
    assert queued.finished_at >= first.finished_at

    third = await registry.start(question=Q, user_id="alice", session_id="s_1")
    fourth = await registry.start(
        question="How heavy is it?", user_id="alice", session_id="s_1", multitask="interrupt"
    )
    assert not third.active and third.end_reason == "cancelled"
    assert_run_invariants(await _all(registry, third), reason="cancelled")
    assert_run_invariants(await _all(registry, fourth), reason="complete")


async def test_a_conversation_belongs_to_its_user(minipack: DomainPack) -> None:
    registry = _registry(minipack)
    run = await registry.start(question=Q, user_id="alice", session_id="s_alice")
    for call in (
        registry.start(question=Q, user_id="mallory", session_id="s_alice"),
        registry.cancel_for(user_id="mallory", run_id=run.run_id),
    ):
        with pytest.raises(GraphwireError) as denied:
            await call
        assert denied.value.code == ErrorCode.FORBIDDEN
    with pytest.raises(GraphwireError):
        await registry.sessions.subscribe("s_alice", print, user_id="mallory", limit=10)
    with pytest.raises(NotFoundError):
        registry.get("r_nope", user_id="alice")
    with pytest.raises(GraphwireError) as reused:
        await registry.start(question=Q, user_id="alice", run_id=run.run_id)
    assert reused.value.code == ErrorCode.INVALID_MESSAGE


async def test_a_run_nobody_listens_to_is_cancelled_after_the_grace(minipack: DomainPack) -> None:
    probe = StreamProbe()
    graph = build_graph(pack=minipack, model=ProbedOfflineModel(probe=probe, token_delay=0.05))
    registry = RunRegistry(graph, grace=0.2)
    run = await registry.start(question=Q, user_id="alice")
    await asyncio.wait_for(run.done.wait(), timeout=10)
    assert run.end_reason == "cancelled" and probe.closed_early


async def test_a_listener_coming_back_within_the_grace_keeps_the_run(minipack: DomainPack) -> None:
    registry = _registry(minipack, delay=0.02, grace=0.3)
    run = await registry.start(question=Q, user_id="alice")
    seen: list[Any] = []
    async for envelope in run.follow():  # listen a little, then "drop"
        seen.append(envelope)
        if envelope.type == "text":
            break
    await asyncio.sleep(0.1)  # shorter than the grace
    rest = await _all(registry, run, after_seq=seen[-1].seq)
    assert_run_invariants(seen + rest, reason="complete")


async def test_finished_runs_are_swept_after_the_retention(minipack: DomainPack) -> None:
    now = [0.0]
    graph = build_graph(pack=minipack, model=OfflineChatModel(token_delay=0))
    registry = RunRegistry(graph, retention=60, clock=lambda: now[0])
    run = await registry.start(question=Q, user_id="alice")
    await _all(registry, run)
    now[0] = 59.0
    assert registry.sweep() == 0 and registry.get(run.run_id, user_id="alice") is run
    now[0] = 61.0
    assert registry.sweep() == 1
    with pytest.raises(NotFoundError):
        registry.get(run.run_id, user_id="alice")


async def test_a_run_over_its_time_limit_ends_with_timeout(minipack: DomainPack) -> None:
    registry = _registry(minipack, delay=0.05, run_timeout=0.3)
    run = await registry.start(question=Q, user_id="alice")
    out = await _all(registry, run)
    assert_run_invariants(out, reason="error")
    assert out[-2].data.code == ErrorCode.TIMEOUT and out[-2].data.retryable


async def test_close_ends_every_active_run(minipack: DomainPack) -> None:
    registry = _registry(minipack, delay=0.05)
    runs = [await registry.start(question=Q, user_id=f"u{i}") for i in range(3)]
    await asyncio.sleep(0.1)
    await registry.close()
    for run in runs:
        assert run.end_reason == "cancelled"
        assert_run_invariants(await _all(registry, run), reason="cancelled")
    assert registry.closing
    with pytest.raises(ShuttingDownError) as refused:
        await registry.start(question=Q, user_id="alice")
    assert refused.value.code == ErrorCode.PROCESSING_ERROR and refused.value.retryable


async def test_subscribers_hear_of_new_runs(minipack: DomainPack) -> None:
    registry = _registry(minipack)
    heard: list[Any] = []
    await registry.sessions.subscribe("s_sub", heard.append, user_id="alice", limit=10)
    run = await registry.start(question=Q, user_id="alice", session_id="s_sub")
    assert heard == [run]
    registry.sessions.unsubscribe("s_sub", heard.append)
    await registry.start(
        question="How heavy is it?", user_id="alice", session_id="s_sub", multitask="enqueue"
    )
    assert heard == [run]


def _text(seq: int) -> TextEnvelope:
    return TextEnvelope(
        run_id="r", session_id="s", seq=seq, data=TextData(delta=f"{seq} ", agent="a")
    )


async def test_a_bounded_log_refuses_a_gap_instead_of_skipping() -> None:
    log = MemoryEventLog("r", max_envelopes=3)
    for seq in range(5):
        await log.append(_text(seq))
    await log.append(
        EndEnvelope(run_id="r", session_id="s", seq=5, data=EndData(reason="complete"))
    )
    assert [e.seq async for e in log.follow(after_seq=2)] == [3, 4, 5]
    with pytest.raises(NotFoundError, match="no longer keeps envelopes from seq 1"):
        [e async for e in log.follow(after_seq=0)]
    with pytest.raises(ValueError, match="expected seq"):
        await MemoryEventLog("r", max_envelopes=3).append(_text(1))


async def test_a_log_keeps_text_with_only_the_newest_objects_and_replays_the_same_envelopes() -> (
    None
):
    log = MemoryEventLog("r", max_envelopes=1000)
    count = 3 * MemoryEventLog.RECENT
    sent = [*(_text(seq) for seq in range(count))]
    sent.append(EndEnvelope(run_id="r", session_id="s", seq=count, data=EndData(reason="complete")))
    live = asyncio.create_task(_collect(log))  # a listener following across the end
    await asyncio.sleep(0)
    for envelope in sent[:-1]:
        await log.append(envelope)
    # While the run goes, only the newest envelopes are kept as objects for the GC to walk.
    assert _objects_held(log) == MemoryEventLog.RECENT
    midway = [e async for e in _until(log.follow(after_seq=-1), count - 1)]
    assert midway == sent[:-1]  # the older ones turned back from text, the newest as they are
    await log.append(sent[-1])
    replayed = [e async for e in log.follow(after_seq=-1)]
    assert await live == sent
    assert replayed == sent  # typed envelopes again, not text
    assert [e.to_json() for e in replayed] == [e.to_json() for e in sent]
    assert _objects_held(log) == 0  # a finished run waits out its retention as text only


async def test_a_log_nobody_follows_keeps_no_objects_and_a_late_reader_gets_the_same() -> None:
    log = MemoryEventLog("r", max_envelopes=1000)
    sent = [_text(seq) for seq in range(12)]
    for envelope in sent[:3]:  # the run pushes to its sockets: nobody follows the log
        await log.append(envelope)
    assert _objects_held(log) == 0
    early = log.follow(after_seq=-1)  # a reader comes and goes mid-run ...
    assert [await anext(early), await anext(early)] == sent[:2]
    for envelope in sent[3:6]:
        await log.append(envelope)
    assert _objects_held(log) == 3  # (kept for it while it reads)
    await early.aclose()
    for envelope in sent[6:9]:  # ... so the objects kept for it are no longer the newest
        await log.append(envelope)
    assert _objects_held(log) == 0
    late = log.follow(after_seq=-1)
    assert [await anext(late) for _ in range(9)] == sent[:9]
    for envelope in sent[9:]:
        await log.append(envelope)
    assert [await anext(late) for _ in range(3)] == sent[9:]
    await late.aclose()


def _objects_held(log: MemoryEventLog) -> int:
    """Envelope objects the log's own containers refer to."""
    return sum(isinstance(r, TextEnvelope) for r in gc.get_referents(*vars(log).values()))


async def _until(envelopes: AsyncIterator[Any], last_seq: int) -> AsyncIterator[Any]:
    async for envelope in envelopes:
        yield envelope
        if envelope.seq == last_seq:
            return


async def _collect(log: MemoryEventLog) -> list[Any]:
    return [e async for e in log.follow(after_seq=-1)]


async def test_a_listener_that_fails_is_dropped_and_the_run_goes_on(
    minipack: DomainPack, caplog: pytest.LogCaptureFixture
) -> None:
    registry = _registry(minipack, delay=0.005)
    run = await registry.start(question=Q, user_id="alice")
    got: list[Any] = []

    def broken(envelope: Any) -> bool:
        got.append(envelope)
        raise RuntimeError("this listener's socket is gone")

    assert run.push_to(broken, after_seq=run.log.last_seq)
    whole = await _all(registry, run)
    assert_run_invariants(whole, reason="complete")
    assert len(got) == 1 and run.sinks == ()
    assert "a listener of run" in caplog.text


async def test_ownership_survives_a_restart(minipack: DomainPack, tmp_path: Any) -> None:
    from graphwire.graph import open_checkpointer

    path = tmp_path / "conversations.sqlite"
    async with open_checkpointer(path) as saver:
        graph = build_graph(
            pack=minipack, model=OfflineChatModel(token_delay=0), checkpointer=saver
        )
        before = RunRegistry(graph)
        await _all(before, await before.start(question=Q, user_id="alice", session_id="s_kept"))

    async with open_checkpointer(path) as saver:  # a new process: nothing in memory
        graph = build_graph(
            pack=minipack, model=OfflineChatModel(token_delay=0), checkpointer=saver
        )
        after = RunRegistry(graph)
        with pytest.raises(GraphwireError) as denied:
            await after.start(question=Q, user_id="mallory", session_id="s_kept")
        assert denied.value.code == ErrorCode.FORBIDDEN
        assert await after.sessions.check("s_kept", user_id="alice")
        assert not await after.sessions.check("s_new", user_id="mallory")
        run = await after.start(
            question="How do I descale it?", user_id="alice", session_id="s_kept"
        )
        assert_run_invariants(await _all(after, run), reason="complete")
        state = await graph.aget_state({"configurable": {"thread_id": "s_kept"}})
        assert [m.type for m in state.values["messages"]] == ["human", "ai", "human", "ai"]
        assert state.values["owner"] == "alice"


async def test_a_failure_outside_the_graph_still_ends_with_error_then_end(
    minipack: DomainPack,
) -> None:
    class FlakyLog(MemoryEventLog):
        """Refuses the first text envelope once, as a broken store would."""

        failed = False

        async def append(self, envelope: Any) -> None:
            if envelope.type == "text" and not self.failed:
                self.failed = True
                raise OSError("store unavailable")
            await super().append(envelope)

    graph = build_graph(pack=minipack, model=OfflineChatModel(token_delay=0))
    registry = RunRegistry(graph, log_factory=lambda run_id: FlakyLog(run_id, max_envelopes=100))
    run = await registry.start(question=Q, user_id="alice")
    out = await _all(registry, run)
    assert_run_invariants(out, reason="error")
    assert out[-2].data.code == ErrorCode.PROCESSING_ERROR and run.end_reason == "error"


async def test_a_finished_run_leaves_no_timer_and_its_idle_conversation_is_forgotten(
    minipack: DomainPack,
) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    model = OfflineChatModel(token_delay=0)
    graph = build_graph(pack=minipack, model=model, checkpointer=InMemorySaver())
    registry = RunRegistry(graph, retention=0.0)
    run = await registry.start(question=Q, user_id="alice", session_id="s_kept")
    got: list[Any] = []
    assert run.push_to(lambda envelope: got.append(envelope) or True, after_seq=-1)
    await run.done.wait()
    assert_run_invariants(got, reason="complete")
    # Its last listener left with the end: no orphan timer is left to fire 30 s later.
    assert run._orphan_timer is None and run.listeners == 0
    assert registry.sweep() == 1
    assert "s_kept" not in registry.sessions  # nothing of the conversation is held here ...
    with pytest.raises(GraphwireError) as refused:  # ... and its stored owner still guards it
        await registry.start(question=Q, user_id="mallory", session_id="s_kept")
    assert refused.value.code == ErrorCode.FORBIDDEN
    again = await registry.start(question=Q, user_id="alice", session_id="s_kept")
    assert_run_invariants(await _all(registry, again), reason="complete")
