"""Drafting a pack for a folder of documents: the agents ``graphwire pack init`` proposes.

Each top-level sub-folder of the documents becomes an agent whose scope is that folder, whose
description lists the titles of its documents and whose examples are questions made from their
headings; a ``general`` agent is the fallback. A flat folder gives one agent, itself the fallback.
Starter questions ask one per agent, and one no document answers. All of it is a first draft
for a person to edit; :mod:`graphwire.agents.packwriter` writes it into a pack folder.

Example:
    >>> draft = draft_pack(Path("manuals"), name="kettle", title="Kettle")  # doctest: +SKIP
    >>> [agent.name for agent in draft.agents]                               # doctest: +SKIP
    ['care', 'faults', 'general']
"""

from __future__ import annotations

import glob
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from graphwire.agents.documents import (
    DOCUMENT_SUFFIXES,
    find_documents,
    human_name,
    outline,
    read_document,
)
from graphwire.agents.evaluation import EvalQuestion
from graphwire.transport.protocol.errors import ConfigurationError

__all__ = ["AgentDraft", "PackDraft", "draft_pack", "question_for"]

FALLBACK_NAME = "general"
RESERVED_NAMES = frozenset({"classify"})  # the graph's routing node
MAX_EXAMPLES = 6
MAX_DESCRIPTION = 280
OFF_TOPIC = "What is the capital of Australia?"
_GENERIC = re.compile(
    r"^(page \d+|introduction|overview|contents|table of contents|summary|notes?|see also|"
    r"references|index|appendix( [a-z0-9]+)?)$",
    re.I,
)
_QUESTION_WORDS = frozenset(
    {
        *("how", "what", "why", "when", "where", "which", "who", "whom", "whose", "can"),
        *("could", "do", "does", "did", "is", "are", "was", "were", "should", "will", "would"),
    }
)


@dataclass(frozen=True, slots=True)
class AgentDraft:
    """One proposed agent, as ``pack.toml`` will spell it."""

    name: str
    label: str
    description: str
    scope: tuple[str, ...]
    examples: tuple[str, ...]
    system_prompt: str
    fallback: bool = False
    documents: tuple[str, ...] = ()  # the documents it was drafted from


@dataclass(frozen=True, slots=True)
class PackDraft:
    """A proposed pack: its manifest's fields and its starter questions."""

    name: str
    title: str
    description: str
    agents: tuple[AgentDraft, ...]
    questions: tuple[EvalQuestion, ...]


@dataclass(frozen=True, slots=True)
class _Doc:
    path: str  # relative to the documents folder, with "/"
    title: str
    sections: tuple[str, ...]


def question_for(heading: str) -> str:
    """A plain question made from a heading: a starting point for a person to edit.

    >>> question_for("How do I descale the kettle"), question_for("Winter storage")
    ('How do I descale the kettle?', 'Tell me about winter storage.')
    >>> question_for("About Tidewell Marine"), question_for("VB-24 Battery Care")
    ('Tell me about Tidewell Marine.', 'Tell me about VB-24 Battery Care.')
    """
    text = re.sub(r"^about\s+", "", heading.strip().rstrip(" .:;!"), flags=re.I)
    if text.endswith("?"):
        return text
    first, *rest = text.split() or [""]
    if first.lower() in _QUESTION_WORDS:
        return f"{text}?"
    # "Winter storage" reads as "winter storage"; a name or a Title Case heading keeps its case.
    if (len(first) == 1 or first[1:].islower()) and not any(w[:1].isupper() for w in rest):
        text = text[:1].lower() + text[1:]
    return f"Tell me about {text}."


def draft_pack(source: Path, *, name: str, title: str) -> PackDraft:
    """Propose a pack for the documents under ``source`` (read, never changed).

    Raises :class:`ConfigurationError` when ``source`` holds no document or one can't be read.
    """
    paths = _document_paths(source)
    if not paths:
        raise ConfigurationError(
            f"no documents in {source} (graphwire reads {', '.join(DOCUMENT_SUFFIXES)})"
        )
    docs = [_read(source, path) for path in paths]
    counts = Counter(h.casefold() for d in docs for h in {d.title, *d.sections})
    unique = {h for h, n in counts.items() if n == 1}
    folders: dict[str, list[_Doc]] = {}
    for doc in docs:
        if "/" in doc.path:
            folders.setdefault(doc.path.split("/", 1)[0], []).append(doc)
    top = [d for d in docs if "/" not in d.path]
    agents: list[AgentDraft] = []
    names = set(RESERVED_NAMES)
    fallback: AgentDraft | None = None
    for folder, members in sorted(folders.items()):
        agent_name = _agent_name(folder, names)
        names.add(agent_name)
        if agent_name == FALLBACK_NAME:  # a "general" folder: its agent is the fallback
            fallback = _agent(agent_name, title, [*members, *top], unique, fallback=True)
        else:
            scope = (f"{glob.escape(folder)}/**",)
            agents.append(_agent(agent_name, title, members, unique, scope=scope))
    if fallback is None:
        fallback = _agent(FALLBACK_NAME, title, top, unique, fallback=True, others=bool(agents))
    agents.append(fallback)
    return PackDraft(
        name=name,
        title=title,
        description=f"Answers questions from {len(docs)} documents.",
        agents=tuple(agents),
        questions=_questions(agents, {d.path: d for d in docs}, unique),
    )


