"""``graphwire pack init`` and ``graphwire pack check``: make a pack, then see what it lacks.

Example:
    $ graphwire pack init mypack --from ~/manuals      # docs/, pack.toml and eval.jsonl
    $ graphwire pack check mypack                      # coverage, then the pack's eval
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from graphwire.agents.documents import document_format, outline, read_document
from graphwire.agents.evaluation import EvalReport, evaluate_pack, load_questions
from graphwire.agents.offline_model import OfflineChatModel
from graphwire.agents.packs import DomainPack, load_pack
from graphwire.agents.packwriter import InitResult, init_pack
from graphwire.graph.builder import build_graph
from graphwire.transport.protocol.errors import GraphwireError

__all__ = ["PackSurvey", "create_pack_cli", "survey_pack"]

MIN_ROUTING = 0.9  # the targets of ``graphwire eval``
MIN_RECALL = 0.9


def create_pack_cli() -> typer.Typer:
    """The ``graphwire pack`` command group."""
    app = typer.Typer(
        name="pack",
        help="Make a domain pack from your documents, and check one.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.command("init")(init)
    app.command("check")(check)
    return app


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _fail(message: str, code: int = 2) -> typer.Exit:
    error = Text.assemble(("error:", "bold red"), " ", message)  # paths are no markup
    Console(stderr=True, highlight=False, soft_wrap=True).print(error)
    return typer.Exit(code)


# ---------------------------------------------------------------------------- init


def init(
    folder: Annotated[Path, typer.Argument(help="The pack folder to make.")],
    source: Annotated[
        Path | None,
        typer.Option("--from", help="Folder of documents to copy in (default: FOLDER/docs)."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="The pack's name.")] = None,
    title: Annotated[str | None, typer.Option("--title", help="The pack's title.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing pack.toml and eval.jsonl.")
    ] = False,
) -> None:
    """Make a pack from a folder of documents (.md, .txt, .html, .pdf): an agent per sub-folder."""
    try:
        made = init_pack(folder, source=source, name=name, title=title, force=force)
    except GraphwireError as exc:
        raise _fail(exc.message) from None
    _print_made(Console(highlight=False, soft_wrap=True, markup=False), made)


def _print_made(out: Console, made: InitResult) -> None:
    root, draft = made.root, made.draft
    out.print(f"Made the pack {draft.name!r} in {root}:")
    out.print(
        f"  docs/       {_n(len(made.copied), 'document')} copied, {len(made.kept)} already there"
    )
    if made.skipped:
        shown = ", ".join(made.skipped[:5]) + (", …" if len(made.skipped) > 5 else "")
        skipped = _n(len(made.skipped), "file")
        out.print(f"              skipped {skipped} graphwire does not read: {shown}")
    agents = ", ".join(
        f"{a.name} ({_n(len(a.documents), 'document')}{', fallback' if a.fallback else ''})"
        for a in draft.agents
    )
    out.print(f"  pack.toml   {_n(len(draft.agents), 'agent')}: {agents}")
    out.print(f"  eval.jsonl  {_n(len(draft.questions), 'starter question')}")
    out.print("Next:")
    out.print("  1. Edit pack.toml: the router reads each agent's description and examples;")
    out.print("     write the examples as your users would ask.")
    out.print("  2. Add questions to eval.jsonl, with the facts a right answer states.")
    out.print(f"  3. graphwire pack check {root}")
    out.print(f'  4. graphwire chat --pack {root} "your question"   (or graphwire serve --pack)')


# ---------------------------------------------------------------------------- check


@dataclass(frozen=True, slots=True)
class PackSurvey:
    """What a pack's documents hold and who covers them (paths relative to ``docs/``)."""

    formats: dict[str, int]  # documents per format
    per_agent: dict[str, int]  # documents with text in each agent's scope
    uncovered: tuple[str, ...]  # documents in no agent's scope
    blank: tuple[str, ...]  # documents with no text (a scanned PDF, an empty page)

    @property
    def problems(self) -> list[str]:
        """What makes questions fail: no documents to answer from, or an agent without any."""
        if not sum(self.formats.values()) or len(self.blank) == sum(self.formats.values()):
            return ["the pack has no documents with text: every question would go unanswered"]
        return [
            f"agent {name!r}: its scope matches no document with text"
            for name, count in self.per_agent.items()
            if count == 0
        ]


