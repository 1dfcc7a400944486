"""Prometheus metrics of one app (their own registry: no process-wide globals)."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from graphwire.transport.protocol import EndReason

__all__ = ["Metrics"]


class _EnvelopeCount(Collector):
    """Envelopes sent, by transport: plain ints, read at scrape time.

    It is bumped once per token, so it skips ``prometheus_client.Counter``'s lock: the event
    loop is one thread.
    """

    def __init__(self) -> None:
        self.sent: Tally[str] = Tally()

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "graphwire_envelopes_sent", "Envelopes sent to clients", labels=["transport"]
        )
        for transport, count in sorted(self.sent.items()):
            family.add_metric([transport], count)
        yield family


class Metrics:
    """Connections, runs, first-token latency and envelopes sent; also a ``RunObserver``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.connections = Gauge(
            "graphwire_open_connections", "Open WebSocket connections", registry=self.registry
        )
        self.active_runs = Gauge(
            "graphwire_active_runs", "Runs not yet ended", registry=self.registry
        )
        self.runs = Counter(
            "graphwire_runs", "Runs by how they ended", ["outcome"], registry=self.registry
        )
        self.first_token = Histogram(
            "graphwire_first_token_seconds",
            "Time from a run's start to its first text delta",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self._envelopes = _EnvelopeCount()
        self.registry.register(self._envelopes)
        self.envelopes_sent = self._envelopes.sent
        """Envelopes sent so far, by transport (``ws``, ``sse``): add to it."""

    def run_started(self) -> None:
        self.active_runs.inc()

    def run_finished(self, reason: EndReason, first_token_ms: float | None) -> None:
        self.active_runs.dec()
        self.runs.labels(outcome=reason).inc()
        if first_token_ms is not None:
            self.first_token.observe(first_token_ms / 1000)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