# ---------------------------------------------------------------------------- documents


def _document_paths(source: Path) -> list[str]:
    return [p.relative_to(source).as_posix() for p in find_documents(source)]


def _read(source: Path, path: str) -> _Doc:
    headings = outline(read_document(source / path))
    titles = [text for level, text in headings if level == 1]
    title = titles[0] if titles else human_name(Path(path).stem)
    sections = [
        text
        for level, text in headings
        if level in (2, 3) and len(text) <= 80 and not _GENERIC.match(text)
    ]
    return _Doc(path, title, tuple(dict.fromkeys(sections)))


# ---------------------------------------------------------------------------- drafting


def _agent(
    name: str,
    pack_title: str,
    docs: Sequence[_Doc],
    unique: set[str],
    *,
    scope: tuple[str, ...] = ("**",),
    fallback: bool = False,
    others: bool = False,
) -> AgentDraft:
    label = "General" if name == FALLBACK_NAME else human_name(name.replace("_", " ")).title()
    topics = [d.title for d in docs]
    if len(topics) < 4:
        topics += [s for d in docs for s in d.sections]
    about = _bounded(list(dict.fromkeys(topics)), MAX_DESCRIPTION)
    catch_all = fallback and others
    if about:
        end = "" if about.endswith("…") else "."
        also = " Also any question no other agent answers." if catch_all else ""
        description = f"Answers questions about: {about}{end}{also}"
    elif catch_all:
        description = "Answers any question no other agent answers."
    else:
        description = f"Answers questions about {pack_title}."
    return AgentDraft(
        name=name,
        label=label,
        description=description,
        scope=scope,
        examples=tuple(_examples(docs, unique)),
        system_prompt=(
            f"You are the {label} specialist for {pack_title}. Answer only from the passages "
            "you are given. When they do not answer the question, say plainly that the "
            "documents do not say, and do not guess."
        ),
        fallback=fallback,
        documents=tuple(d.path for d in docs),
    )


def _examples(docs: Sequence[_Doc], unique: set[str]) -> list[str]:
    """Titles first, then sections, taking each document in turn; headings shared by several
    documents are skipped (they would route anywhere)."""
    headings = [d.title for d in docs]
    depth = max((len(d.sections) for d in docs), default=0)
    headings += [d.sections[i] for i in range(depth) for d in docs if i < len(d.sections)]
    picked = [h for h in headings if h.casefold() in unique]
    return list(dict.fromkeys(question_for(h) for h in picked))[:MAX_EXAMPLES]


def _questions(
    agents: Sequence[AgentDraft], docs: dict[str, _Doc], unique: set[str]
) -> tuple[EvalQuestion, ...]:
    """One question per agent with documents, from a heading its examples don't use, if any;
    then one no document answers, for the fallback agent to decline."""
    questions = []
    for agent in agents:
        candidates = [
            (question_for(h), path)
            for path in agent.documents
            for h in (*docs[path].sections, docs[path].title)
            if h.casefold() in unique
        ]
        fresh = [c for c in candidates if c[0] not in agent.examples] or candidates
        if fresh:
            text, path = fresh[0]
            questions.append(
                EvalQuestion(question=text, agent=agent.name, source=path, category="starter")
            )
    fallback = next(a.name for a in agents if a.fallback)
    questions.append(
        EvalQuestion(question=OFF_TOPIC, agent=fallback, category="off-topic", unanswerable=True)
    )
    return tuple(questions)


def _agent_name(folder: str, taken: set[str]) -> str:
    ascii_name = unicodedata.normalize("NFKD", folder).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")
    if not base or not base[0].isalpha():
        base = f"topic_{base}".rstrip("_")
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def _bounded(items: Sequence[str], limit: int) -> str:
    text = ""
    for item in items:
        candidate = f"{text}, {item}" if text else item
        if len(candidate) > limit:
            return f"{text}, …" if text else item[: limit - 1] + "…"
        text = candidate
    return text
