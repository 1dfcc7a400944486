"""``graphwire pack init`` and ``graphwire pack check`` on real folders of documents."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from graphwire.agents import load_pack
from graphwire.agents.evaluation import load_questions
from graphwire.agents.packinit import AgentDraft, PackDraft, draft_pack, question_for
from graphwire.agents.packwriter import render_manifest
from graphwire.api.cli.main import create_cli
from tests.test_documents import HTMLPACK, tiny_pdf, write

runner = CliRunner()


def graphwire(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(create_cli(), [str(a) for a in args])
    return result.exit_code, result.output


# ---------------------------------------------------------------------------- init + check


def test_a_folder_of_html_pages_becomes_a_pack_that_checks(tmp_path: Path) -> None:
    root = tmp_path / "aurora-help"
    code, out = graphwire("pack", "init", root, "--from", HTMLPACK, "--title", "Aurora e-bikes")
    assert code == 0, out
    assert "Made the pack 'aurora-help'" in out
    assert "5 documents copied" in out and "skipped 1 file graphwire does not read" in out
    assert "graphwire pack check" in out  # what to do next
    assert (root / "docs" / "battery" / "storage" / "winter-storage.html").is_file()
    assert (root / "docs" / "repairs" / "Flat Tyres.htm").is_file()
    assert not (root / "docs" / "assets").exists()  # no document there

    pack = load_pack(root)
    assert pack.name == "aurora-help" and pack.title == "Aurora e-bikes"
    assert pack.agent_names == ("battery", "repairs", "general")
    battery, repairs, general = pack.agents
    assert battery.scope == ("battery/**",) and battery.label == "Battery"
    assert battery.description.startswith("Answers questions about: Charging the battery, Winter")
    assert "Tell me about charging temperatures." in battery.examples
    assert "Tell me about replacing the brake pads." in repairs.examples
    assert general.fallback and general.scope == ("**",) and not battery.fallback
    assert "Warranty" in general.description
    assert "say plainly that the documents do not say" in battery.system_prompt

    questions = load_questions(root / "eval.jsonl")
    assert {q.agent for q in questions} == {"battery", "repairs", "general"}
    assert all(q.source and (pack.docs_dir / q.source).is_file() for q in questions[:-1])
    assert questions[-1].unanswerable and questions[-1].agent == "general"

    code, out = graphwire("pack", "check", root)
    assert code == 0, out
    assert "5 documents (html 5)" in out
    assert "battery" in out and "2 documents  battery/**" in out
    assert "eval: 4 questions, routing 100%, recall@3 100%" in out
    assert out.rstrip().endswith("ok")


def test_a_flat_folder_gives_one_agent_that_is_the_fallback(tmp_path: Path) -> None:
    source = tmp_path / "notes"
    write(source / "descaling.md", "# Descaling\n\nUse citric acid every month.\n")
    write(source / "lid-hinge.txt", "The lid hinge is replaced with part LH-9.\n\nIt clips in.\n")
    root = tmp_path / "kettle"
    code, out = graphwire("pack", "init", root, "--from", source, "--name", "k2")
    assert code == 0, out
    pack = load_pack(root)
    assert pack.name == "k2" and pack.title == "Kettle"
    (agent,) = pack.agents
    assert agent.name == "general" and agent.fallback and agent.scope == ("**",)
    assert agent.examples == ("Tell me about descaling.", "Tell me about lid hinge.")
    code, out = graphwire("pack", "check", root)
    assert code == 0, out
    assert "2 documents (markdown 1, text 1)" in out and "routing 100%" in out


def test_documents_already_in_docs_are_used_where_they_are(tmp_path: Path) -> None:
    root = tmp_path / "pack"
    shutil.copytree(HTMLPACK, root / "docs")
    code, out = graphwire("pack", "init", root)
    assert code == 0, out
    assert "0 documents copied, 5 already there" in out
    assert load_pack(root).agent_names == ("battery", "repairs", "general")


def test_a_pdf_folder_becomes_a_pack(tmp_path: Path) -> None:
    source = tmp_path / "manuals"
    write(source / "motor" / "owner-manual.pdf", tiny_pdf(["Top speed is 25 km/h."]))
    write(source / "motor" / "Service intervals.pdf", tiny_pdf(["Every 5000 km."]))
    write(source / "warranty.md", "# Warranty\n\nTwo years.\n")
    root = tmp_path / "pack"
    code, out = graphwire("pack", "init", root, "--from", source)
    assert code == 0, out
    pack = load_pack(root)
    assert pack.agent_names == ("motor", "general")
    assert pack.agent("motor").description == (
        "Answers questions about: Service intervals, Owner manual."
    )
    (root / "eval.jsonl").unlink()  # the check's survey alone: no knowledge base is built
    code, out = graphwire("pack", "check", root)
    assert code == 0, out
    assert "3 documents (markdown 1, pdf 2)" in out and "no eval.jsonl" in out


def test_init_refuses_to_overwrite_a_pack_without_force(tmp_path: Path) -> None:
    root = tmp_path / "pack"
    assert graphwire("pack", "init", root, "--from", HTMLPACK)[0] == 0
    manifest = (root / "pack.toml").read_text()
    (root / "pack.toml").write_text(manifest + "\n# my edits\n")
    code, out = graphwire("pack", "init", root, "--from", HTMLPACK)
    assert code == 2
    assert "pack.toml exists already; pass --force to replace it" in out
    assert (root / "pack.toml").read_text().endswith("# my edits\n")
    code, out = graphwire("pack", "init", root, "--from", HTMLPACK, "--force")
    assert code == 0, out
    assert (root / "pack.toml").read_text() == manifest
    assert "0 documents copied, 5 already there" in out


def test_a_broken_document_stops_init_with_its_name_and_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "manuals"
    write(source / "good.md", "# Good\n\nFine.\n")
    write(source / "scan.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type")
    root = tmp_path / "pack"
    code, out = graphwire("pack", "init", root, "--from", source)
    assert code == 2
    assert "scan.pdf is not a readable PDF" in out and "Traceback" not in out
    assert not root.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "nowhere"), "no documents folder nowhere"),
        ((), "no documents folder"),
    ],
)
def test_init_without_documents_says_where_to_put_them(
    tmp_path: Path, args: tuple[str, ...], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = graphwire("pack", "init", "pack", *args)
    assert code == 2 and message in out
    (tmp_path / "empty").mkdir()
    code, out = graphwire("pack", "init", "pack", "--from", "empty")
    assert code == 2 and "no documents in empty (graphwire reads .md, .markdown" in out


def test_check_reports_gaps_and_fails_on_an_agent_without_documents(tmp_path: Path) -> None:
    root = tmp_path / "pack"
    assert graphwire("pack", "init", root, "--from", HTMLPACK)[0] == 0
    manifest = root / "pack.toml"
    manifest.write_text(manifest.read_text().replace('"repairs/**"', '"repair/**"'))
    manifest.write_text(manifest.read_text().replace('scope = ["**"]', 'scope = ["*.html"]'))
    code, out = graphwire("pack", "check", root)
    assert code == 1
    assert "documents no agent covers: repairs/Flat Tyres.htm\n" in out  # * matches "/" too
    assert "problem: agent 'repairs': its scope matches no document with text" in out


def test_check_fails_on_a_pack_without_text_and_on_a_broken_pack(tmp_path: Path) -> None:
    root = tmp_path / "pack"
    assert graphwire("pack", "init", root, "--from", HTMLPACK)[0] == 0
    for page in (root / "docs").rglob("*.htm*"):
        page.write_text("<title>Empty</title>")
    code, out = graphwire("pack", "check", root)
    assert code == 1
    assert "documents with no text:" in out and "the pack has no documents with text" in out
    code, out = graphwire("pack", "check", tmp_path)
    assert code == 2 and "no pack.toml" in out


# ---------------------------------------------------------------------------- the draft


def test_folder_names_become_valid_unique_agent_names(tmp_path: Path) -> None:
    for folder in ("Battery Care", "battery-care", "2024", "classify", "FAQ [old]", "General"):
        write(tmp_path / "docs" / folder / "page.md", f"# About {folder}\n\nText.\n")
    draft = draft_pack(tmp_path / "docs", name="p", title="P")
    names = {a.name: a for a in draft.agents}
    assert list(names) == [
        "topic_2024",
        "battery_care",
        "faq_old",
        "battery_care_2",
        "classify_2",
        "general",
    ]
    assert names["general"].fallback and names["general"].scope == ("**",)
    assert names["faq_old"].scope == ("FAQ [[]old]/**",)
    (tmp_path / "pack.toml").write_text(render_manifest(draft), encoding="utf-8")
    pack = load_pack(tmp_path)
    assert pack.agent("faq_old").covers("FAQ [old]/page.md")
    assert not pack.agent("faq_old").covers("FAQ o/page.md")


def test_questions_are_made_plainly_from_headings() -> None:
    assert question_for("How do I descale the kettle") == "How do I descale the kettle?"
    assert question_for("Can I use vinegar?") == "Can I use vinegar?"
    assert question_for("Winter storage:") == "Tell me about winter storage."
    assert question_for("VB-24 Battery Care") == "Tell me about VB-24 Battery Care."
    assert question_for("About Tidewell Marine") == "Tell me about Tidewell Marine."


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(label=_TEXT, description=_TEXT, examples=st.lists(_TEXT, max_size=4))
def test_the_manifest_writer_round_trips_any_text(
    label: str, description: str, examples: list[str]
) -> None:
    agent = AgentDraft(
        name="a",
        label=label,
        description=description,
        scope=("x/**",),
        examples=tuple(examples),
        system_prompt='He said "\\n" \\ \t and left.\r\n',
        fallback=True,
    )
    draft = PackDraft(name="n", title=label, description=description, agents=(agent,), questions=())
    raw = tomllib.loads(render_manifest(draft))
    assert raw["title"] == label and raw["description"] == description
    (written,) = raw["agents"]
    assert written["label"] == label and written["examples"] == examples
    assert written["system_prompt"] == agent.system_prompt and written["fallback"] is True


def test_eval_lines_name_their_agent_and_source(tmp_path: Path) -> None:
    root = tmp_path / "pack"
    assert graphwire("pack", "init", root, "--from", HTMLPACK)[0] == 0
    lines = [json.loads(line) for line in (root / "eval.jsonl").read_text().splitlines()]
    assert lines[0] == {
        "question": "Tell me about charger lights.",
        "agent": "battery",
        "source": "battery/charging.html",
        "category": "starter",
    }


def test_init_drafts_for_every_document_in_docs_and_stays_out_of_its_source(
    tmp_path: Path,
) -> None:
    root = tmp_path / "pack"
    write(root / "docs" / "old" / "notes.md", "# Old notes\n\nKept.\n")
    code, out = graphwire("pack", "init", root, "--from", HTMLPACK)
    assert code == 0, out
    assert load_pack(root).agent_names == ("battery", "old", "repairs", "general")
    code, out = graphwire("pack", "init", tmp_path / "pack" / "inner", "--from", root)
    assert code == 2 and "is inside the documents folder" in out
