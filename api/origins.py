"""Which browser pages may open ``/ws/chat``: the server's own, and the origins configured.

Starlette checks no ``Origin`` by itself. A page this server served (the test page, or an app's
page mounted beside it) connects from the server's own origin on whatever host and port it was
started, so that origin is always allowed. It is derived from the socket the handshake arrived on
(ASGI ``scope["server"]``), never from the ``Host`` header, which a DNS-rebinding page controls;
a loopback address also answers to ``localhost``, ``127.0.0.1`` and ``[::1]``. Any other origin
must be listed in ``GRAPHWIRE_ALLOWED_ORIGINS`` (``*`` allows every one). Clients that send no
``Origin`` (scripts, the Python client) are not browsers and are not policed by it.

A refused origin is logged once, at WARNING, with the setting that would allow it: the browser
only ever sees a failed handshake.

Example:
    >>> sorted(own_origins("ws", ("127.0.0.1", 8031)))
    ['http://127.0.0.1:8031', 'http://[::1]:8031', 'http://localhost:8031']
    >>> policy = OriginPolicy(["https://chat.example"])
    >>> policy.allows("https://chat.example", {"scheme": "ws", "server": ("10.0.0.5", 8000)})
    True
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

__all__ = ["OriginPolicy", "own_origins"]

log = logging.getLogger("graphwire.ws")

_LOOPBACK = ("localhost", "127.0.0.1", "[::1]")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_REMEMBERED = 100  # refused origins logged by name; after that, one line says so and no more


@lru_cache(maxsize=64)
def own_origins(scheme: str, server: tuple[str, int | None] | None) -> frozenset[str]:
    """The origins a page served from this listening address has (``scope`` scheme and server).

    >>> sorted(own_origins("wss", ("10.0.0.5", 443)))
    ['https://10.0.0.5']
    """
    if server is None or server[1] is None:  # a Unix socket: no origin of its own
        return frozenset()
    host, port = server
    web = "https" if scheme in ("wss", "https") else "http"
    names = {host.lower()}
    with contextlib.suppress(ValueError):  # not an IP address: a name
        address = ipaddress.ip_address(host)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # a dual-stack socket's IPv4 client
        names = {f"[{address}]" if address.version == 6 else str(address)}
        if address.is_loopback:
            names.update(_LOOPBACK)
    suffix = "" if port == _DEFAULT_PORTS[web] else f":{port}"
    return frozenset(f"{web}://{n}{suffix}" for n in names)


class OriginPolicy:
    """Decides a handshake's ``Origin``; see the module docstring. One per app."""

    def __init__(self, allowed: Iterable[str]) -> None:
        self.allowed = frozenset(allowed)  # as Settings checked them: scheme://host[:port]
        self.any = "*" in self.allowed
        self._refused: set[str] = set()

    def allows(self, origin: str | None, scope: Mapping[str, Any]) -> bool:
        """Whether a handshake with this ``Origin`` header may become a WebSocket."""
        if origin is None or self.any:
            return True
        origin = origin.rstrip("/")
        if origin in self.allowed:
            return True
        server = scope.get("server")
        if origin.lower() in own_origins(str(scope.get("scheme", "ws")), _address(server)):
            return True
        self._log_refusal(origin)
        return False

    def _log_refusal(self, origin: str) -> None:
        if origin in self._refused or len(self._refused) > _REMEMBERED:
            return
        self._refused.add(origin)
        if len(self._refused) > _REMEMBERED:
            log.warning("more WebSocket handshakes refused for their origin; not logged by name")
            return
        log.warning(
            "refused a WebSocket handshake from origin %r: a browser page may connect only from "
            "this server's own origin or one listed in GRAPHWIRE_ALLOWED_ORIGINS",
            origin[:200],
        )


def _address(server: Any) -> tuple[str, int | None] | None:
    """ASGI's ``scope["server"]`` as a hashable pair (servers may give a list)."""
    if server is None:
        return None
    host, port = server
    return str(host), (int(port) if port is not None else None)
