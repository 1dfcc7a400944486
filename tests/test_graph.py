"""The graph: routing edges, conversation memory in SQLite, multi-turn follow-ups."""

from __future__ import annotations

from pathlib import Path

from langchain_core.runnables import RunnableConfig

from graphwire.agents import DomainPack, OfflineChatModel
from graphwire.graph import build_graph, open_checkpointer
from graphwire.transport.runs import ask, stream_answer
from tests.conftest import assert_run_invariants, collect
from tests.fakes import ProbedOfflineModel, StreamProbe


def test_the_graph_routes_from_classify_to_each_specialist(minipack: DomainPack) -> None:
    drawing = build_graph(pack=minipack).get_graph()
    edges = {(e.source, e.target, e.conditional) for e in drawing.edges}
    assert ("__start__", "classify", False) in edges
    for agent in minipack.agent_names:
        assert ("classify", agent, True) in edges
        assert (agent, "__end__", False) in edges


async def test_a_follow_up_sees_the_earlier_turn_across_restarts(
    minipack: DomainPack, tmp_path: Path
) -> None:
    path = tmp_path / "state" / "conversations.sqlite"
    async with open_checkpointer(path) as saver:
        graph = build_graph(
            pack=minipack, model=OfflineChatModel(token_delay=0), checkpointer=saver
        )
        first = await ask(graph, "What does error F3 mean?", session_id="s_multi")
    assert first.agent == "faults"
    assert path.exists()

    probe = StreamProbe()
    async with open_checkpointer(path) as saver:  # a new process would do exactly this
        graph = build_graph(
            pack=minipack, model=ProbedOfflineModel(probe=probe, token_delay=0), checkpointer=saver
        )
        out = await collect(stream_answer(graph, "and after unplugging?", session_id="s_multi"))
        state = await graph.aget_state({"configurable": {"thread_id": "s_multi"}})

    assert_run_invariants(out, reason="complete")
    step = out[1].data
    assert step.agent == "faults" and step.detail == "follow-up to the previous question"
    assert "cannot be fixed at home" in out[-2].data.text
    prompt = probe.prompts[0]
    assert [m.type for m in prompt] == ["system", "human", "ai", "human"]
    assert prompt[1].content == "What does error F3 mean?" and prompt[2].content == first.text
    assert [m.type for m in state.values["messages"]] == ["human", "ai", "human", "ai"]
    assert state.values["messages"][-1].name == "faults"


async def test_sessions_do_not_see_each_other(minipack: DomainPack) -> None:
    probe = StreamProbe()
    async with open_checkpointer(":memory:") as saver:
        graph = build_graph(
            pack=minipack, model=ProbedOfflineModel(probe=probe, token_delay=0), checkpointer=saver
        )
        await ask(graph, "What does error F3 mean?", session_id="s_a")
        await ask(graph, "How do I descale the kettle?", session_id="s_b")
    assert [m.type for m in probe.prompts[1]] == ["system", "human"]


async def test_a_conversation_is_saved_when_its_run_ends_and_not_before_the_first_token(
    minipack: DomainPack,
) -> None:
    async with open_checkpointer(":memory:") as saver:
        graph = build_graph(
            pack=minipack, model=OfflineChatModel(token_delay=0), checkpointer=saver
        )
        config: RunnableConfig = {"configurable": {"thread_id": "s_saved"}}
        stored_at_first_token = "unset"
        async for envelope in stream_answer(
            graph, "What does error F3 mean?", session_id="s_saved"
        ):
            if envelope.type == "text" and stored_at_first_token == "unset":
                stored_at_first_token = await saver.aget_tuple(config)
        after_complete = await graph.aget_state(config)

        stopped = stream_answer(graph, "and after unplugging?", session_id="s_saved")
        async for envelope in stopped:
            if envelope.type == "text":
                break  # the client stops the run at its first token
        await stopped.aclose()
        after_stop = await graph.aget_state(config)

    assert stored_at_first_token is None  # no checkpoint write before the answer streams
    assert [m.type for m in after_complete.values["messages"]] == ["human", "ai"]
    # A stopped run is saved as it stood: its question, no answer; the next one starts clean.
    assert [m.type for m in after_stop.values["messages"]] == ["human", "ai", "human"]
    assert after_stop.values["messages"][-1].content == "and after unplugging?"
