"""Loading domain packs: the demo pack, and clear errors for broken packs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from graphwire.agents import DomainPack, load_pack
from graphwire.graph import build_graph
from graphwire.transport.protocol.errors import ConfigurationError
from tests.conftest import MINIPACK


def test_the_demo_pack_has_the_required_agents_and_documents(demo_pack: DomainPack) -> None:
    assert demo_pack.agent_names[:3] == ("specs", "maintenance", "troubleshooting")
    assert demo_pack.fallback_agent.name == "general"
    docs = demo_pack.documents()
    assert len(docs) >= 20
    for agent in demo_pack.agents:
        assert len(agent.examples) >= 10 and agent.system_prompt.strip()
        covered = [d for d in docs if agent.covers(d.relative_to(demo_pack.docs_dir).as_posix())]
        assert covered, agent.name


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "pack"
    shutil.copytree(MINIPACK, target)
    return target


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('name = "kettle"', 'name = "kettle'), "not valid TOML"),
        (lambda t: t.replace("fallback = true", ""), "exactly one agent must have fallback"),
        (lambda t: t.replace('name = "care"', 'name = "specs"'), "agent names must be unique"),
        (lambda t: t.replace('name = "care"', 'name = "Care Team"'), "not a valid pack"),
        (lambda t: t.replace('label = "Care"', 'labl = "Care"'), "not a valid pack"),
    ],
)
def test_a_broken_pack_gets_a_clear_error(tmp_path: Path, edit, message: str) -> None:
    root = _copy(tmp_path)
    manifest = root / "pack.toml"
    manifest.write_text(edit(manifest.read_text()))
    with pytest.raises(ConfigurationError, match=message):
        load_pack(root)


def test_missing_manifest_or_docs(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"no pack\.toml"):
        load_pack(tmp_path)
    root = _copy(tmp_path)
    shutil.rmtree(root / "docs")
    with pytest.raises(ConfigurationError, match="no docs/ folder"):
        load_pack(root)


def test_an_agent_may_not_take_the_classify_node_name(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    manifest = root / "pack.toml"
    manifest.write_text(manifest.read_text().replace('name = "care"', 'name = "classify"'))
    with pytest.raises(ConfigurationError, match="may not be called 'classify'"):
        build_graph(pack=load_pack(root))


async def test_a_pack_of_one_agent_answers(tmp_path: Path) -> None:
    """One fallback agent and nothing else: it routes every question to itself and answers
    (it failed every question with "not enough values to unpack")."""
    from graphwire.agents import OfflineChatModel
    from graphwire.transport.runs import ask

    root = tmp_path / "solo"
    shutil.copytree(MINIPACK / "docs", root / "docs")
    (root / "pack.toml").write_text(
        'name = "solo"\ntitle = "One agent"\n\n[[agents]]\nname = "kettle"\n'
        'label = "Kettle"\ndescription = "Everything about the kettle."\n'
        'system_prompt = "Answer from the passages."\nfallback = true\n',
        encoding="utf-8",
    )
    pack = load_pack(root)
    graph = build_graph(pack=pack, model=OfflineChatModel(token_delay=0))
    final = await ask(graph, "What does error F3 mean?")
    assert final.agent == "kettle" and "F3" in final.text
    assert final.sources and 0 < final.confidence <= 1
