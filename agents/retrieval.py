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
from pathlib import Path
from typing import Literal

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter
from pydantic import ConfigDict

from graphwire.agents.answering.figures import Ask, asked_figure, holds
from graphwire.agents.documents import read_document
from graphwire.agents.embeddings import Embedder, default_cache_dir, default_embedder, embed_cached
from graphwire.agents.lexical import LexicalIndex
from graphwire.agents.packs import AgentSpec, DomainPack

__all__ = ["Chunk", "KnowledgeBase", "PackRetriever", "Relevance"]

SNIPPET_CHARS = 240
RRF_K = 60  # reciprocal rank fusion's constant (Cormack et al., 2009)
MIN_SIMILARITY = 0.2  # below, a passage with no word of the question is not about it
KEPT_QUERIES = 32  # queries whose relevance is kept (a turn asks about one or two)


@dataclass(frozen=True, slots=True)
class Relevance:
    """How every chunk of a base meets one query, before any agent's scope."""

    lexical: np.ndarray  # BM25 scores
    vector: np.ndarray | None  # the query's embedding (None without embeddings)
    cosines: np.ndarray | None  # each chunk's cosine similarity to it
    fused: np.ndarray  # 0 to 1: see KnowledgeBase.scores


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
    """Hybrid search over every chunk of a pack; each search may keep to an agent's scope.

    Each chunk is scored by BM25 (:class:`graphwire.agents.lexical.LexicalIndex`) and, when the base
    has passage vectors, by the cosine similarity of its embedding to the question's
    (:mod:`graphwire.agents.embeddings`); the two rankings are fused by reciprocal rank (k = 60),
    which needs no calibration between their scales. A chunk that shares no term with the question
    still ranks by meaning: "how heavy" finds "weighs 16.8 kg".
    """

    def __init__(
        self,
        chunks: list[Chunk],
        *,
        embedder: Embedder | None = None,
        vectors: np.ndarray | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        if not chunks:
            raise ValueError("a knowledge base needs at least one chunk")
        self.chunks = chunks
        self.lexical = LexicalIndex([_indexed(c) for c in chunks])
        self.words = self.lexical.words
        self.embedder = embedder
        self.cache_dir = cache_dir
        if embedder is not None and vectors is None:
            vectors = self.embed([_indexed(c) for c in chunks])
        self.vectors = vectors
        self._masks: dict[tuple[str, ...], np.ndarray] = {}
        self._holding: dict[Ask, np.ndarray] = {}
        self._relevance: dict[str, Relevance] = {}

    @property
    def vocabulary(self) -> frozenset[str]:
        """Every indexed term (stemmed)."""
        return self.lexical.vocabulary

    @classmethod
    def from_pack(
        cls,
        pack: DomainPack,
        *,
        embedder: Embedder | Literal["default"] | None = "default",
        cache_dir: Path | None = None,
    ) -> KnowledgeBase:
        """Chunk and index every document of ``pack``.

        ``embedder`` defaults to the embedded MiniLM model (None: lexical search only); passage
        vectors are read from, or written to, ``cache_dir`` (default: the user's cache folder).
        """
        chunks: list[Chunk] = []
        for path in pack.documents():
            doc = path.relative_to(pack.docs_dir).as_posix()
            chunks.extend(chunk_markdown(read_document(path), doc=doc))
        if embedder is None or not chunks:
            return cls(chunks)
        model = default_embedder() if embedder == "default" else embedder
        return cls(chunks, embedder=model, cache_dir=cache_dir or default_cache_dir())

    def embed(self, texts: list[str]) -> np.ndarray | None:
        """``texts`` embedded by this base's model (through its cache); None without one."""
        if self.embedder is None:
            return None
        return embed_cached(self.embedder, texts, cache_dir=self.cache_dir)

    def relevance(self, query: str) -> Relevance:
        """How every chunk meets ``query``, computed once and kept a while: routing (several
        looks) and the routed agent's retrieval ask about the same question."""
        found = self._relevance.get(query)
        if found is None:
            if len(self._relevance) >= KEPT_QUERIES:
                self._relevance.clear()
            found = self._relevance[query] = self._assess(query)
        return found

    def forget_queries(self) -> None:
        """Drop what is kept of earlier queries (benchmarks time each question afresh)."""
        self._relevance.clear()

    def embed_query(self, query: str) -> np.ndarray | None:
        """The query's vector; None when the base has no embeddings."""
        return self.relevance(query).vector

    def lexical_scores(self, query: str, *, agent: AgentSpec | None = None) -> np.ndarray:
        """BM25 score of every chunk for ``query`` (0 outside ``agent``'s scope)."""
        return self._scoped(self.relevance(query).lexical, agent)

    def similarities(self, query: str, *, agent: AgentSpec | None = None) -> np.ndarray | None:
        """Cosine similarity of every chunk to ``query`` (0 outside the scope); None when the
        base has no embeddings."""
        cosines = self.relevance(query).cosines
        return None if cosines is None else self._scoped(cosines, agent)

    def scores(self, query: str, *, agent: AgentSpec | None = None) -> np.ndarray:
        """Relevance of every chunk for ``query``, 0 to 1 (0 outside ``agent``'s scope).

        With embeddings: reciprocal-rank fusion of BM25 (chunks sharing a term) and cosine
        similarity, scaled so that first on both is 1. Without: BM25 scaled by its best.
        """
        return self._scoped(self.relevance(query).fused, agent)

    def search(self, query: str, *, agent: AgentSpec | None = None, k: int = 4) -> list[Document]:
        """The ``k`` most relevant chunks, best first, as documents."""
        found = self.relevance(query)
        scores = self._scoped(found.fused, agent)
        relevant = found.lexical > 0
        if found.cosines is not None:  # a passage sharing no word must at least be near in meaning
            relevant |= found.cosines >= MIN_SIMILARITY
        order = np.argsort(-scores, kind="stable")
        best = [int(i) for i in order if scores[i] > 0 and relevant[i]][:k]
        return [self._document(self.chunks[i], float(scores[i])) for i in best]

    def _assess(self, query: str) -> Relevance:
        lexical = self.lexical.scores(query)
        if self.embedder is None or self.vectors is None:
            best = lexical.max() if len(lexical) else 0.0
            return Relevance(lexical, None, None, lexical / best if best > 0 else lexical)
        vector = self.embedder.embed([query])[0]
        cosines: np.ndarray = self.vectors @ vector
        rankings = [_rrf(cosines, np.ones_like(cosines, dtype=bool)), _rrf(lexical, lexical > 0)]
        ask = asked_figure(query)
        if ask is not None and ask.firm and "price" in ask.kinds:
            # "How much is the VB-24?": its price sits in a price list that shares only its
            # name with the question, so the passages holding a price rank as a third list.
            # (Other kinds were measured too: a weight or a duration is written beside the
            # thing itself, and ranking their holders lost more answers than it found.)
            rankings.append(_rrf(cosines, self._holders(ask)))
        fused: np.ndarray = np.sum(rankings, axis=0) / (len(rankings) / (RRF_K + 1))
        return Relevance(lexical, vector, cosines, fused)

    def _holders(self, ask: Ask) -> np.ndarray:
        """Which chunks hold a figure of the kind ``ask`` asks for."""
        if ask not in self._holding:
            if len(self._holding) >= KEPT_QUERIES:
                self._holding.clear()
            self._holding[ask] = np.array([holds(ask, c.text) for c in self.chunks])
        return self._holding[ask]

    def _scoped(self, scores: np.ndarray, agent: AgentSpec | None) -> np.ndarray:
        return scores * self._mask(agent) if agent is not None else scores

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


def _indexed(chunk: Chunk) -> str:
    """What is indexed of a chunk: its title (document › section) and its text."""
    return f"{chunk.title}\n{chunk.text}"


def _rrf(scores: np.ndarray, ranked: np.ndarray) -> np.ndarray:
    """Each chunk's reciprocal rank ``1 / (k + rank)`` by ``scores``; 0 where not ``ranked``."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    return np.where(ranked, 1.0 / (RRF_K + ranks), 0.0)
