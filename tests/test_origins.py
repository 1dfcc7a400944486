"""Which browser origins may open /ws/chat: the server's own on any port, and the configured ones.

Against a real uvicorn on a free port (never 8000), with real websockets handshakes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from graphwire.api.origins import OriginPolicy, own_origins
from graphwire.api.settings import Settings
from tests.server import Running, running, server_settings


async def _connects(url: str, origin: str, **kwargs: object) -> bool:
    """Whether a handshake from ``origin`` becomes a socket whose first envelope is ``connected``;
    False when it is refused with HTTP 403."""
    try:
        ws = await connect(url, origin=origin, **kwargs)  # type: ignore[arg-type]
    except InvalidStatus as refused:
        assert refused.response.status_code == 403
        return False
    try:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert hello["type"] == "connected"
        return True
    finally:
        await ws.close()


@pytest.fixture
def default_origins() -> Iterator[Running]:
    """A server with GRAPHWIRE_ALLOWED_ORIGINS at its default (none configured)."""
    with running(server_settings(allowed_origins=[])) as live:
        assert live.port != 8000
        yield live


def _refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "refused a WebSocket handshake" in r.msg]


def test_no_origin_is_configured_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRAPHWIRE_ALLOWED_ORIGINS", raising=False)
    assert Settings(_env_file=None).allowed_origins == []  # type: ignore[call-arg]


async def test_a_page_the_server_served_connects_on_whatever_port_it_listens(
    default_origins: Running,
) -> None:
    port = default_origins.port
    for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"http://[::1]:{port}"):
        assert await _connects(default_origins.ws, origin), origin


async def test_other_origins_are_refused_and_each_is_logged_once(
    default_origins: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="graphwire.ws")
    port = default_origins.port
    foreign = (
        f"http://127.0.0.1:{port + 1}",  # another port is another origin
        f"https://127.0.0.1:{port}",  # so is another scheme
        "http://evil.example",
        "http://127.0.0.1:8000",  # the old default port is nothing special
    )
    for origin in foreign:
        assert not await _connects(default_origins.ws, origin), origin
    assert not await _connects(default_origins.ws, "http://evil.example")  # again
    refusals = _refusals(caplog)
    assert len(refusals) == len(foreign)
    assert "'http://evil.example'" in refusals[2] and "GRAPHWIRE_ALLOWED_ORIGINS" in refusals[2]
    assert await _connects(default_origins.ws, f"http://127.0.0.1:{port}")  # still serving


async def test_a_dns_rebinding_page_is_refused_though_its_host_header_matches(
    default_origins: Running,
) -> None:
    """evil.example resolved to 127.0.0.1: Origin and Host agree, but neither is the server's."""
    port = default_origins.port
    assert not await _connects(
        f"ws://evil.example:{port}/ws/chat",
        f"http://evil.example:{port}",
        host="127.0.0.1",
        port=port,
    )


async def test_configured_origins_and_the_wildcard_are_allowed_too() -> None:
    settings = server_settings(allowed_origins=["https://chat.example", "http://allowed.example/"])
    with running(settings) as live:
        assert await _connects(live.ws, "https://chat.example")
        assert await _connects(live.ws, "http://allowed.example")
        assert await _connects(live.ws, f"http://localhost:{live.port}")
        assert not await _connects(live.ws, "https://other.example")
    with running(server_settings(allowed_origins=["*"])) as live:
        assert await _connects(live.ws, "https://other.example")


@pytest.mark.parametrize(
    ("scheme", "server", "expected"),
    [
        ("ws", ("127.0.0.1", 8031), {"http://127.0.0.1:8031", "http://localhost:8031",
                                     "http://[::1]:8031"}),
        ("ws", ("::1", 80), {"http://127.0.0.1", "http://localhost", "http://[::1]"}),
        ("wss", ("10.0.0.5", 443), {"https://10.0.0.5"}),
        ("wss", ("10.0.0.5", 8443), {"https://10.0.0.5:8443"}),
        ("ws", ("fe80::1", 8000), {"http://[fe80::1]:8000"}),
        ("ws", ("::ffff:192.168.1.5", 8000), {"http://192.168.1.5:8000"}),
        ("ws", ("127.0.0.2", 8000), {"http://127.0.0.2:8000", "http://127.0.0.1:8000",
                                     "http://localhost:8000", "http://[::1]:8000"}),
        ("ws", ("Chat.Example", 8000), {"http://chat.example:8000"}),
        ("ws", ("/run/graphwire.sock", None), set()),
        ("ws", None, set()),
    ],
)  # fmt: skip
def test_the_servers_own_origins_come_from_its_listening_address(
    scheme: str, server: tuple[str, int | None] | None, expected: set[str]
) -> None:
    assert own_origins(scheme, server) == expected


def test_refusals_are_logged_by_name_only_up_to_a_bound(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="graphwire.ws")
    policy = OriginPolicy([])
    scope = {"scheme": "ws", "server": ("127.0.0.1", 8031)}
    for _ in range(3):
        for n in range(150):
            assert not policy.allows(f"http://site{n}.example", scope)
    named = _refusals(caplog)
    assert len(named) == 100 and "site0.example" in named[0]
    assert sum("not logged by name" in r.getMessage() for r in caplog.records) == 1
    assert policy.allows(None, scope)  # not a browser: not policed by Origin
