"""Routes for whoever runs the server: liveness (``/health``), readiness (``/ready``) and
Prometheus metrics (``/metrics``).

``/metrics`` tells how many people are connected and how busy the server is, so it is not served
to anyone who asks: see :func:`metrics_refusal`.

Example:
    >>> app.include_router(create_ops_router())                    # doctest: +SKIP
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request, Response

from graphwire.api.http.errors import error_response
from graphwire.api.settings import Settings
from graphwire.api.state import app_state
from graphwire.transport.protocol import ErrorCode

__all__ = ["create_ops_router", "is_loopback", "metrics_refusal"]

_HOW_TO_OPEN = (
    "set GRAPHWIRE_METRICS_PUBLIC=true to serve it to anyone, or set GRAPHWIRE_METRICS_TOKEN "
    "and send it as 'Authorization: Bearer <token>'"
)
NOT_LOOPBACK = f"/metrics is served only to clients on this machine (loopback); {_HOW_TO_OPEN}"
WRONG_TOKEN = "/metrics refused: the Authorization header does not carry GRAPHWIRE_METRICS_TOKEN"


def is_loopback(address: str | None) -> bool:
    """Whether ``address`` (a client's IP, as the server sees it) is this machine's loopback.

    >>> [is_loopback(a) for a in ("127.0.0.1", "127.8.9.1", "::1", "::ffff:127.0.0.1")]
    [True, True, True, True]
    >>> [is_loopback(a) for a in ("203.0.113.7", "::ffff:203.0.113.7", "localhost", None)]
    [False, False, False, False]
    """
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:  # no address, or not an IP (a Unix socket's peer): not known to be local
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def metrics_refusal(
    settings: Settings, *, address: str | None, authorization: str | None
) -> str | None:
    """Why a request may not read ``/metrics``, or None when it may.

    Anyone may when ``metrics_public`` is set. Otherwise a request that carries
    ``Authorization: Bearer <metrics_token>`` may, from anywhere; one that carries another
    credential while a metrics token is set may not, from anywhere; any other may if its client
    ``address`` is loopback. The reason never quotes the token.

    >>> metrics_refusal(Settings(), address="127.0.0.1", authorization=None) is None
    True
    >>> metrics_refusal(Settings(), address="203.0.113.7", authorization=None) == NOT_LOOPBACK
    True
    """
    if settings.metrics_public:
        return None
    token = settings.metrics_token
    expected = token.get_secret_value().encode() if token is not None else b""
    if expected and authorization is not None:  # (an empty token opens nothing)
        scheme, _, presented = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), expected):
            return None
        return WRONG_TOKEN
    return None if is_loopback(address) else NOT_LOOPBACK


def create_ops_router() -> APIRouter:
    """``/health``, ``/ready`` and ``/metrics``, for probes and scrapers."""
    router = APIRouter(tags=["ops"])

    @router.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @router.get("/ready")
    async def ready(request: Request) -> Response:
        """Readiness: the graph is built and the server is not shutting down."""
        state = getattr(request.app.state, "graphwire", None)
        if state is None or state.draining:
            return Response(
                '{"status":"unavailable"}', status_code=503, media_type="application/json"
            )
        return Response('{"status":"ready"}', media_type="application/json")

    @router.get(
        "/metrics",
        responses={403: {"description": "not a loopback client, and no metrics token"}},
    )
    async def metrics(request: Request) -> Response:
        """Prometheus text exposition: for loopback clients, the metrics token, or anyone
        (``GRAPHWIRE_METRICS_PUBLIC``)."""
        state = app_state(request)
        refusal = metrics_refusal(
            state.settings,
            address=request.client.host if request.client else None,
            authorization=request.headers.get("authorization"),
        )
        if refusal is not None:
            return error_response(ErrorCode.FORBIDDEN, refusal)
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")

    return router
