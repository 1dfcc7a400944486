"""The ``graphwire`` command: ``chat``, ``eval`` and ``graph``.

Example:
    $ graphwire chat "What is the battery capacity?"
    $ graphwire chat --json "What does E14 mean?"
    $ graphwire eval --json
    $ graphwire graph
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agents.evaluation import EvalReport, evaluate_pack, load_questions
from agents.packs import load_pack
from api.runtime import check_models, open_graph
from api.settings import Settings
from api.tokens import token
from graph.builder import build_graph
from transport.errors import GraphwireError
from transport.inprocess import stream_answer
from transport.protocol import (
    EndEnvelope,
    ErrorEnvelope,
    FinalEnvelope,
    RunEnvelope,
    SourcesEnvelope,
    TextEnvelope,
    WorkflowStepEnvelope,
)

__all__ = ["create_cli", "main"]

PackOption = Annotated[
    Path | None, typer.Option("--pack", help="Domain pack folder (default: the demo pack).")
]


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
    return cli


def main() -> None:
    """Entry point of the console script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    create_cli()()


def _settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the command line's options on top."""
    given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**given)


def _fail(console: Console, message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


# ---------------------------------------------------------------------------- serve


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to bind.")] = None,
    pack: PackOption = None,
) -> None:
    """Serve graphwire.v1 over WebSocket (/ws/chat) and SSE, with the HTTP API and /docs."""
    from api.server import serve as run_server

    err = Console(stderr=True)
    try:
        settings = _settings(host=host, port=port, pack=pack)
        load_pack(settings.pack)  # a bad pack fails here, with its reason, not inside uvicorn
        check_models(settings)  # and so does a missing API key or an unknown model
        run_server(settings)
    except GraphwireError as exc:
        raise _fail(err, exc.message) from None


# ---------------------------------------------------------------------------- chat


def chat(
    question: Annotated[str, typer.Argument(help="The question to ask.")],
    session: Annotated[
        str | None, typer.Option("--session", "-s", help="Continue this conversation.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one protocol envelope per line.")
    ] = False,
    pack: PackOption = None,
    delay: Annotated[
        float | None, typer.Option("--delay", help="Offline model: seconds between words.")
    ] = None,
) -> None:
    """Ask a question and stream the answer: steps, sources and text as they arrive."""
    err = Console(stderr=True)
    try:
        settings = _settings(pack=pack, offline_token_delay=delay)
        ok = asyncio.run(_chat(settings, question, session, as_json))
    except GraphwireError as exc:
        raise _fail(err, exc.message) from None
    except KeyboardInterrupt:
        raise _fail(err, "stopped", 130) from None
    if not ok:
        raise typer.Exit(1)


async def _chat(settings: Settings, question: str, session: str | None, as_json: bool) -> bool:
    view = None if as_json else _ChatView(Console(highlight=False))
    ok = False
    async with open_graph(settings) as graph:
        async for envelope in stream_answer(graph, question, session_id=session):
            if view is None:
                print(json.dumps(envelope.to_wire(), ensure_ascii=False), flush=True)
            else:
                view.show(envelope)
            if isinstance(envelope, EndEnvelope):
                ok = envelope.data.reason == "complete"
    return ok


class _ChatView:
    """Renders a run's envelopes on a terminal."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.in_text = False

    def show(self, envelope: RunEnvelope) -> None:
        c = self.console
        if isinstance(envelope, TextEnvelope):
            c.print(envelope.data.delta, end="", soft_wrap=True, markup=False)
            self.in_text = True
            return
        if self.in_text:
            c.print()
            self.in_text = False
        if isinstance(envelope, WorkflowStepEnvelope) and envelope.data.status != "started":
            colour = "red" if envelope.data.status == "failed" else "dim"
            c.print(f"· {envelope.data.label}", style=colour, markup=False)
        elif isinstance(envelope, SourcesEnvelope):
            for s in envelope.data.sources:
                c.print(f"  ↳ {s.id}  {s.title}  ({s.score:.2f})", style="dim", markup=False)
            c.print()
        elif isinstance(envelope, FinalEnvelope):
            d = envelope.data
            summary = (
                f"{d.agent} ({d.confidence:.0%}) · {d.model} · {d.usage.output_tokens} tokens"
                f" · {d.timing.total_ms:.0f} ms · finish: {d.finish_reason}"
            )
            c.print(f"\n{summary}", style="dim", markup=False)
            c.print(f"session {envelope.session_id} (continue with --session)", style="dim")
        elif isinstance(envelope, ErrorEnvelope):
            c.print(
                f"{envelope.data.code}: {envelope.data.message}", style="bold red", markup=False
            )


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
    """Measure routing accuracy and retrieval recall@3 of a pack on a question file."""
    err = Console(stderr=True)
    try:
        loaded = load_pack(pack)
        report = asyncio.run(
            evaluate_pack(loaded, load_questions(questions or loaded.root / "eval.jsonl"))
        )
    except GraphwireError as exc:
        raise _fail(err, exc.message) from None
    if as_json:
        print(report.model_dump_json(indent=2))
    else:
        _print_report(Console(highlight=False), report)
    if report.routing_accuracy < min_routing or report.recall_at_3 < min_recall:
        err.print(
            f"[red]below target: routing {report.routing_accuracy:.1%} (min {min_routing:.0%}), "
            f"recall@3 {report.recall_at_3:.1%} (min {min_recall:.0%})[/]"
        )
        raise typer.Exit(1)


def _print_report(console: Console, report: EvalReport) -> None:
    console.print(f"questions        {report.questions}")
    console.print(f"routing accuracy {report.routing_accuracy:.1%}")
    console.print(f"recall@3         {report.recall_at_3:.1%}")
    for agent, accuracy in report.per_agent_routing.items():
        console.print(f"  {agent:<16} routing {accuracy:.1%}")
    if report.misses:
        table = Table("kind", "question", "expected", "got", title="misses")
        for m in report.misses:
            got = m.routed_agent if m.kind == "routing" else ", ".join(m.retrieved) or "-"
            want = m.expected_agent if m.kind == "routing" else m.expected_source
            table.add_row(m.kind, m.question, want, got)
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
