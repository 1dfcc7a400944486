"""How ``graphwire chat`` shows a run on a terminal: steps, sources, the text as it streams."""

from __future__ import annotations

from rich.console import Console

from graphwire.transport.protocol import (
    EndEnvelope,
    ErrorEnvelope,
    FinalEnvelope,
    RunEnvelope,
    SourcesEnvelope,
    TextEnvelope,
    WorkflowStepEnvelope,
)

__all__ = ["ChatView"]


class ChatView:
    """Renders a run's envelopes on a terminal.

    Example:
        >>> view = ChatView(Console())          # doctest: +SKIP
        >>> for envelope in run:                # doctest: +SKIP
        ...     view.show(envelope)
    """

    def __init__(self, console: Console, *, session_hint: bool = True) -> None:
        self.console = console
        self.session_hint = session_hint
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
            if self.session_hint:
                c.print(f"session {envelope.session_id} (continue with --session)", style="dim")
        elif isinstance(envelope, ErrorEnvelope):
            c.print(
                f"{envelope.data.code}: {envelope.data.message}", style="bold red", markup=False
            )
        elif isinstance(envelope, EndEnvelope) and envelope.data.reason == "cancelled":
            c.print("· stopped", style="yellow", markup=False)
