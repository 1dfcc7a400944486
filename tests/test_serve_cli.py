"""``graphwire serve`` and ``graphwire token`` as a user runs them: real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from graphwire.api.auth import Authenticator
from graphwire.api.settings import Settings
from graphwire.transport.protocol.errors import ConfigurationError
from tests.serving import free_port, wait_ready

GRAPHWIRE = Path(sys.executable).parent / "graphwire"
MINIPACK = Path(__file__).parent / "fixtures" / "minipack"


def test_serve_answers_over_http_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "GRAPHWIRE_CHECKPOINT_PATH": ":memory:",
        "GRAPHWIRE_OFFLINE_TOKEN_DELAY": "0",
    }
    process = subprocess.Popen(
        [str(GRAPHWIRE), "serve", "--port", str(port), "--pack", str(MINIPACK)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_ready(process, port)
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/chat",
            json={"message": "What does error F3 mean?"},
            timeout=30,
        ).json()
        assert answer["agent"] == "faults" and answer["text"].startswith("Error F3 means")
        assert httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    # uvicorn re-raises the signal after a clean shutdown: 130 is SIGINT's conventional status
    assert process.returncode in (0, 130), output
    assert "Application shutdown complete." in output
    assert "AUTHENTICATION IS OFF" in output  # said loudly at start
    assert "Traceback" not in output


def test_serve_refuses_a_broken_pack_with_its_reason(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(GRAPHWIRE), "serve", "--pack", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "no pack.toml" in result.stderr and "Traceback" not in result.stderr


def test_token_mints_a_token_the_server_accepts(tmp_path: Path) -> None:
    secret = "k" * 32
    env = {**os.environ, "GRAPHWIRE_JWT_SECRET": secret}
    result = subprocess.run(
        [str(GRAPHWIRE), "token", "--sub", "alice", "--ttl", "1h"],
        capture_output=True, text=True, timeout=60, check=False, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    user = Authenticator(secret=secret).verify(token)
    assert user.id == "alice" and user.expires_at is not None
    assert 3500 < user.expires_at - time.time() <= 3601  # exp is whole seconds


def test_token_without_a_secret_explains_what_to_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHWIRE_JWT")}
    result = subprocess.run(
        [str(GRAPHWIRE), "token", "--sub", "alice"],
        capture_output=True, text=True, timeout=60, check=False, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "GRAPHWIRE_JWT_SECRET" in result.stderr


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://a.example, https://b.example/", ["http://a.example", "https://b.example"]),
        ('["*"]', ["*"]),
        ("http://only.example", ["http://only.example"]),
    ],
)
def test_allowed_origins_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: list[str]
) -> None:
    monkeypatch.setenv("GRAPHWIRE_ALLOWED_ORIGINS", raw)
    assert Settings(_env_file=None).allowed_origins == expected  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("command", "env", "named", "why"),
    [
        (["serve"], {"GRAPHWIRE_PORT": "abc"}, "GRAPHWIRE_PORT", "valid integer"),
        (["serve"], {"GRAPHWIRE_ALLOWED_ORIGINS": "localhost:3000"}, "GRAPHWIRE_ALLOWED_ORIGINS",
         "'localhost:3000' is not an origin"),
        (["serve"], {"GRAPHWIRE_ALLOWED_ORIGINS": "http://a.example/app"},
         "GRAPHWIRE_ALLOWED_ORIGINS", "with no path"),
        (["serve", "--port", "70000"], {}, "--port", "less than or equal to 65535"),
        (["chat", "hi"], {"GRAPHWIRE_RUN_TIMEOUT": "-1"}, "GRAPHWIRE_RUN_TIMEOUT", "greater than 0"),
        (["chat", "--delay", "9", "hi"], {}, "--delay", "less than or equal to 5"),
        (["token", "--sub", "a"], {"GRAPHWIRE_JWT_LEEWAY": "sekrit-value"},
         "GRAPHWIRE_JWT_LEEWAY", "valid number"),
    ],
)  # fmt: skip
def test_a_wrong_setting_is_a_clear_error_not_a_traceback(
    tmp_path: Path, command: list[str], env: dict[str, str], named: str, why: str
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHWIRE_")}
    result = subprocess.run(
        [str(GRAPHWIRE), *command], capture_output=True, text=True, timeout=60, check=False,
        env={**clean, **env}, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: a setting is wrong: "), result.stderr
    assert named in result.stderr and why in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert all(value not in result.stderr for value in env.values() if "sekrit" in value)


def test_settings_name_the_variables_a_field_reads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("GRAPHWIRE_MAX_CONNECTIONS", "0")
    monkeypatch.setenv("GRAPHWIRE_SEND_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError) as wrong:
        Settings.load(top_k=None)  # None: not given on the command line
    problems = wrong.value.message.removeprefix("a setting is wrong: ").split("; ")
    assert [p.split(":")[0] for p in problems] == [
        "GRAPHWIRE_MAX_CONNECTIONS",
        "GRAPHWIRE_SEND_TIMEOUT",
    ]
    assert "greater than or equal to 1" in problems[0] and "valid number" in problems[1]
    monkeypatch.delenv("GRAPHWIRE_MAX_CONNECTIONS")
    monkeypatch.delenv("GRAPHWIRE_SEND_TIMEOUT")
    assert Settings.load(top_k=7, port=None).top_k == 7  # the command line's values on top
    assert Settings._variable("openai_api_key") == "GRAPHWIRE_OPENAI_API_KEY or OPENAI_API_KEY"
