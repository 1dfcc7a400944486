"""The test page and graphwire.js are served by the app itself, from the package's data."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import httpx

from graphwire.api.http.testpage import STATIC_DIR
from tests.server import Running

ROOT = Path(__file__).resolve().parent.parent


def test_the_page_and_its_assets_are_served(server: Running) -> None:
    page = httpx.get(f"{server.http}/ws/test")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    # Every asset the page and the modules load comes from this server.
    referenced = set(re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text))
    for module in STATIC_DIR.rglob("*.js"):
        for target in re.findall(r'from "([^"]+)"', module.read_text()):
            base = "/static/" + module.relative_to(STATIC_DIR).parent.as_posix()
            referenced.add(target if target.startswith("/") else _join(base, target))
    assert "/static/graphwire.js" in referenced
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page.text), "nothing from elsewhere"
    for path in sorted(referenced):
        response = httpx.get(f"{server.http}{path}")
        assert response.status_code == 200, path
        kind = "css" if path.endswith(".css") else "javascript"
        assert kind in response.headers["content-type"], (path, response.headers["content-type"])


def test_a_missing_asset_is_404(server: Running) -> None:
    assert httpx.get(f"{server.http}/static/nope.js").status_code == 404
    assert httpx.get(f"{server.http}/static/../settings.py").status_code == 404


def test_every_static_file_is_package_data() -> None:
    """A non-editable install serves the page too: pyproject's package data covers api/static."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["graphwire.api"]
    files = [p.relative_to(STATIC_DIR.parent) for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert files
    for file in files:
        assert any(_glob_match(file.as_posix(), pattern) for pattern in patterns), file


def _glob_match(path: str, pattern: str) -> bool:
    """Setuptools' globs: ``*`` stays within one folder."""
    names, globs = path.split("/"), pattern.split("/")
    return len(names) == len(globs) and all(map(fnmatch.fnmatchcase, names, globs))


def _join(base: str, relative: str) -> str:
    parts = base.rstrip("/").split("/")
    for piece in relative.split("/"):
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)
