"""Chunking, BM25 search, agent scopes and the retriever's events."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphwire.agents import DomainPack, KnowledgeBase
from graphwire.agents.retrieval import chunk_markdown

DOC = """# Kettle specifications

## Capacity

The kettle holds 1.7 litres.

## Weight

It weighs 1.1 kg.
"""


def test_chunks_carry_ids_titles_and_uris() -> None:
    chunks = chunk_markdown(DOC, doc="specs/kettle.md")
    assert [(c.id, c.title, c.uri, c.text) for c in chunks] == [
        ("specs/kettle#0", "Kettle specifications › Capacity",
         "docs/specs/kettle.md#capacity", "The kettle holds 1.7 litres."),
        ("specs/kettle#1", "Kettle specifications › Weight",
         "docs/specs/kettle.md#weight", "It weighs 1.1 kg."),
    ]  # fmt: skip


def test_long_sections_are_split_with_distinct_ids() -> None:
    body = " ".join(f"Sentence number {i} about the heating element." for i in range(80))
    chunks = chunk_markdown(f"# Long\n\n## Part\n\n{body}\n", doc="x.md")
    assert len(chunks) > 2
    assert len({c.id for c in chunks}) == len(chunks)
    assert all(len(c.text) <= 900 for c in chunks)


def test_search_ranks_by_bm25_and_respects_scope(
    minipack: DomainPack, mini_kb: KnowledgeBase
) -> None:
    everywhere = mini_kb.search("error F3 temperature sensor", k=3)
    assert everywhere[0].metadata["id"] == "faults/codes#1"
    scores = [d.metadata["score"] for d in everywhere]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    specs_only = mini_kb.search("error F3 temperature sensor kettle", agent=minipack.agent("specs"))
    assert specs_only and all(d.metadata["doc"].startswith("specs/") for d in specs_only)


def test_no_hit_for_unknown_words(mini_kb: KnowledgeBase) -> None:
    assert mini_kb.search("photosynthesis chlorophyll") == []
    assert mini_kb.search("") == []


def test_hits_have_every_source_field(mini_kb: KnowledgeBase) -> None:
    hit = mini_kb.search("descale citric acid")[0]
    assert set(hit.metadata) == {"id", "doc", "title", "uri", "snippet", "score"}
    assert hit.metadata["snippet"] in hit.page_content
    assert hit.id == hit.metadata["id"]


async def test_the_retriever_shows_as_retriever_events(
    minipack: DomainPack, mini_kb: KnowledgeBase
) -> None:
    retriever = mini_kb.as_retriever(agent=minipack.agent("care"), k=1)
    events = [e async for e in retriever.astream_events("descaling vinegar", version="v2")]
    assert [e["event"] for e in events] == ["on_retriever_start", "on_retriever_end"]
    docs = events[-1]["data"]["output"]
    assert [d.metadata["id"] for d in docs] == ["care/descaling#0"]


async def test_a_custom_retriever_serves_the_specialists(minipack: DomainPack) -> None:
    """Any LangChain retriever: given to build_graph, or named in pack.toml as a factory."""
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever

    from graphwire.agents import OfflineChatModel
    from graphwire.graph import build_graph
    from graphwire.transport.runs import ask

    class Fixed(BaseRetriever):
        def _get_relevant_documents(self, query: str, *, run_manager: object) -> list[Document]:
            meta = {
                "id": "x#0",
                "doc": "x.md",
                "title": "X",
                "uri": "x",
                "snippet": "",
                "score": 1.0,
            }
            text = "Error F3 means the custom store was asked."
            return [Document(page_content=text, id="x#0", metadata=meta)]

    graph = build_graph(pack=minipack, model=OfflineChatModel(token_delay=0), retriever=Fixed())
    final = await ask(graph, "What does error F3 mean?")
    assert "custom store" in final.text and [s.id for s in final.sources] == ["x#0"]


def test_a_pack_names_its_retriever_factory(tmp_path: Path, minipack: DomainPack) -> None:
    from graphwire.agents.retrievers import load_retriever_factory
    from graphwire.transport.protocol.errors import ConfigurationError

    (tmp_path / "mystore.py").write_text(
        "def make(pack, agent):\n    return ('retriever for', agent.name)\n", encoding="utf-8"
    )
    pack = minipack.model_copy(update={"root": tmp_path, "retriever": "mystore:make"})
    factory = load_retriever_factory(pack)
    assert factory(pack, pack.agents[0]) == ("retriever for", pack.agents[0].name)
    broken = pack.model_copy(update={"retriever": "mystore:missing"})
    with pytest.raises(ConfigurationError, match="cannot load retriever mystore:missing"):
        load_retriever_factory(broken)
