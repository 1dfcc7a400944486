"""The graph: routing edges, conversation memory in SQLite, multi-turn follow-ups."""

from __future__ import annotations

from pathlib import Path

from agents import DomainPack, OfflineChatModel
from graph import build_graph, open_checkpointer
from tests.conftest import assert_run_invariants, collect
from tests.fakes import ProbedOfflineModel, StreamProbe
from transport import ask, stream_answer


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
