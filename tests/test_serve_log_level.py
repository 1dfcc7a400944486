"""``graphwire serve --log-level``, as a user runs it: a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.serving import free_port, wait_ready

GRAPHWIRE = Path(sys.executable).parent / "graphwire"
MINIPACK = Path(__file__).parent / "fixtures" / "minipack"


def _clean_env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHWIRE_")}
    return {**clean, "GRAPHWIRE_CHECKPOINT_PATH": ":memory:", "GRAPHWIRE_OFFLINE_TOKEN_DELAY": "0"}


def _serve(tmp_path: Path, *options: str) -> str:
    """Start ``graphwire serve`` with ``options``, wait for /ready, open one WebSocket and read
    its greeting, stop the server: its output."""
    port = free_port()
    process = subprocess.Popen(
        [str(GRAPHWIRE), "serve", "--port", str(port), "--pack", str(MINIPACK), *options],
        cwd=tmp_path, env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        wait_ready(process, port)
        with connect(f"ws://127.0.0.1:{port}/ws/chat") as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "connected"
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode in (0, 130), output
    assert "Traceback" not in output, output
    return output


def test_log_level_debug_in_any_case_shows_the_handshake(tmp_path: Path) -> None:
    output = _serve(tmp_path, "--log-level", "dEbUg")
    assert "DEBUG:    < GET /ws/chat HTTP/1.1" in output, output


def test_log_level_error_quiets_graphwire_and_uvicorn_alike(tmp_path: Path) -> None:
    output = _serve(tmp_path, "--log-level", "ERROR")
    # graphwire's own warning (through the root logger) follows the level, as uvicorn's lines do
    assert "AUTHENTICATION IS OFF" not in output and "INFO" not in output, output


@pytest.mark.parametrize("level", ["loud", "", "10"])
def test_a_wrong_log_level_is_a_clear_error(tmp_path: Path, level: str) -> None:
    result = subprocess.run(
        [str(GRAPHWIRE), "serve", "--log-level", level, "--pack", str(MINIPACK)],
        capture_output=True, text=True, timeout=60, check=False, env=_clean_env(), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: a setting is wrong: --log-level: "), result.stderr
    assert "'CRITICAL', 'ERROR', 'WARNING', 'INFO' or 'DEBUG'" in result.stderr
    assert "Traceback" not in result.stderr
