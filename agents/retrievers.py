"""Choosing each agent's retriever: the pack's knowledge base, or one the user supplies.

A :data:`RetrieverFactory` is called once per agent when the graph is built and returns any
LangChain ``BaseRetriever`` (a vector store's ``as_retriever()``, a BM25 retriever, a web
search…). It comes from ``build_graph(retriever=…)`` or from the pack's ``retriever =
"module:attribute"`` setting (a factory, imported by name; ``module`` may be a file next to
``pack.toml``). A plain ``BaseRetriever`` given instead of a factory serves every agent.

Example:
    >>> graph = build_graph(retriever=lambda pack, agent: my_store.as_retriever())  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

from langchain_core.retrievers import BaseRetriever

from graphwire.agents.packs import AgentSpec, DomainPack
from graphwire.transport.protocol.errors import ConfigurationError

__all__ = ["RetrieverFactory", "load_retriever_factory", "retriever_factory"]

RetrieverFactory = Callable[[DomainPack, AgentSpec], BaseRetriever]


def retriever_factory(
    given: BaseRetriever | RetrieverFactory | None, pack: DomainPack
) -> RetrieverFactory | None:
    """The factory to use: ``given``, else the pack's setting, else None (the built-in base)."""
    if isinstance(given, BaseRetriever):
        return lambda _pack, _agent: given
    if given is not None:
        return given
    return load_retriever_factory(pack) if pack.retriever else None


def load_retriever_factory(pack: DomainPack) -> RetrieverFactory:
    """Import the pack's ``retriever = "module:attribute"``; a clear error if it cannot."""
    reference = pack.retriever or ""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(f"pack {pack.name}: retriever must be 'module:attribute'")
    added = str(pack.root) not in sys.path
    if added:
        sys.path.insert(0, str(pack.root))  # a module beside pack.toml
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(
            f"pack {pack.name}: cannot load retriever {reference}: {exc}"
        ) from exc
    finally:
        if added:
            sys.path.remove(str(pack.root))
    if not callable(factory):
        raise ConfigurationError(f"pack {pack.name}: retriever {reference} is not callable")
    return factory  # type: ignore[no-any-return]
