"""What a running app holds: built by the lifespan, reached through ``request.app.state``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection

from graphwire.api.auth import Authenticator
from graphwire.api.limits import RateLimiter
from graphwire.api.metrics import Metrics
from graphwire.api.origins import OriginPolicy
from graphwire.api.settings import Settings
from graphwire.transport.runs.registry import RunRegistry

if TYPE_CHECKING:
    from graphwire.api.ws.connection import ChatConnection

__all__ = ["AppState", "app_state"]


@dataclass(eq=False)
class AppState:
    settings: Settings
    graph: Any
    registry: RunRegistry
    auth: Authenticator
    origins: OriginPolicy
    metrics: Metrics
    connection_limiter: RateLimiter
    user_limiter: RateLimiter
    connections: set[ChatConnection] = field(default_factory=set)
    draining: bool = False

    async def drain(self) -> None:
        """Shutdown: end every run (each logs its ``end``), let sockets flush, close them 1012."""
        if self.draining:
            return
        self.draining = True
        await self.registry.close()
        await asyncio.gather(*(c.close_for_restart() for c in list(self.connections)))


def app_state(conn: HTTPConnection) -> AppState:
    state = conn.app.state.graphwire
    assert isinstance(state, AppState)
    return state
