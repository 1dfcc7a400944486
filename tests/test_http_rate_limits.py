"""The HTTP per-client rate limit: per user with authentication on, per address with it off.

It used to be per address always, so every user behind one proxy or NAT shared one budget.
"""

from __future__ import annotations

import httpx

from graphwire.api.tokens import mint_token
from tests.server import running, server_settings

Q = "What does error F3 mean?"
SECRET = "l" * 32


async def _ask(http: httpx.AsyncClient, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.post("/api/v1/chat", json={"message": Q}, headers=headers)
    return response.status_code


async def test_users_behind_one_address_each_have_their_own_http_budget() -> None:
    settings = server_settings(
        jwt_secret=SECRET, rate_limit_per_minute=2, user_rate_limit_per_minute=100
    )
    tokens = [mint_token(secret=SECRET, sub=f"user{i}", ttl_seconds=300) for i in range(4)]
    with running(settings) as live:
        async with httpx.AsyncClient(base_url=live.http, timeout=30) as http:
            for token in tokens:  # all from 127.0.0.1
                assert [await _ask(http, token), await _ask(http, token)] == [200, 200]
            assert await _ask(http, tokens[0]) == 429  # each user's own budget is spent


async def test_with_auth_off_the_http_budget_is_the_address() -> None:
    settings = server_settings(rate_limit_per_minute=2, user_rate_limit_per_minute=100)
    with running(settings) as live:
        async with httpx.AsyncClient(base_url=live.http, timeout=30) as http:
            assert [await _ask(http) for _ in range(3)] == [200, 200, 429]
