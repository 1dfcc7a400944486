"""The ``graphwire`` command: ``serve``, ``chat``, ``eval``, ``graph``, ``token`` and ``pack``.

Example:
    $ graphwire serve --port 8080 --log-level debug
    $ graphwire chat "What is the battery capacity?"
    $ graphwire chat --json "What does E14 mean?"
    $ graphwire chat --url ws://127.0.0.1:8000/ws/chat          # a conversation with a server
    $ graphwire eval --json
    $ graphwire graph
    $ graphwire pack init mypack --from ~/manuals && graphwire pack check mypack
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated, get_args

import typer
from rich.console import Console
from rich.table import Table

from graphwire.agents.evaluation import EvalReport, evaluate_pack, load_questions
from graphwire.agents.offline_model import OfflineChatModel
from graphwire.agents.packs import load_pack
from graphwire.api.cli.chat import chat
from graphwire.api.cli.pack import create_pack_cli
from graphwire.api.runtime import check_models
from graphwire.api.settings import Settings
from graphwire.api.tokens import token
from graphwire.graph.builder import build_graph
from graphwire.transport.protocol.errors import GraphwireError

__all__ = ["create_cli", "main"]

PackOption = Annotated[
    Path | None, typer.Option("--pack", help="Domain pack folder (default: the demo pack).")
]
LOG_LEVELS: tuple[str, ...] = get_args(Settings.model_fields["log_level"].annotation)
"""The levels ``--log-level`` takes (in any case): the ``log_level`` setting's."""


def create_cli() -> typer.Typer:
    """The Typer application behind the ``graphwire`` console script."""
    cli = typer.Typer(
        name="graphwire",
        help="A LangGraph agent orchestrator with a streaming wire protocol.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    cli.command("serve")(serve)
    cli.command("chat")(chat)
    cli.command("eval")(evaluate)
    cli.command("graph")(show_graph)
    cli.command("token")(token)
    cli.add_typer(create_pack_cli(), name="pack")
    return cli


def main() -> None:
    """Entry point of the console script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    create_cli()()


def _fail(console: Console, message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


# ---------------------------------------------------------------------------- serve


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to bind.")] = None,
    pack: PackOption = None,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            metavar="<level>",
            help=f"{', '.join(LOG_LEVELS)}, in any case (default: GRAPHWIRE_LOG_LEVEL, or INFO).",
        ),
    ] = None,
) -> None:
    """Serve graphwire.v1 over WebSocket (/ws/chat) and SSE, with the HTTP API and /docs."""
    from graphwire.api.server import serve as run_server

    err = Console(stderr=True)
    try:  # a wrong level is Settings.load's ConfigurationError: "--log-level: Input should be …"
        settings = Settings.load(host=host, port=port, pack=pack, log_level=log_level)
        load_pack(settings.pack)  # a bad pack fails here, with its reason, not inside uvicorn
        check_models(settings)  # and so does a missing API key or an unknown model
        run_server(settings)
    except GraphwireError as exc:
        raise _fail(err, exc.message) from None


# ---------------------------------------------------------------------------- eval


def evaluate(
    pack: PackOption = None,
    questions: Annotated[
        Path | None,
        typer.Option(
            "--questions", help="JSON Lines question file (default: the pack's eval.jsonl)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    min_routing: Annotated[
        float, typer.Option("--min-routing", min=0.0, max=1.0, help="Fail below this accuracy.")
    ] = 0.9,
    min_recall: Annotated[
        float, typer.Option("--min-recall", min=0.0, max=1.0, help="Fail below this recall@3.")
    ] = 0.9,
) -> None:
    """Ask a pack's questions of the offline graph: routing, recall@3, answers, honest refusals."""
    err = Console(stderr=True)
    try:
        loaded = load_pack(pack)
        graph = build_graph(pack=loaded, model=OfflineChatModel(token_delay=0))
        asked = load_questions(questions or loaded.root / "eval.jsonl")
        report = asyncio.run(evaluate_pack(loaded, asked, graph=graph))
    except GraphwireError as exc:
        raise _fail(err, exc.message) from None
    if as_json:
        print(report.model_dump_json(indent=2))
    else:
        _print_report(Console(highlight=False), report)
    recall = report.recall_at_3 if report.recall_at_3 is not None else 1.0
    if report.routing_accuracy < min_routing or recall < min_recall:
        err.print(
            f"[red]below target: routing {report.routing_accuracy:.1%} (min {min_routing:.0%}), "
            f"recall@3 {recall:.1%} (min {min_recall:.0%})[/]"
        )
        raise typer.Exit(1)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _print_report(console: Console, report: EvalReport) -> None:
    console.print(f"questions          {report.questions}")
    console.print(f"routing accuracy   {_pct(report.routing_accuracy)}")
    console.print(f"recall@{report.k}           {_pct(report.recall_at_3)}")
    console.print(f"answer accuracy    {_pct(report.answer_accuracy)}")
    console.print(f"not in the docs    {_pct(report.not_in_docs_accuracy)}")
    for title, groups in (("agent", report.per_agent), ("category", report.per_category)):
        table = Table(title, "questions", "routing", "recall@3", "answers", "not in docs")
        for name, score in groups.items():
            table.add_row(
                name,
                str(score.questions),
                _pct(score.routing),
                _pct(score.recall_at_3),
                _pct(score.answers),
                _pct(score.not_in_docs),
            )
        console.print(table)
    if report.misses:
        table = Table("kind", "category", "question", "expected", "got", title="misses")
        for m in report.misses:
            table.add_row(m.kind, m.category, m.question, m.expected, m.got)
        console.print(table)


# ---------------------------------------------------------------------------- graph


def show_graph(pack: PackOption = None) -> None:
    """Print the graph as Mermaid text."""
    try:
        graph = build_graph(pack=load_pack(pack))
    except GraphwireError as exc:
        raise _fail(Console(stderr=True), exc.message) from None
    drawing = graph.get_graph()
    for key, node in list(
        drawing.nodes.items()
    ):  # node metadata is for the transformer, not a reader
        drawing.nodes[key] = node._replace(metadata=None)
    print(drawing.draw_mermaid())
