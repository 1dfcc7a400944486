"""The Python client across dropped connections: a real server, a proxy that cuts the network.

Every byte goes through :class:`tests.proxy.CuttingProxy`, which cuts the connection carrying a
chosen byte (mid-frame, mid-event, anywhere): the client must reconnect, resume from the last
``seq`` it delivered, and hand over the same envelopes, one for one, as an uninterrupted run.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from graphwire.transport.client.core import GraphwireClient, Transport
from graphwire.transport.client.errors import ResumeError
from graphwire.transport.protocol import RunEnvelope
from graphwire.transport.protocol.errors import NotFoundError
from tests.conftest import assert_run_invariants, comparable
from tests.proxy import CuttingProxy
from tests.server import Running, running, server_settings

Q = "What does error F3 mean?"
FRACTIONS = [(0.04,), (0.15,), (0.35,), (0.55,), (0.75,), (0.9,), (0.2, 0.45, 0.7)]


def url(proxy: CuttingProxy, transport: Transport) -> str:
    return proxy.ws if transport == "ws" else proxy.http


def client(address: str, **options: Any) -> GraphwireClient:
    return GraphwireClient(address, initial_delay=0.01, max_delay=0.05, timeout=5, **options)


@pytest.fixture(scope="module")
def live() -> Any:
    # Slow enough that most cuts land while the run is still going (resume goes on live).
    with running(server_settings(offline_token_delay=0.01)) as server:
        yield server


async def reference_run(live: Running, transport: Transport) -> tuple[list[RunEnvelope], int]:
    """An uninterrupted run through the proxy, and how many bytes it took to the client."""
    async with CuttingProxy(live.port) as proxy:
        async with client(url(proxy, transport)) as c:
            run = [e async for e in c.stream(Q)]
        return run, proxy.down


@pytest.mark.parametrize("transport", ["ws", "sse"])
async def test_cuts_anywhere_in_an_answer_lose_and_repeat_nothing(
    live: Running, transport: Transport
) -> None:
    reference, total = await reference_run(live, transport)
    assert_run_invariants(reference, reason="complete")
    for i, fractions in enumerate(FRACTIONS):
        cuts = [int(total * f) for f in fractions]
        pause = 0.02 * (i % 2)  # a slow reader: envelopes wait in the client when the cut lands
        async with CuttingProxy(live.port, cut_down_at=list(cuts)) as proxy:
            async with client(url(proxy, transport)) as c:
                run = []
                async for envelope in c.stream(Q):
                    run.append(envelope)
                    await asyncio.sleep(pause)
            assert proxy.cuts == len(cuts), f"{fractions}: the proxy cut {proxy.cuts} times"
            assert proxy.connections > len(cuts), f"{fractions}: the client did not reconnect"
        assert len({(e.run_id, e.session_id) for e in run}) == 1
        assert comparable(run) == comparable(reference), f"cut at {cuts} of {total} bytes"


@pytest.mark.parametrize("transport", ["ws", "sse"])
async def test_a_question_lost_on_the_way_is_asked_again_with_the_same_run_id(
    live: Running, transport: Transport
) -> None:
    reference, _ = await reference_run(live, transport)
    async with CuttingProxy(live.port) as proxy:
        async with client(url(proxy, transport)) as c:
            # Cut the next request a few bytes in: the server never gets the question.
            proxy.cut_up_at.append(proxy.up + 8)
            run = [e async for e in c.stream(Q, run_id="r_lost_on_the_way")]
        assert proxy.cuts == 1
    assert {e.run_id for e in run} == {"r_lost_on_the_way"}
    assert comparable(run) == comparable(reference)


@pytest.mark.parametrize("transport", ["ws", "sse"])
async def test_a_run_the_server_no_longer_keeps_is_a_resume_error_not_a_gap(
    transport: Transport,
) -> None:
    settings = server_settings(offline_token_delay=0.0, run_retention=0.0)
    with running(settings) as server:

        async def until_forgotten(delay: float) -> None:
            """The client's backoff sleep: lasts until the server has forgotten the run."""
            for _ in range(300):
                try:
                    server.state.registry.get("r_forgotten", user_id="anonymous")
                except NotFoundError:
                    return
                await asyncio.sleep(0.05)
            raise AssertionError("the server never forgot the run")

        async with CuttingProxy(server.port) as proxy:
            async with client(url(proxy, transport), sleep=until_forgotten) as c:
                proxy.cut_down_at.append(proxy.down + 900)  # a few envelopes in
                seen: list[RunEnvelope] = []
                with pytest.raises(ResumeError) as lost:
                    async for envelope in c.stream(Q, run_id="r_forgotten"):
                        seen.append(envelope)
            assert proxy.cuts == 1
    assert seen, "the cut came before the first envelope"
    assert (lost.value.code, lost.value.run_id) == ("NOT_FOUND", "r_forgotten")
    assert lost.value.last_seq == seen[-1].seq  # what the caller got, and nothing after it
    assert [e.seq for e in seen] == list(range(len(seen)))
    assert seen[-1].type != "end"
