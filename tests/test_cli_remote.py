"""``graphwire chat --url …`` as a user runs it: a real process against a real server.

One-shot and interactive, over WebSocket and SSE; Ctrl-C is a real SIGINT sent mid-answer.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from pydantic import SecretStr

from graphwire.api.tokens import mint_token
from graphwire.transport.protocol import RunEnvelope, parse_envelope
from tests.conftest import assert_run_invariants
from tests.server import Running, running, server_settings

GRAPHWIRE = Path(sys.executable).parent / "graphwire"
Q = "What does error F3 mean?"
FOLLOW_UP = "How do I descale the kettle?"
SECRET = "r" * 32


def graphwire(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GRAPHWIRE), *args], input=stdin, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60, check=False)  # fmt: skip


def runs(stdout: str) -> list[list[RunEnvelope]]:
    """The runs printed by ``--json``, one envelope per line, in order."""
    out: list[list[RunEnvelope]] = []
    for line in stdout.splitlines():
        envelope = parse_envelope(line)
        if envelope.seq == 0:
            out.append([])
        out[-1].append(envelope)  # type: ignore[arg-type]
    return out


def address(live: Running, transport: str) -> str:
    return live.ws if transport == "ws" else live.http


@pytest.fixture(scope="module")
def live() -> Any:
    with running(server_settings(offline_token_delay=0.0)) as server:
        yield server


@pytest.mark.parametrize("transport", ["ws", "sse"])
def test_one_question_streams_from_the_server(live: Running, transport: str) -> None:
    result = graphwire("chat", "--url", address(live, transport), "--json", Q)
    assert result.returncode == 0, result.stderr
    [run] = runs(result.stdout)
    assert_run_invariants(run, reason="complete")
    assert run[-2].data.agent == "faults"  # type: ignore[union-attr]

    shown = graphwire("chat", "--url", address(live, transport), Q)
    assert shown.returncode == 0, shown.stderr
    assert "Routed to faults" in shown.stdout and "↳ faults/codes#1" in shown.stdout
    assert "Error F3 means the temperature sensor failed." in shown.stdout


@pytest.mark.parametrize("transport", ["ws", "sse"])
def test_without_a_question_it_is_a_conversation(live: Running, transport: str) -> None:
    result = graphwire("chat", "--url", address(live, transport), "--json",
                       stdin=f"{Q}\n\n{FOLLOW_UP}\n")  # fmt: skip
    assert result.returncode == 0, result.stderr
    first, second = runs(result.stdout)
    assert_run_invariants(first, reason="complete")
    assert_run_invariants(second, reason="complete")
    assert first[0].session_id == second[0].session_id  # one conversation
    assert second[-2].data.agent == "care"  # type: ignore[union-attr]
    history = httpx.get(f"{live.http}/api/v1/sessions/{first[0].session_id}/messages").json()
    assert [m["role"] for m in history["messages"]] == ["user", "assistant"] * 2


def test_the_transport_can_be_chosen_and_a_session_continued(live: Running) -> None:
    first = graphwire("chat", "--url", live.http, "--transport", "ws", "--json",
                      "--session", "s_cli_remote", Q)  # fmt: skip
    second = graphwire("chat", "--url", live.ws, "--transport", "sse", "--json",
                       "--session", "s_cli_remote", FOLLOW_UP)  # fmt: skip
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert {e.session_id for run in runs(first.stdout) + runs(second.stdout) for e in run} == {
        "s_cli_remote"}  # fmt: skip


def test_interactive_chat_shows_each_answer(live: Running) -> None:
    result = graphwire("chat", "--url", live.ws, stdin=f"{Q}\n{FOLLOW_UP}\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Routed to") == 2
    assert "Error F3 means" in result.stdout and "descal" in result.stdout.lower()


# --------------------------------------------------------------------------- Ctrl-C


class Reader:
    """Lines of a pipe, read on a thread, waited for with a deadline."""

    def __init__(self, pipe: IO[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(pipe,), daemon=True).start()

    def _read(self, pipe: IO[str]) -> None:
        for line in pipe:
            self.lines.put(line)
        self.lines.put(None)

    def until(self, wanted: Any, timeout: float = 30) -> RunEnvelope:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            assert line is not None, f"the output ended: {self.seen}"
            self.seen.append(line)
            envelope = parse_envelope(line)
            if wanted(envelope):
                return envelope  # type: ignore[return-value]
        raise AssertionError(f"not seen in time; got {self.seen}")


@pytest.mark.parametrize("transport", ["ws", "sse"])
def test_ctrl_c_stops_the_answer_and_the_conversation_goes_on(transport: str) -> None:
    slow = running(server_settings(offline_token_delay=0.1))  # ~2 s per answer
    with slow as live, subprocess.Popen(
        [str(GRAPHWIRE), "chat", "--url", address(live, transport), "--json"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as process:  # fmt: skip
        assert process.stdin is not None and process.stdout is not None
        assert process.stderr is not None
        out = Reader(process.stdout)
        try:
            process.stdin.write(f"{Q}\n")
            process.stdin.flush()
            out.until(lambda e: e.type == "text")
            process.send_signal(signal.SIGINT)
            end = out.until(lambda e: e.type == "end")
            assert end.data.reason == "cancelled"  # type: ignore[union-attr]
            process.stdin.write(f"{FOLLOW_UP}\n")
            process.stdin.flush()
            final = out.until(lambda e: e.type == "final", timeout=60)
            last = out.until(lambda e: e.type == "end")
            assert last.data.reason == "complete"  # type: ignore[union-attr]
            process.stdin.close()
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
        errors = process.stderr.read()
    assert "Traceback" not in errors
    assert final.session_id == end.session_id  # the same conversation
    assert final.data.agent == "care"  # type: ignore[union-attr]


@pytest.mark.parametrize("transport", ["ws", "sse"])
def test_a_server_not_up_yet_is_waited_for_and_the_waiting_shown(transport: str) -> None:
    """The CLI started first: it says on stderr what failed and when it tries again, then
    answers once the server listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])  # free once closed; the server takes it later
    url = f"ws://127.0.0.1:{port}/ws/chat" if transport == "ws" else f"http://127.0.0.1:{port}"
    with subprocess.Popen(
        [str(GRAPHWIRE), "chat", "--url", url, "--json", Q],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as process:  # fmt: skip
        assert process.stderr is not None
        try:
            first = process.stderr.readline()  # the first attempt met a closed port
            with running(server_settings(), port=port):
                out, rest = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    err = first + rest
    assert process.returncode == 0, err
    assert first.startswith("· ") and f"127.0.0.1:{port}" in first, err
    assert "trying again in" in first and "(retry 1 of 7)" in first, err
    assert "Traceback" not in err
    (run,) = runs(out)
    assert_run_invariants(run, reason="complete")


# --------------------------------------------------------------------------- refusals


@pytest.fixture(scope="module")
def secured() -> Any:
    with running(server_settings(jwt_secret=SecretStr(SECRET))) as server:
        yield server


@pytest.mark.parametrize("transport", ["ws", "sse"])
def test_a_token_from_the_environment_or_the_option(secured: Running, transport: str) -> None:
    token = mint_token(secret=SECRET, sub="carol", ttl_seconds=60)
    by_env = graphwire("chat", "--url", address(secured, transport), "--json", Q,
                       GRAPHWIRE_TOKEN=token)  # fmt: skip
    assert by_env.returncode == 0, by_env.stderr
    by_option = graphwire("chat", "--url", address(secured, transport), "--token", token, Q)
    assert by_option.returncode == 0, by_option.stderr


@pytest.mark.parametrize("transport", ["ws", "sse"])
def test_refusals_are_clear_errors(secured: Running, transport: str) -> None:
    bad = graphwire("chat", "--url", address(secured, transport), "--token", "not-a-jwt", Q)
    assert bad.returncode == 2
    assert "AUTH_FAILED" in bad.stderr and "Traceback" not in bad.stderr
    none = graphwire("chat", "--url", address(secured, transport), Q)
    assert none.returncode == 2 and "AUTH_REQUIRED" in none.stderr
    token = mint_token(secret=SECRET, sub="dave", ttl_seconds=60)
    empty = graphwire("chat", "--url", address(secured, transport), "--token", token, "   ")
    assert empty.returncode == 2 and "EMPTY_MESSAGE" in empty.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--token", "t", Q], "need --url"),
     (["--url", "ftp://x", Q], "ws://, wss://, http:// or https://"),
     (["--url", "ws://x", "--transport", "smoke", Q], "ws or sse"),
     (["--url", "ws://x", "--pack", ".", Q], "in-process")],
)  # fmt: skip
def test_option_mistakes_are_explained(args: list[str], message: str) -> None:
    result = graphwire("chat", *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_the_conversation_mode_works_in_process_too(tmp_path: Path) -> None:
    result = graphwire("chat", "--json", stdin="What does fault E03 mean?\nand what should I check?\n",
                       GRAPHWIRE_CHECKPOINT_PATH=str(tmp_path / "c.sqlite"),
                       GRAPHWIRE_OFFLINE_TOKEN_DELAY="0")  # fmt: skip
    assert result.returncode == 0, result.stderr
    first, second = runs(result.stdout)
    assert first[0].session_id == second[0].session_id
    assert second[1].data.detail == "follow-up to the previous question"  # type: ignore[union-attr]
