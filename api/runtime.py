"""Turns settings into a running graph: pack, models, classifier and checkpointer.

Example:
    >>> async with open_graph(Settings(checkpoint_path=":memory:")) as graph:  # doctest: +SKIP
    ...     final = await ask(graph, "How heavy is the motor?")
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langchain_core.language_models import BaseChatModel

from agents.classifier import Classifier, ModelClassifier, OfflineClassifier
from agents.models import create_chat_model
from agents.packs import DomainPack, load_pack
from agents.retrieval import KnowledgeBase
from api.settings import Settings
from graph.builder import Graph, build_graph
from graph.checkpointers import open_checkpointer

__all__ = ["create_model", "open_graph"]


def create_model(settings: Settings, spec: str | None = None) -> BaseChatModel:
    """The chat model named by ``spec`` (default: ``settings.model``), configured by settings."""
    return create_chat_model(
        spec or settings.model,
        token_delay=settings.offline_token_delay,
        max_sentences=settings.offline_max_sentences,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        openai_api_key=settings.openai_api_key,
        openai_base_url=settings.openai_base_url,
        request_timeout=settings.request_timeout,
        max_retries=settings.max_retries,
    )


def create_classifier(settings: Settings, pack: DomainPack, kb: KnowledgeBase) -> Classifier:
    offline = OfflineClassifier(pack, knowledge_base=kb)
    if settings.classifier_model is None:
        return offline
    model = create_model(settings, settings.classifier_model)
    return ModelClassifier(pack, model, fallback=offline)


@asynccontextmanager
async def open_graph(settings: Settings) -> AsyncIterator[Graph]:
    """The graph for ``settings``, with its SQLite checkpointer open for the block's duration.

    Raises ``ConfigurationError`` (before opening anything) when a setting is unusable.
    """
    pack = load_pack(settings.pack)
    model = create_model(settings)
    kb = KnowledgeBase.from_pack(pack)
    classifier = create_classifier(settings, pack, kb)
    async with open_checkpointer(settings.checkpoint_path) as saver:
        yield build_graph(
            pack=pack,
            model=model,
            classifier=classifier,
            checkpointer=saver,
            knowledge_base=kb,
            top_k=settings.top_k,
        )
