"""The server's garbage-collector settings (checked in a child process: they are process-wide)."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import gc, json
from graphwire.api.heap import settle_heap
before = gc.get_threshold()
settle_heap(gen0_threshold=5000)
print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": gc.get_freeze_count()}))
"""


def test_settle_heap_freezes_start_up_objects_and_raises_only_the_young_threshold() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["after"] == [5000, *result["before"][1:]]
    assert result["frozen"] > 1000  # the imported modules' objects, at least
