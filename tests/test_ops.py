"""Who may read /metrics, and whose X-Forwarded-For is believed: a real uvicorn, real requests.

A server bound on 127.0.0.1 only ever sees loopback peers, so a far-away client is made the only
way a deployment makes one: through a trusted proxy's ``X-Forwarded-For``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from graphwire.api.http.ops import NOT_LOOPBACK, WRONG_TOKEN, is_loopback, metrics_refusal
from graphwire.api.settings import Settings
from tests.server import Running, running, server_settings

FAR = "203.0.113.7"  # TEST-NET-3: an address that is nobody's loopback
TOKEN = "metrics-token-0123456789"


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        (FAR, False),
        ("10.0.0.1", False),
        ("::ffff:203.0.113.7", False),
        ("2001:db8::1", False),
        ("0.0.0.0", False),
        ("localhost", False),  # a name, not an address: nothing proves it is local
        ("", False),
        (None, False),
    ],
)
def test_is_loopback(address: str | None, loopback: bool) -> None:
    assert is_loopback(address) is loopback


@pytest.mark.parametrize(
    ("values", "address", "authorization", "refusal"),
    [
        ({}, "127.0.0.1", None, None),
        ({}, "::1", None, None),
        ({}, FAR, None, NOT_LOOPBACK),
        ({}, FAR, f"Bearer {TOKEN}", NOT_LOOPBACK),  # no metrics token set: a bearer is no key
        ({"metrics_public": True}, FAR, None, None),
        ({"metrics_token": SecretStr(TOKEN)}, FAR, f"Bearer {TOKEN}", None),
        ({"metrics_token": SecretStr(TOKEN)}, FAR, f"bearer  {TOKEN} ", None),
        ({"metrics_token": SecretStr(TOKEN)}, FAR, None, NOT_LOOPBACK),
        ({"metrics_token": SecretStr(TOKEN)}, FAR, f"Bearer {TOKEN}x", WRONG_TOKEN),
        ({"metrics_token": SecretStr(TOKEN)}, FAR, f"Basic {TOKEN}", WRONG_TOKEN),
        ({"metrics_token": SecretStr(TOKEN)}, FAR, "Bearer tökén", WRONG_TOKEN),
        ({"metrics_token": SecretStr(TOKEN)}, "127.0.0.1", "Bearer nope", WRONG_TOKEN),
        ({"metrics_token": SecretStr(TOKEN)}, "127.0.0.1", None, None),
        ({"metrics_token": SecretStr("")}, FAR, "Bearer ", NOT_LOOPBACK),  # empty opens nothing
    ],
)
def test_who_may_read_metrics(
    values: dict[str, Any], address: str, authorization: str | None, refusal: str | None
) -> None:
    assert metrics_refusal(_settings(**values), address=address, authorization=authorization) == (
        refusal
    )


def test_a_refusal_names_the_settings_to_change_and_never_the_token() -> None:
    assert "GRAPHWIRE_METRICS_PUBLIC" in NOT_LOOPBACK and "GRAPHWIRE_METRICS_TOKEN" in NOT_LOOPBACK
    assert "GRAPHWIRE_METRICS_TOKEN" in WRONG_TOKEN


async def _metrics(live: Running, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=live.http, timeout=10) as client:
        return await client.get("/metrics", headers=headers)


async def test_metrics_are_served_to_loopback_clients_by_default() -> None:
    with running(server_settings()) as live:
        metrics = await _metrics(live)
        assert metrics.status_code == 200
        assert "graphwire_active_runs" in metrics.text
        forged = await _metrics(live, **{"X-Forwarded-For": FAR})  # no proxy is trusted
        assert forged.status_code == 200


async def test_a_client_behind_a_trusted_proxy_is_refused_unless_it_has_the_token() -> None:
    settings = server_settings(trusted_proxies=["127.0.0.1"], metrics_token=SecretStr(TOKEN))
    far = {"X-Forwarded-For": FAR}
    with running(settings) as live:
        refused = await _metrics(live, **far)
        assert refused.status_code == 403
        assert refused.json() == {"code": "FORBIDDEN", "message": NOT_LOOPBACK}
        wrong = await _metrics(live, **far, Authorization=f"Bearer {TOKEN[:-1]}")
        assert wrong.status_code == 403 and wrong.json()["code"] == "FORBIDDEN"
        assert TOKEN[:8] not in wrong.text and TOKEN[:8] not in refused.text
        opened = await _metrics(live, **far, Authorization=f"Bearer {TOKEN}")
        assert opened.status_code == 200 and "graphwire_active_runs" in opened.text
        assert (await _metrics(live)).status_code == 200  # the proxy's own host is loopback


async def test_public_metrics_are_served_to_anyone() -> None:
    settings = server_settings(trusted_proxies=["127.0.0.1"], metrics_public=True)
    with running(settings) as live:
        assert (await _metrics(live, **{"X-Forwarded-For": FAR})).status_code == 200


@pytest.mark.parametrize(
    ("trusted", "seen", "not_seen"),
    [([], "127.0.0.1", FAR), (["127.0.0.1"], FAR, "127.0.0.1")],
)
async def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(
    trusted: list[str], seen: str, not_seen: str
) -> None:
    settings = server_settings(trusted_proxies=trusted, user_rate_limit_per_minute=1)
    with running(settings) as live:
        async with httpx.AsyncClient(base_url=live.http, timeout=30) as client:
            answer = await client.post(
                "/api/v1/chat",
                json={"message": "What does error F3 mean?"},
                headers={"X-Forwarded-For": FAR},
            )
        assert answer.status_code == 200, answer.text
        # with authentication off the per-user limit is kept per client address: its one
        # message a minute went to the address the server believed
        limiter = live.state.user_limiter
        assert limiter.retry_after(f"ip:{seen}") > 0
        assert limiter.retry_after(f"ip:{not_seen}") == 0
