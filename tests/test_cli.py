"""The ``graphwire`` console script, run as a user runs it: a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from graphwire.transport.protocol import parse_envelope
from tests.conftest import assert_run_invariants

GRAPHWIRE = Path(sys.executable).parent / "graphwire"
SPECS_QUESTION = "What is the maximum propeller speed in rpm?"  # first line of the shipped eval


def run(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "GRAPHWIRE_CHECKPOINT_PATH": str(tmp_path / "conversations.sqlite"),
        "GRAPHWIRE_OFFLINE_TOKEN_DELAY": "0",
        **env,
    }
    return subprocess.run(
        [str(GRAPHWIRE), *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def test_chat_streams_a_routed_answer_with_sources(tmp_path: Path) -> None:
    result = run("chat", SPECS_QUESTION, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Routed to specs" in out
    assert "↳ specs/motor-specifications#" in out
    assert "The maximum propeller speed of the Voltra 6 is approximately 1,400 rpm." in out
    assert "[specs/motor-specifications#" in out  # citations are printed, not eaten as markup
    assert "specs (" in out and "graphwire-offline" in out


def test_chat_json_prints_one_envelope_per_line(tmp_path: Path) -> None:
    result = run("chat", "--json", SPECS_QUESTION, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    envelopes = [parse_envelope(line) for line in result.stdout.splitlines()]
    assert_run_invariants(envelopes, reason="complete")
    assert len([e for e in envelopes if e.type == "text"]) > 5  # streamed, not one block
    assert envelopes[-2].data.agent == "specs"
    assert json.loads(result.stdout.splitlines()[0])["type"] == "workflow_step"


def test_chat_session_continues_a_conversation_across_processes(tmp_path: Path) -> None:
    first = run(
        "chat", "--json", "--session", "s_cli", "What does fault E03 mean?", tmp_path=tmp_path
    )
    assert first.returncode == 0, first.stderr
    second = run(
        "chat", "--json", "--session", "s_cli", "and what should I check?", tmp_path=tmp_path
    )
    assert second.returncode == 0, second.stderr
    envelopes = [parse_envelope(line) for line in second.stdout.splitlines()]
    step = envelopes[1].data
    assert step.agent == "troubleshooting" and step.detail == "follow-up to the previous question"
    assert {e.session_id for e in envelopes} == {"s_cli"}
    assert "check the cooling water intake grilles" in envelopes[-2].data.text


def test_chat_refuses_an_empty_question_clearly(tmp_path: Path) -> None:
    result = run("chat", "   ", tmp_path=tmp_path)
    assert result.returncode == 2
    assert "error: the message is empty" in result.stderr
    assert "Traceback" not in result.stderr


def test_chat_with_an_unknown_model_fails_fast(tmp_path: Path) -> None:
    result = run("chat", "hi", tmp_path=tmp_path, GRAPHWIRE_MODEL="bard")
    assert result.returncode == 2
    assert "unknown model 'bard'" in result.stderr and "Traceback" not in result.stderr


def test_chat_with_an_openai_model_and_no_key_says_which_setting(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if "OPENAI" not in k}
    result = subprocess.run(
        [str(GRAPHWIRE), "chat", "hi"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
        env={**env, "GRAPHWIRE_MODEL": "openai:gpt-4o-mini"},
    )  # fmt: skip
    assert result.returncode == 2
    assert "OPENAI_API_KEY" in result.stderr and "Traceback" not in result.stderr


def test_eval_json_reports_the_figures(tmp_path: Path) -> None:
    result = run("eval", "--json", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["routing_accuracy"] >= 0.9 and report["recall_at_3"] >= 0.9
    assert isinstance(report["misses"], list)


def test_eval_exits_non_zero_below_the_thresholds(tmp_path: Path) -> None:
    questions = tmp_path / "mislabelled.jsonl"
    rows = [{"question": "How do I change the gear oil?", "agent": "specs",
             "source": "specs/motor-specifications.md"}] * 3  # fmt: skip
    questions.write_text("\n".join(json.dumps(r) for r in rows))
    result = run("eval", "--questions", str(questions), tmp_path=tmp_path)
    assert result.returncode == 1
    assert "below target" in result.stderr
    lenient = run("eval", "--questions", str(questions), "--min-routing", "0", "--min-recall", "0",
                  tmp_path=tmp_path)  # fmt: skip
    assert lenient.returncode == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "mislabelled.jsonl:1: not a valid question"),
     ('{"question": "x", "agent": "pilot", "source": "a.md"}', "agents the pack lacks: ['pilot']"),
     ("", "holds no questions")],
)  # fmt: skip
def test_eval_explains_a_bad_question_file(tmp_path: Path, content: str, message: str) -> None:
    questions = tmp_path / "mislabelled.jsonl"
    questions.write_text(content)
    result = run("eval", "--questions", str(questions), tmp_path=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_graph_prints_mermaid(tmp_path: Path) -> None:
    result = run("graph", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "graph TD;" in result.stdout
    for agent in ("specs", "maintenance", "troubleshooting", "general"):
        assert f"classify -.-> {agent};" in result.stdout
