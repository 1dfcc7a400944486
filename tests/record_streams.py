"""Records the ``astream_events`` streams under tests/fixtures/streams/ from the live graph.

Run ``python -m tests.record_streams`` after changing the graph; the transformer tests replay
these files, so they test the transformer on the events the real graph produces.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage

from graphwire.agents import ModelClassifier, OfflineChatModel, OfflineClassifier, load_pack
from graphwire.graph import build_graph
from graphwire.transport.protocol.errors import ModelError
from tests.fakes import FailingChatModel, routing_model
from tests.streams import save_stream

MINIPACK = Path(__file__).parent / "fixtures" / "minipack"
ROUTE = '{"agent": "care", "confidence": 0.8, "reason": "descaling"}'


class ExplodingClassifier:
    async def classify(self, question: str, history: Any) -> Any:
        raise RuntimeError("classifier exploded: token=sk-secret-123")


async def record(name: str, graph: Any, question: str) -> None:
    events: list[dict[str, Any]] = []
    raised = None
    try:
        async for event in graph.astream_events(
            {"messages": [HumanMessage(question)]},
            {"configurable": {"thread_id": f"s_{name}"}},
            version="v2",
        ):
            events.append(event)
    except Exception as exc:
        raised = type(exc).__name__
    print(name, len(events), "events", raised or "")
    save_stream(name, events, raises=raised)


async def main() -> None:
    pack = load_pack(MINIPACK)
    offline = OfflineChatModel(token_delay=0)
    await record("answer", build_graph(pack=pack, model=offline), "What does error F3 mean?")
    classifier = ModelClassifier(
        pack,
        routing_model((ROUTE, ROUTE)),  # streams the JSON as text too: it must not leak
        fallback=OfflineClassifier(pack),
    )
    await record(
        "classifier_streams",
        build_graph(pack=pack, model=offline, classifier=classifier),
        "How do I descale it?",
    )
    failing = FailingChatModel(
        tokens=["The ", "kettle "], error=ModelError("The language model failed to answer.")
    )
    await record("model_fails", build_graph(pack=pack, model=failing), "How heavy is the kettle?")
    await record(
        "node_raises",
        build_graph(pack=pack, model=offline, classifier=ExplodingClassifier()),
        "How heavy is the kettle?",
    )


if __name__ == "__main__":
    asyncio.run(main())
