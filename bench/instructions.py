"""``python -m bench.instructions``: instructions the server executes, counted by callgrind.

Wall-clock and CPU-time figures on this shared 2-core machine move by ±20 % between repeats;
instruction counts do not (the same count twice, whatever else runs). This counts, for graphwire,
the protocol loop and the minimal loop (``bench.baselines``), with each server under
``valgrind --tool=callgrind`` and counting switched on only around the part measured
(``callgrind_control -i on/off``):

* **to the first token**: from a fresh connection's question to its first token, one run at a
  time (the offline model then waits 1 s before its next token, so the server is idle when
  counting stops). With many answers starting together, every start-up interleaves on one core
  and TTFT p99 is about the sum of these, so their ratio is what (b)'s TTFT ratio tends to;
* **per token**: whole long answers at zero token delay (scenario (a)'s settings), divided by
  their tokens.

Instructions are user-space only: system calls, cache misses and the kernel's work waking the
client are not in them, which is why these ratios can be lower than the timed ones.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import ask_ws, open_ws
from bench.report import write_json
from bench.scenarios import (
    DIALECT,
    LONG_ANSWER,
    QUESTION,
    WS_PATH,
    Answers,
    settings_env,
)
from bench.servers import ROOT, Server, ServerSpec, baseline_spec, graphwire_spec, running

__all__ = ["main"]

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "instructions.json"
SLOW_ANSWER = Answers(token_delay=1.0, max_sentences=2, top_k=4)  # idle after the first token
NAMES = ("graphwire", "protocol", "minimal")


@dataclass
class _Counted:
    """A server under callgrind with counting off until :meth:`on`."""

    server: Server
    out: Path

    @property
    def name(self) -> str:
        return self.server.name

    @property
    def url(self) -> str:
        return self.server.ws_url(WS_PATH[self.name])

    def _control(self, *args: str) -> None:
        subprocess.run(
            ["callgrind_control", *args, str(self.server.pid)], check=True, capture_output=True
        )

    def on(self) -> None:
        self._control("-i", "on")

    def off(self) -> None:
        self._control("-i", "off")

    def zero(self) -> None:
        self._control("-z")

    def total(self) -> int:
        """Instructions counted since :meth:`zero` (dumps and reads callgrind's files)."""
        self._control("-d")
        totals = 0
        for path in self.out.parent.glob(self.out.name + ".*"):
            for line in path.read_text().splitlines():
                if line.startswith("totals:"):
                    totals += int(line.split()[1])
        return totals


@asynccontextmanager
async def _counted(
    name: str, env: dict[str, str], workdir: Path, label: str
) -> AsyncIterator[_Counted]:
    """The bench's own server ``name``, started under callgrind with counting off."""
    spec = graphwire_spec(env) if name == "graphwire" else baseline_spec(name, f"{name}_app", env)
    out = workdir / f"callgrind.{name}.{label}"
    valgrind = ("valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}")
    under_valgrind = ServerSpec(spec.name, (*valgrind, *spec.command), spec.env)
    async with running([under_valgrind], workdir) as servers:
        yield _Counted(servers[name], out)


async def _to_first_token(server: _Counted, *, counted: bool) -> None:
    """One question on a new connection; counting runs from before it to its first token."""
    dialect = DIALECT[server.name]
    ws = await open_ws(server.url, dialect)
    try:
        await asyncio.sleep(0.3)  # the handshake's work is done and not counted
        if counted:
            server.on()
        await ws.send(dialect.request(QUESTION, f"s_bench_{uuid.uuid4().hex}"))
        while True:
            token, end, _ = dialect.parse(await ws.recv())
            if token or end:
                break
        if counted:
            server.off()
    finally:
        await ws.close()
    await asyncio.sleep(1.5)  # the abandoned run ends (graphwire: after its grace) uncounted


async def first_token(name: str, runs: int, workdir: Path) -> float:
    """Instructions per run from a question to its first token (the mean over ``runs``)."""
    env = settings_env(SLOW_ANSWER) | {"GRAPHWIRE_RESUME_GRACE": "0.05"}
    async with _counted(name, env, workdir, "first-token") as server:
        for _ in range(3):
            await _to_first_token(server, counted=False)
        server.zero()
        for _ in range(runs):
            await _to_first_token(server, counted=True)
        return server.total() / runs


async def per_token(name: str, answers: int, workdir: Path) -> tuple[float, int]:
    """Instructions per token over whole long answers, and the tokens of one answer."""
    dialect = DIALECT[name]
    async with _counted(name, settings_env(LONG_ANSWER), workdir, "per-token") as server:
        ws = await open_ws(server.url, dialect)
        try:
            await ask_ws(ws, dialect, QUESTION)  # warm-up
            server.zero()
            server.on()
            tokens = 0
            for _ in range(answers):
                tokens += (await ask_ws(ws, dialect, QUESTION)).tokens
            await asyncio.sleep(0.2)
            server.off()
            return server.total() / tokens, tokens // answers
        finally:
            await ws.close()


async def _run(runs: int, answers: int) -> dict[str, Any]:
    results: dict[str, Any] = {"runs": runs, "answers": answers, "servers": {}}
    with tempfile.TemporaryDirectory(prefix="graphwire-instr-") as tmp:
        for name in NAMES:
            first = await first_token(name, runs, Path(tmp))
            token, length = await per_token(name, answers, Path(tmp))
            results["servers"][name] = {
                "to_first_token": first,
                "per_token": token,
                "tokens_per_answer": length,
            }
            print(f"{name}: {first / 1e6:.2f} M to the first token, {token / 1e3:.1f} k per token")
    servers = results["servers"]
    for key in ("to_first_token", "per_token"):
        results[f"{key}_ratio"] = servers["graphwire"][key] / servers["minimal"][key]
        results[f"{key}_protocol_ratio"] = servers["graphwire"][key] / servers["protocol"][key]
    return results


def render(results: dict[str, Any]) -> str:
    servers = results["servers"]
    gw, proto, mini = servers["graphwire"], servers["protocol"], servers["minimal"]
    head = "| instructions (callgrind) | graphwire | protocol loop | minimal loop "
    return "\n".join(
        [
            head + "| graphwire ÷ minimal | graphwire ÷ protocol loop |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| to the first token, per run (mean of {results['runs']}) "
            f"| {gw['to_first_token'] / 1e6:.2f} M | {proto['to_first_token'] / 1e6:.2f} M "
            f"| {mini['to_first_token'] / 1e6:.2f} M | {results['to_first_token_ratio']:.3f}× "
            f"| {results['to_first_token_protocol_ratio']:.3f}× |",
            f"| per token, long answers ({results['answers']} × {gw['tokens_per_answer']:,} "
            f"tokens) | {gw['per_token'] / 1e3:.1f} k | {proto['per_token'] / 1e3:.1f} k "
            f"| {mini['per_token'] / 1e3:.1f} k | {results['per_token_ratio']:.3f}× "
            f"| {results['per_token_protocol_ratio']:.3f}× |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--runs", type=int, default=10, help="questions counted to first token")
    parser.add_argument("--answers", type=int, default=3, help="long answers counted per token")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results file")
    args = parser.parse_args(argv)
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (make bench-instructions installs it)", file=sys.stderr)
            return 2
    results = asyncio.run(_run(args.runs, args.answers))
    write_json(results, args.output)
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
