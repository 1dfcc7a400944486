"""Turns settings into a running graph: pack, models, classifier and checkpointer.

Example:
    >>> async with open_graph(Settings(checkpoint_path=":memory:")) as graph:  # doctest: +SKIP
    ...     final = await ask(graph, "What is the weight of the motor without battery?")
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from langchain_core.language_models import BaseChatModel

from graphwire.agents.classifier import Classifier, OfflineClassifier
from graphwire.agents.model_classifier import ModelClassifier
from graphwire.agents.models import close_chat_model, create_chat_model, parse_model_spec
from graphwire.agents.packs import DomainPack, load_pack
from graphwire.agents.retrieval import KnowledgeBase
from graphwire.api.settings import Settings
from graphwire.graph.builder import Graph, build_graph
from graphwire.graph.checkpointers import open_checkpointer

__all__ = ["check_models", "create_classifier", "create_model", "open_graph"]


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
    """The offline classifier, or a model classifier that falls back to it."""
    offline = OfflineClassifier(pack, knowledge_base=kb)
    spec = settings.classifier_model
    if spec is None or parse_model_spec(spec)[0] == "offline":
        return offline
    return ModelClassifier(pack, create_model(settings, spec), fallback=offline)


def check_models(settings: Settings) -> None:
    """Make the configured models once, so that a missing key or an unknown model stops the
    start-up with its reason (a :class:`ConfigurationError`) before anything is served."""
    create_model(settings)
    if settings.classifier_model is not None:
        create_model(settings, settings.classifier_model)


@asynccontextmanager
async def open_graph(settings: Settings) -> AsyncIterator[Graph]:
    """The graph for ``settings``, with its checkpointer (SQLite, or in memory) open for the
    block's duration; the models' connections are closed when the block ends.

    Raises ``ConfigurationError`` (before opening anything) when a setting is unusable.
    """
    pack = load_pack(settings.pack)
    model = create_model(settings)
    kb = KnowledgeBase.from_pack(pack)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(close_chat_model, model)
        classifier = create_classifier(settings, pack, kb)
        if isinstance(classifier, ModelClassifier):
            stack.push_async_callback(close_chat_model, classifier.chat_model)
        saver = await stack.enter_async_context(open_checkpointer(settings.checkpoint_path))
        yield build_graph(
            pack=pack,
            model=model,
            classifier=classifier,
            checkpointer=saver,
            knowledge_base=kb,
            top_k=settings.top_k,
            history_tokens=settings.history_tokens,
        )
