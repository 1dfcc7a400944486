"""The garbage collector's settings for a long-running server process.

Streaming answers allocates many short-lived container objects (LangChain creates a message
chunk, a callback task and a handful of dicts per token). With CPython's default threshold
(a young collection every 700 net allocations) hundreds of concurrent answers spend about a third
of the server's CPU in the collector, most of it walking objects that are alive and will stay
so until their answer ends. Reference counting frees almost all of them anyway; the collector
is only needed for cycles, which a larger young generation still catches.

Example:
    >>> settle_heap(gen0_threshold=10_000)   # doctest: +SKIP
"""

from __future__ import annotations

import gc

__all__ = ["DEFAULT_GEN0_THRESHOLD", "settle_heap"]

DEFAULT_GEN0_THRESHOLD = 10_000


def settle_heap(*, gen0_threshold: int = DEFAULT_GEN0_THRESHOLD) -> None:
    """Call once start-up is done: freeze what start-up built, then collect less often.

    What start-up built (modules, schemas, the search index) lives as long as the process, so
    :func:`gc.freeze` keeps it out of every later collection; ``gen0_threshold`` replaces the
    default 700 (the older generations keep their default ratios).
    """
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)
