"""Writing a drafted pack into a folder: ``docs/``, ``pack.toml`` and ``eval.jsonl``.

What ``graphwire pack init`` does after :func:`graphwire.agents.packinit.draft_pack` has proposed
the agents. ``pack.toml`` is written by a small TOML writer of our own: the manifest is strings,
arrays of strings and one boolean, and it carries comments for the person who edits it next,
which no TOML library writes.

Example:
    >>> made = init_pack(Path("kettle"), source=Path("manuals"))  # doctest: +SKIP
    >>> [agent.name for agent in made.draft.agents]                 # doctest: +SKIP
    ['care', 'faults', 'general']
"""

from __future__ import annotations

import filecmp
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from graphwire.agents.documents import DOCUMENT_SUFFIXES, find_documents, human_name
from graphwire.agents.packinit import PackDraft, draft_pack
from graphwire.transport.protocol.errors import ConfigurationError

__all__ = ["InitResult", "init_pack", "render_manifest"]


@dataclass(frozen=True, slots=True)
class InitResult:
    """What :func:`init_pack` wrote: ``copied`` and ``kept`` are paths under ``docs/``."""

    root: Path
    draft: PackDraft
    copied: tuple[str, ...]
    kept: tuple[str, ...]
    skipped: tuple[str, ...]  # files of the source that are no document graphwire reads


def init_pack(
    root: Path,
    *,
    source: Path | None = None,
    name: str | None = None,
    title: str | None = None,
    force: bool = False,
) -> InitResult:
    """Write a pack in ``root`` for the documents in ``source`` (default ``root/docs``).

    The documents are copied into ``root/docs`` (sub-folders kept) unless they are there
    already; ``pack.toml`` and ``eval.jsonl`` are written. Nothing is written when a document
    can't be read, and existing files are replaced only with ``force``.
    """
    docs_dir = root / "docs"
    source = source if source is not None else docs_dir
    if not source.is_dir():
        raise ConfigurationError(
            f"no documents folder {source}: put the documents there or give --from FOLDER"
        )
    own = source.resolve() == docs_dir.resolve()
    if not own and root.resolve().is_relative_to(source.resolve()):
        raise ConfigurationError(
            f"the pack folder {root} is inside the documents folder {source}: "
            "make the pack somewhere else"
        )
    for existing in (root / "pack.toml", root / "eval.jsonl"):
        if existing.exists() and not force:
            raise ConfigurationError(f"{existing} exists already; pass --force to replace it")
    name = name or _slug(root.resolve().name) or "pack"
    title = title or human_name(root.resolve().name) or "My documents"
    draft = draft_pack(source, name=name, title=title)  # reads every document: fails early
    copied, kept = _copy_documents(source, docs_dir, force=force)
    if not own and len(find_documents(docs_dir)) > len(copied) + len(kept):
        draft = draft_pack(docs_dir, name=name, title=title)  # docs/ had more: draft for all
    (root / "pack.toml").write_text(render_manifest(draft), encoding="utf-8")
    lines = [q.model_dump_json(exclude_defaults=True) for q in draft.questions]
    (root / "eval.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return InitResult(root, draft, tuple(copied), tuple(kept), tuple(_not_documents(source)))


def render_manifest(draft: PackDraft) -> str:
    """``pack.toml`` for ``draft``, with comments on what to edit.

    >>> print(render_manifest(draft))  # doctest: +SKIP
    # Made by `graphwire pack init`: a first draft. ...
    name = "kettle"
    ...
    """
    lines = [
        "# Made by `graphwire pack init`: a first draft. The router reads each agent's label,",
        "# description and examples (write examples as your users ask); the answering model",
        "# reads its system_prompt; scope says which documents under docs/ it searches.",
        f"name = {_toml_string(draft.name)}",
        f"title = {_toml_string(draft.title)}",
        f"description = {_toml_string(draft.description)}",
    ]
    for agent in draft.agents:
        lines += [
            "",
            "[[agents]]",
            f"name = {_toml_string(agent.name)}",
            f"label = {_toml_string(agent.label)}",
            f"description = {_toml_string(agent.description)}",
            f"scope = {_toml_array(agent.scope)}",
            f"examples = {_toml_array(agent.examples)}",
            f"system_prompt = {_toml_string(agent.system_prompt)}",
            *(["fallback = true"] if agent.fallback else []),
        ]
    return "\n".join(lines) + "\n"


def _not_documents(source: Path) -> list[str]:
    """Files of ``source`` that are no document graphwire reads (hidden ones aside)."""
    relative = (p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())
    return sorted(
        r
        for r in relative
        if "/." not in f"/{r}" and Path(r).suffix.lower() not in DOCUMENT_SUFFIXES
    )


def _copy_documents(source: Path, docs_dir: Path, *, force: bool) -> tuple[list[str], list[str]]:
    """Copy the documents of ``source`` into ``docs_dir``: (copied, already there)."""
    paths = [p.relative_to(source).as_posix() for p in find_documents(source)]
    if source.resolve() == docs_dir.resolve():
        return [], paths
    for path in paths:
        target = docs_dir / path
        if target.exists() and not force and not filecmp.cmp(source / path, target, False):
            raise ConfigurationError(f"{target} exists and differs; pass --force to replace it")
    copied, kept = [], []
    for path in paths:
        target = docs_dir / path
        if target.exists() and filecmp.cmp(source / path, target, shallow=False):
            kept.append(path)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / path, target)
            copied.append(path)
    return copied, kept


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# ---------------------------------------------------------------------------- TOML

_TOML_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for char in text:
        code = ord(char)
        if char in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:  # a lone surrogate (an undecodable file name) has no UTF-8
            out.append("\ufffd")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_array(items: Sequence[str]) -> str:
    line = "[" + ", ".join(_toml_string(item) for item in items) + "]"
    if len(line) <= 80:
        return line
    return "[\n" + "".join(f"    {_toml_string(item)},\n" for item in items) + "]"
