"""Server processes: start each on a free loopback port, wait until it answers, stop it.

Every server is its own process (``graphwire serve`` or uvicorn with a baseline factory), so
its CPU time and memory can be read from ``/proc`` apart from the load generator's.

Example:
    >>> async with running([graphwire_spec(env)], workdir) as servers:   # doctest: +SKIP
    ...     servers["graphwire"].cpu()
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.procstat import cpu_seconds, cpu_times, peak_rss_kib, rss_kib

__all__ = [
    "HOST",
    "ROOT",
    "Server",
    "ServerSpec",
    "baseline_spec",
    "graphwire_spec",
    "running",
    "stop_all",
]

HOST = "127.0.0.1"  # loopback only, always
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
START_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0
# The uvicorn options api/server.py gives graphwire, so every server speaks WebSocket alike.
UVICORN_OPTIONS = [
    "--ws", "websockets-sansio",
    "--ws-per-message-deflate", "false",
    "--ws-max-size", "1048576",
    "--ws-ping-interval", "15",
    "--ws-ping-timeout", "15",
    "--timeout-graceful-shutdown", "5",
    "--log-level", "warning",
    "--no-server-header",
]  # fmt: skip


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server: its name, its command (``{port}`` is filled in), its env."""

    name: str
    command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Server:
    """A started server process."""

    spec: ServerSpec
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def ws_url(self, path: str) -> str:
        return f"ws://{HOST}:{self.port}{path}"

    def cpu(self) -> float:
        """CPU seconds the server has used so far."""
        return cpu_seconds(self.pid)

    def cpu_times(self) -> tuple[float, float]:
        """User and system CPU seconds the server has used so far."""
        return cpu_times(self.pid)

    def rss(self) -> int:
        """Resident memory in KiB now."""
        return rss_kib(self.pid)

    def peak_rss(self) -> int:
        return peak_rss_kib(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def graphwire_spec(env: Mapping[str, str], name: str = "graphwire") -> ServerSpec:
    """``graphwire serve`` configured by ``GRAPHWIRE_*`` variables."""
    return ServerSpec(name, (str(BIN / "graphwire"), "serve", "--port", "{port}"), env)


def baseline_spec(name: str, factory: str, env: Mapping[str, str]) -> ServerSpec:
    """uvicorn serving ``bench.baselines:<factory>`` with graphwire's WebSocket options."""
    command = (
        str(BIN / "python"), "-m", "uvicorn", f"bench.baselines:{factory}", "--factory",
        "--host", HOST, "--port", "{port}", *UVICORN_OPTIONS,
    )  # fmt: skip
    return ServerSpec(name, command, env)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any GRAPHWIRE_* setting, then ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHWIRE_")}
    env.update(extra)
    return env


_live: dict[int, Server] = {}  # every started server not yet stopped, for stop_all()


def _start(spec: ServerSpec, workdir: Path) -> Server:
    port = _free_port()
    log_path = workdir / f"{spec.name}-{port}.log"
    command = [part.replace("{port}", str(port)) for part in spec.command]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=_environment(spec.env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(spec, port, process, log_path)
    _live[process.pid] = server
    return server


async def _wait_ready(server: Server) -> None:
    """Poll ``/health`` until it answers 200; fail early if the process dies."""
    deadline = time.monotonic() + START_TIMEOUT
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{server.http_url}/health")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{server.name} did not answer /health in {START_TIMEOUT:.0f} s")


def stop(server: Server) -> None:
    """SIGTERM (uvicorn shuts down gracefully), then SIGKILL if it lingers; by PID only."""
    process = server.process
    _live.pop(process.pid, None)
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT)


def stop_all() -> None:
    """Stop every server this process started and has not stopped yet (an exit hook)."""
    for server in list(_live.values()):
        stop(server)


@asynccontextmanager
async def running(specs: list[ServerSpec], workdir: Path) -> AsyncIterator[dict[str, Server]]:
    """Start every server of ``specs`` at once, wait until all answer, stop them all after."""
    servers: dict[str, Server] = {}
    try:
        for spec in specs:
            servers[spec.name] = _start(spec, workdir)
        await asyncio.gather(*(_wait_ready(s) for s in servers.values()))
        yield servers
    finally:
        for server in servers.values():
            stop(server)
