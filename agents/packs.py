"""Domain packs: a folder with ``pack.toml`` (the agents) and ``docs/`` (the knowledge base).

Example:
    >>> pack = load_pack()            # the demo pack shipped with graphwire
    >>> [agent.name for agent in pack.agents]
    ['specs', 'maintenance', 'troubleshooting', 'general']
"""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from graphwire.agents.documents import find_documents
from graphwire.transport.protocol.errors import ConfigurationError

__all__ = ["DEMO_PACK_PATH", "AgentSpec", "DomainPack", "load_pack"]

DEMO_PACK_PATH = Path(__file__).parent / "packs" / "demo"


class AgentSpec(BaseModel):
    """One specialist: what it answers, where it may search and how it speaks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    description: str
    scope: tuple[str, ...] = ("**",)
    examples: tuple[str, ...] = ()
    system_prompt: str
    fallback: bool = False

    def covers(self, doc_path: str) -> bool:
        """Whether a document (path relative to ``docs/``) is in this agent's retrieval scope."""
        return any(fnmatch(doc_path, pattern) for pattern in self.scope)


class DomainPack(BaseModel):
    """A loaded pack. ``fallback_agent`` answers questions that fit no specialist."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    description: str = ""
    agents: tuple[AgentSpec, ...]
    retriever: str | None = None  # "module:attribute", a factory (pack, agent) -> retriever
    root: Path

    @model_validator(mode="after")
    def _check_agents(self) -> DomainPack:
        names = [a.name for a in self.agents]
        if len(set(names)) != len(names):
            raise ValueError(f"agent names must be unique, got {names}")
        if sum(a.fallback for a in self.agents) != 1:
            raise ValueError("exactly one agent must have fallback = true")
        return self

    @property
    def docs_dir(self) -> Path:
        return self.root / "docs"

    @property
    def fallback_agent(self) -> AgentSpec:
        return next(a for a in self.agents if a.fallback)

    @property
    def agent_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.agents)

    def agent(self, name: str) -> AgentSpec:
        """The agent called ``name``; ``KeyError`` if the pack has none."""
        for agent in self.agents:
            if agent.name == name:
                return agent
        raise KeyError(name)

    def documents(self) -> list[Path]:
        """Every document of the knowledge base, in a stable order: each file under ``docs/``
        with a suffix of :data:`~graphwire.agents.documents.DOCUMENT_SUFFIXES`, hidden ones skipped.
        They are Markdown, text, HTML or PDF: read one with
        :func:`~graphwire.agents.documents.read_document`, which gives Markdown.
        """
        return find_documents(self.docs_dir)


def load_pack(path: str | Path | None = None) -> DomainPack:
    """Load the pack in ``path`` (default: the shipped demo pack).

    Raises :class:`ConfigurationError` with the reason when the folder is not a valid pack.
    """
    root = Path(path) if path is not None else DEMO_PACK_PATH
    manifest = root / "pack.toml"
    try:
        raw = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigurationError(f"no pack.toml in {root}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{manifest} is not valid TOML: {exc}") from exc
    try:
        pack = DomainPack(root=root.resolve(), **raw)
    except ValidationError as exc:
        raise ConfigurationError(f"{manifest} is not a valid pack: {exc}") from exc
    if not pack.docs_dir.is_dir():
        raise ConfigurationError(f"pack {pack.name} has no docs/ folder in {root}")
    return pack
