"""Query latency of the embedded default: retrieval and routing per question (bench-retrieval).

For every question of the demo pack's two eval files, in turn, ``repeats`` times: the offline
classifier's decision (which itself retrieves over the whole pack) and the routed agent's
retrieval, as the graph runs them (the question embedded once, as the graph does for both),
timed together with ``time.perf_counter``; the index is built (the embedding model loaded, the
passage vectors read from their cache or computed) before the clock starts, and one warm-up
pass is not counted.
Prints p50, p95 and p99 in milliseconds and writes them to ``bench/results/retrieval.json``.

Example:
    $ .venv/bin/python -m bench.retrieval --repeats 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

from bench.report import write_json
from graphwire.agents import KnowledgeBase, OfflineClassifier, load_pack
from graphwire.agents.evaluation import load_questions

RESULTS = Path(__file__).parent / "results" / "retrieval.json"


async def measure(repeats: int, k: int = 4) -> dict[str, Any]:
    """Time routing + retrieval of every eval question ``repeats`` times."""
    pack = load_pack()
    started = time.perf_counter()
    kb = KnowledgeBase.from_pack(pack)
    classifier = OfflineClassifier(pack, knowledge_base=kb)
    build_ms = (time.perf_counter() - started) * 1000
    questions = [
        q.question
        for name in ("eval.jsonl", "eval-users.jsonl")
        for q in load_questions(pack.root / name)
    ]
    timings: list[float] = []
    for round_ in range(repeats + 1):
        for question in questions:
            kb.forget_queries()  # every question's embedding is timed, none comes from a cache
            start = time.perf_counter()
            decision = await classifier.classify(question, [])
            kb.search(question, agent=pack.agent(decision.agent), k=k)
            if round_:  # the first round warms caches up
                timings.append((time.perf_counter() - start) * 1000)
    cuts = statistics.quantiles(timings, n=100)
    return {
        "questions": len(questions),
        "repeats": repeats,
        "index_build_ms": round(build_ms, 1),
        "p50_ms": round(statistics.median(timings), 3),
        "p95_ms": round(cuts[94], 3),
        "p99_ms": round(cuts[98], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    result = asyncio.run(measure(args.repeats))
    print(
        f"{result['questions']} questions x {result['repeats']}: "
        f"retrieval + routing p50 {result['p50_ms']:.2f} ms, p95 {result['p95_ms']:.2f} ms, "
        f"p99 {result['p99_ms']:.2f} ms (index built in {result['index_build_ms']:.0f} ms)"
    )
    write_json(result, RESULTS)


if __name__ == "__main__":
    main()