def survey_pack(pack: DomainPack) -> PackSurvey:
    """Read every document of ``pack`` and count what each agent covers.

    Raises :class:`ConfigurationError` when a document can't be read.

    >>> survey_pack(load_pack()).per_agent["specs"]  # doctest: +SKIP
    9
    """
    docs = {p.relative_to(pack.docs_dir).as_posix(): p for p in pack.documents()}
    blank = tuple(doc for doc, path in docs.items() if not _has_text(read_document(path)))
    with_text = [doc for doc in docs if doc not in blank]
    return PackSurvey(
        formats=dict(sorted(Counter(document_format(p) for p in docs.values()).items())),
        per_agent={a.name: sum(a.covers(doc) for doc in with_text) for a in pack.agents},
        uncovered=tuple(doc for doc in docs if not any(a.covers(doc) for a in pack.agents)),
        blank=blank,
    )


def _has_text(markdown: str) -> bool:
    """Whether a document says anything beyond its headings."""
    headings = len(outline(markdown))
    lines = [line for line in markdown.splitlines() if line.strip()]
    return len(lines) > headings


def check(
    folder: Annotated[Path, typer.Argument(help="The pack folder.")],
) -> None:
    """Check a pack: documents per format and per agent, gaps, then its eval.jsonl if any."""
    out = Console(highlight=False, soft_wrap=True, markup=False)
    try:
        pack = load_pack(folder)
        survey = survey_pack(pack)
    except GraphwireError as exc:
        raise _fail(exc.message) from None
    _print_survey(out, pack, survey)
    if survey.problems:
        for problem in survey.problems:
            out.print(f"problem: {problem}", style="red")
        raise typer.Exit(1)
    questions = pack.root / "eval.jsonl"
    if not questions.exists():
        out.print(f"no eval.jsonl in {folder}: no questions asked")
        return
    try:
        graph = build_graph(pack=pack, model=OfflineChatModel(token_delay=0))
        report = asyncio.run(evaluate_pack(pack, load_questions(questions), graph=graph))
    except GraphwireError as exc:
        raise _fail(exc.message) from None
    _print_eval(out, report)
    recall = report.recall_at_3 if report.recall_at_3 is not None else 1.0
    if report.routing_accuracy < MIN_ROUTING or recall < MIN_RECALL:
        out.print(
            f"problem: the eval is below target (routing {MIN_ROUTING:.0%}, "
            f"recall@3 {MIN_RECALL:.0%}); see graphwire eval --pack {folder}",
            style="red",
        )
        raise typer.Exit(1)
    out.print("ok", style="green")


def _print_survey(out: Console, pack: DomainPack, survey: PackSurvey) -> None:
    total = sum(survey.formats.values())
    formats = ", ".join(f"{kind} {count}" for kind, count in survey.formats.items()) or "none"
    out.print(f"pack {pack.name!r} ({pack.title}): {_n(total, 'document')} ({formats})")
    for agent in pack.agents:
        role = "  fallback" if agent.fallback else ""
        count = survey.per_agent[agent.name]
        out.print(f"  {agent.name:<20} {_n(count, 'document'):>14}  {', '.join(agent.scope)}{role}")
    for title, docs in (
        ("documents no agent covers", survey.uncovered),
        ("documents with no text", survey.blank),
    ):
        if docs:
            out.print(f"{title}: {', '.join(docs)}", style="yellow")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _print_eval(out: Console, report: EvalReport) -> None:
    out.print(
        f"eval: {report.questions} questions, routing {_pct(report.routing_accuracy)}, "
        f"recall@{report.k} {_pct(report.recall_at_3)}, answers {_pct(report.answer_accuracy)}, "
        f"not in the docs {_pct(report.not_in_docs_accuracy)}"
    )
    for miss in report.misses[:10]:
        out.print(
            f"  miss ({miss.kind}): {miss.question!r}: expected {miss.expected}, got {miss.got}"
        )
    if len(report.misses) > 10:
        out.print(f"  … and {len(report.misses) - 10} more")
