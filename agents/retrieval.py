"""The knowledge base: a pack's Markdown chunked, indexed with BM25, served as a retriever.

Example:
    >>> pack = load_pack()                                           # doctest: +SKIP
    >>> kb = KnowledgeBase.from_pack(pack)                           # doctest: +SKIP
    >>> retriever = kb.as_retriever(agent=pack.agent("specs"), k=4)  # doctest: +SKIP
    >>> docs = await retriever.ainvoke("What does the VB-24 weigh?")  # doctest: +SKIP
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import bm25s
import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter
from pydantic import ConfigDict

from agents.documents import read_document
from agents.packs import AgentSpec, DomainPack
from agents.text import tokenize, tokenize_many

__all__ = ["Chunk", "KnowledgeBase", "PackRetriever"]

SNIPPET_CHARS = 240


@dataclass(frozen=True, slots=True)
class Chunk:
    """One indexed passage. ``doc`` is the document's path relative to ``docs/``."""

    id: str
    doc: str
    title: str
    uri: str
    text: str


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def chunk_markdown(text: str, *, doc: str, chunk_chars: int = 900) -> list[Chunk]:
    """Split one Markdown document by its headings, then by size; ids are ``<doc>#<n>``."""
    by_heading = MarkdownHeaderTextSplitter(
        headers_to_split_on=[("#", "title"), ("##", "section"), ("###", "sub")],
        strip_headers=True,
    ).split_text(text)
    by_size = RecursiveCharacterTextSplitter(chunk_size=chunk_chars, chunk_overlap=120)
    stem = doc.rsplit(".", 1)[0] if "." in doc.rsplit("/", 1)[-1] else doc
    chunks: list[Chunk] = []
    for part in by_heading:
        meta = part.metadata
        doc_title = str(meta.get("title") or stem)
        section = str(meta.get("sub") or meta.get("section") or "")
        title = f"{doc_title} › {section}" if section else doc_title
        uri = f"docs/{doc}" + (f"#{_slug(section)}" if section else "")
        for piece in by_size.split_text(part.page_content):
            chunks.append(Chunk(f"{stem}#{len(chunks)}", doc, title, uri, piece.strip()))
    return chunks


class KnowledgeBase:
    """BM25 over every chunk of a pack; each search may be limited to an agent's scope."""

    def __init__(self, chunks: list[Chunk]) -> None:
        if not chunks:
            raise ValueError("a knowledge base needs at least one chunk")
        self.chunks = chunks
        self._index = bm25s.BM25()
        self._index.index(
            tokenize_many([f"{c.title}\n{c.text}" for c in chunks]), show_progress=False
        )
        self._vocab: set[str] = set(self._index.vocab_dict)
        self._masks: dict[tuple[str, ...], np.ndarray] = {}

    @property
    def vocabulary(self) -> frozenset[str]:
        """Every indexed term (stemmed)."""
        return frozenset(self._vocab)

    @classmethod
    def from_pack(cls, pack: DomainPack) -> KnowledgeBase:
        """Chunk and index every document of ``pack``."""
        chunks: list[Chunk] = []
        for path in pack.documents():
            doc = path.relative_to(pack.docs_dir).as_posix()
            chunks.extend(chunk_markdown(read_document(path), doc=doc))
        return cls(chunks)

    def scores(self, query: str, *, agent: AgentSpec | None = None) -> np.ndarray:
        """BM25 score of every chunk for ``query`` (0 outside ``agent``'s scope)."""
        terms = [t for t in tokenize(query) if t in self._vocab]
        if not terms:
            return np.zeros(len(self.chunks))
        scores = np.asarray(self._index.get_scores(terms), dtype=float)
        return scores * self._mask(agent) if agent is not None else scores

    def search(self, query: str, *, agent: AgentSpec | None = None, k: int = 4) -> list[Document]:
        """The ``k`` best chunks with a positive score, best first, as documents."""
        scores = self.scores(query, agent=agent)
        best = [int(i) for i in np.argsort(-scores, kind="stable")[:k] if scores[i] > 0]
        return [self._document(self.chunks[i], float(scores[i])) for i in best]

    def _mask(self, agent: AgentSpec) -> np.ndarray:
        if agent.scope not in self._masks:
            self._masks[agent.scope] = np.array([agent.covers(c.doc) for c in self.chunks], float)
        return self._masks[agent.scope]

    @staticmethod
    def _document(chunk: Chunk, score: float) -> Document:
        snippet = (
            chunk.text if len(chunk.text) <= SNIPPET_CHARS else chunk.text[:SNIPPET_CHARS] + "…"
        )
        return Document(
            page_content=chunk.text,
            id=chunk.id,
            metadata={
                "id": chunk.id,
                "doc": chunk.doc,
                "title": chunk.title,
                "uri": chunk.uri,
                "snippet": snippet,
                "score": round(score, 4),
            },
        )

    def as_retriever(self, *, agent: AgentSpec | None = None, k: int = 4) -> PackRetriever:
        """A LangChain retriever over this base, limited to ``agent``'s scope."""
        return PackRetriever(knowledge_base=self, agent=agent, k=k)


class PackRetriever(BaseRetriever):
    """LangChain retriever over a :class:`KnowledgeBase`; shows as retriever events in streams."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    knowledge_base: KnowledgeBase
    agent: AgentSpec | None = None
    k: int = 4

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return self.knowledge_base.search(query, agent=self.agent, k=self.k)

    async def _aget_relevant_documents(self, query: str, *, run_manager: object) -> list[Document]:
        # BM25 over a pack takes about a millisecond: no worker thread needed.
        return self.knowledge_base.search(query, agent=self.agent, k=self.k)
