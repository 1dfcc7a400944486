"""A fingerprint of graphwire's source, to tell which code a result belongs to.

Taken before and after a run: if they differ, the code changed under the benchmark and the
figures mix two versions (the report says so).

Example:
    >>> source_fingerprint()["sha256"][:12]      # doctest: +SKIP
    '3f0c9a1b2d4e'
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from bench.servers import ROOT

__all__ = ["source_fingerprint"]

PACKAGES = ("agents", "api", "graph", "transport")


def source_fingerprint() -> dict[str, Any]:
    """SHA-256 over every library source file (path and content), and the newest change."""
    digest = hashlib.sha256()
    newest = 0.0
    files = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))
    for path in [*files, ROOT / "pyproject.toml"]:
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
        newest = max(newest, path.stat().st_mtime)
    changed = datetime.fromtimestamp(newest, UTC).isoformat(timespec="seconds")
    return {"sha256": digest.hexdigest(), "files": len(files) + 1, "newest_change": changed}
