from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from graphwire.agents import DomainPack, KnowledgeBase, load_pack
from graphwire.transport.protocol import RunEnvelope

MINIPACK = Path(__file__).parent / "fixtures" / "minipack"


@pytest.fixture(scope="session")
def minipack() -> DomainPack:
    return load_pack(MINIPACK)


@pytest.fixture(scope="session")
def mini_kb(minipack: DomainPack) -> KnowledgeBase:
    return KnowledgeBase.from_pack(minipack)


@pytest.fixture(scope="session")
def demo_pack() -> DomainPack:
    return load_pack()


@pytest.fixture(scope="session")
def demo_kb(demo_pack: DomainPack) -> KnowledgeBase:
    return KnowledgeBase.from_pack(demo_pack)


@pytest.fixture
def clock() -> Callable[[], float]:
    """A clock that advances 5 ms every time it is read (timing fields become exact)."""
    ticks = iter(range(0, 10**9, 5))
    return lambda: next(ticks) / 1000


async def collect(stream: AsyncIterator[RunEnvelope]) -> list[RunEnvelope]:
    return [envelope async for envelope in stream]


def wire(envelopes: list[RunEnvelope]) -> list[dict[str, Any]]:
    return [e.to_wire() for e in envelopes]


def comparable(envelopes: list[Any]) -> list[tuple[str, int | None, dict[str, Any]]]:
    """(type, seq, data) without the fields that differ between two runs of one question."""
    out = []
    for envelope in envelopes:
        data = envelope.to_wire()["data"]
        kept = {k: v for k, v in data.items() if k not in ("message_id", "timing")}
        out.append((envelope.type, envelope.seq, kept))
    return out


def assert_run_invariants(envelopes: list[RunEnvelope], *, reason: str) -> None:
    """Section 2 of the protocol, checked on one run's whole envelope list."""
    assert envelopes, "no envelopes"
    assert [e.seq for e in envelopes] == list(range(len(envelopes)))
    assert len({(e.run_id, e.session_id) for e in envelopes}) == 1
    types = [e.type for e in envelopes]
    assert types.count("end") == 1 and types[-1] == "end"
    assert envelopes[-1].data.reason == reason  # type: ignore[union-attr]
    endings = [t for t in types if t in ("final", "error")]
    expected = {"complete": ["final"], "error": ["error"], "cancelled": []}[reason]
    assert endings == expected
    if reason != "complete":
        return
    assert types.count("sources") == 1
    first_text = types.index("text") if "text" in types else len(types)
    assert types.index("sources") < first_text
    assert types.index("final") == len(types) - 2


@pytest.fixture
def server() -> Any:
    """A default test server (minipack, offline model without delay, auth off)."""
    from tests.server import running

    with running() as live:
        yield live
