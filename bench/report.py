"""The report: targets checked, a markdown table printed, the whole result saved as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.stats import ratio

__all__ = ["check_targets", "render", "write_json"]

SERVERS = ("graphwire", "protocol", "minimal", "bare")
CPU_LIMIT = 1.2  # graphwire CPU per token ≤ 1.2 × the minimal loop's
TTFT_LIMIT = 1.0  # graphwire TTFT p99 at 200 streams no worse than the minimal loop's
TTFT_STREAMS = 200
MEMORY_LIMIT = 1.3  # graphwire idle memory per connection ≤ 1.3 × the bare endpoint's


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _target(name: str, value: float | None, limit: float, detail: str) -> dict[str, Any]:
    met = value is not None and value <= limit
    return {"target": name, "ratio": value, "limit": limit, "met": met, "detail": detail}


def _phase(results: dict[str, Any], server: str, streams: int) -> dict[str, Any] | None:
    for phase in results["concurrency"]["phases"]:
        if phase["server"] == server and phase["streams"] == streams:
            return dict(phase)
    return None


def _ttft_streams(results: dict[str, Any]) -> int:
    """The stream count the TTFT target is judged at: 200, or the largest below it that ran."""
    counts = {p["streams"] for p in results["concurrency"]["phases"]}
    return TTFT_STREAMS if TTFT_STREAMS in counts else max(c for c in counts if c <= TTFT_STREAMS)


def check_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The three targets, each with graphwire's ratio to its reference and MET or not."""
    ws = results["cpu_per_token"]["ws"]
    cpu = ratio(
        ws["graphwire"]["cpu_us_per_token_median"], ws["minimal"]["cpu_us_per_token_median"]
    )
    n = _ttft_streams(results)
    gw, mini = _phase(results, "graphwire", n), _phase(results, "minimal", n)
    ttft = ratio(gw["ttft_ms_p99"] if gw else None, mini["ttft_ms_p99"] if mini else None)
    ttft_detail = f"(b) {n} streams"
    if gw and mini and len(gw.get("repeats", ())) > 1:
        each = [
            ratio(g["ttft_ms_p99"], m["ttft_ms_p99"])
            for g, m in zip(gw["repeats"], mini["repeats"], strict=True)
        ]
        shown = ", ".join(_fmt(r, 2) for r in each)
        ttft_detail += f", medians of {len(each)} repeats; each repeat's ratio: {shown}"
    idle = results["idle_memory"]["servers"]
    memory = [
        ratio(g["kib_per_connection"], b["kib_per_connection"])
        for g, b in zip(idle["graphwire"]["points"], idle["bare"]["points"], strict=True)
    ]
    worst = max((m for m in memory if m is not None), default=None)
    largest = idle["graphwire"]["points"][-1]["connections"]
    return [
        _target("CPU per token ≤ 1.2× minimal loop", cpu, CPU_LIMIT, "(a) WebSocket, median"),
        _target(f"TTFT p99 at {n} streams ≤ minimal loop", ttft, TTFT_LIMIT, ttft_detail),
        _target(
            "idle memory per connection ≤ 1.3× bare",
            worst,
            MEMORY_LIMIT,
            f"(c) worst of the counts up to {largest}",
        ),
    ]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _line(
    scenario: str,
    figure: str,
    values: dict[str, Any],
    *,
    reference: str | None = None,
    target: dict[str, Any] | None = None,
    digits: int = 1,
) -> str:
    cells = [scenario, figure, *(_fmt(values.get(s), digits) for s in SERVERS)]
    r = ratio(values.get("graphwire"), values.get(reference)) if reference else None
    cells.append(f"{r:.2f}× {reference}" if r else "")
    # Beside the minimal loop, the protocol loop: what graphwire adds to the protocol itself.
    p = ratio(values.get("graphwire"), values.get("protocol")) if reference == "minimal" else None
    cells.append(f"{p:.2f}×" if p else "")
    if target is None:
        cells += ["", ""]
    else:
        cells += [f"≤ {target['limit']:.1f}×", "MET" if target["met"] else "**MISSED**"]
    return _row(cells)


def _table(results: dict[str, Any], targets: list[dict[str, Any]]) -> list[str]:
    names = {
        "graphwire": "graphwire",
        "protocol": "protocol loop",
        "minimal": "minimal loop",
        "bare": "bare endpoint",
    }
    head = [
        *("scenario", "figure", *names.values()),
        *("graphwire ÷ reference", "graphwire ÷ protocol loop", "target", "verdict"),
    ]
    out = [_row(head), _row(["---"] * len(head))]
    ws, sse = results["cpu_per_token"]["ws"], results["cpu_per_token"]["sse"]

    def pick(table: dict[str, Any], key: str) -> dict[str, Any]:
        return {name: summary[key] for name, summary in table.items()}

    tokens = pick(ws, "tokens_per_answer")
    out.append(_line("(a) long answer, WS", "tokens per answer", tokens, digits=0))
    out.append(
        _line(
            "(a) long answer, WS",
            "server CPU µs per token (median)",
            pick(ws, "cpu_us_per_token_median"),
            reference="minimal",
            target=targets[0],
        )
    )
    out.append(
        _line(
            "(a) long answer, WS",
            "server CPU µs per token (pooled)",
            pick(ws, "cpu_us_per_token_pooled"),
            reference="minimal",
        )
    )
    out.append(
        _line(
            "(a) long answer, WS",
            "one stream, tokens/s",
            pick(ws, "tokens_per_second_median"),
            reference="minimal",
            digits=0,
        )
    )
    out.append(
        _line(
            "(a) long answer, SSE",
            "server CPU µs per token (median)",
            pick(sse, "cpu_us_per_token_median"),
            reference="minimal",
        )
    )
    counts = sorted({p["streams"] for p in results["concurrency"]["phases"]})
    ttft_n = _ttft_streams(results)
    for n in counts:
        phases = {s: _phase(results, s, n) or {} for s in SERVERS}
        label = f"(b) {n} streams × 50 tok/s"

        def get(key: str, phases: dict[str, dict[str, Any]] = phases) -> dict[str, Any]:
            return {s: p.get(key) for s, p in phases.items()}

        done = {s: f"{p.get('completed')}/{n}" for s, p in phases.items()}
        out.append(_line(label, "streams completed", done))
        out.append(_line(label, "TTFT p50 ms", get("ttft_ms_p50"), reference="minimal"))
        out.append(
            _line(
                label,
                "TTFT p99 ms",
                get("ttft_ms_p99"),
                reference="minimal",
                target=targets[1] if n == ttft_n else None,
            )
        )
        out.append(
            _line(
                label,
                "server CPU ms, questions to last first token",
                get("startup_cpu_ms"),
                reference="minimal",
            )
        )
        out.append(
            _line(label, "… of it in the kernel, ms", get("startup_sys_ms"), reference="minimal")
        )
        out.append(_line(label, "inter-token gap p99 ms", get("gap_ms_p99"), reference="minimal"))
        out.append(
            _line(label, "server CPU µs per token", get("cpu_us_per_token"), reference="minimal")
        )
        out.append(_line(label, "server CPU (cores busy)", get("server_cpu_util"), digits=2))
        out.append(
            _line(label, "load generator CPU (cores busy)", get("client_cpu_util"), digits=2)
        )
    idle = results["idle_memory"]["servers"]
    for i, point in enumerate(idle["graphwire"]["points"]):
        n = point["connections"]
        per = {s: idle[s]["points"][i]["kib_per_connection"] for s in idle}
        cpu = {s: idle[s]["points"][i]["idle_cpu_util"] * 100 for s in idle}
        out.append(
            _line(
                f"(c) {n} idle connections",
                "RSS KiB per connection",
                per,
                reference="bare",
                target=targets[2],
            )
        )
        out.append(_line(f"(c) {n} idle connections", "server CPU % while idle", cpu, digits=2))
    return out


def _repeats_note(repeats: int) -> list[str]:
    if repeats < 2:
        return []
    return [
        f"(b): each figure is the median of {repeats} repeats, the servers taking turns "
        "(each repeat starts with the next server).",
        "",
    ]


def render(results: dict[str, Any]) -> str:
    """The report as markdown: header, the table, the targets."""
    meta = results["meta"]
    targets = results["targets"]
    lines = [
        f"## graphwire benchmark ({'quick' if meta['quick'] else 'full'} run)",
        "",
        f"Command: `{meta['command']}`  ",
        f"Started {meta['started']}, took {meta['duration_s']:.0f} s; {meta['cpus']} CPUs, "
        f"Python {meta['python']}; servers and load generator share the machine.  ",
        f"graphwire source: sha256 {meta['source']['sha256'][:12]}, newest change "
        f"{meta['source']['newest_change']}.",
        "",
        *_table(results, targets),
        "",
        *_repeats_note(results["concurrency"].get("repeats", 1)),
        "Targets:",
        "",
    ]
    if meta["source_changed_during_run"]:
        lines[3:3] = ["", "**WARNING: graphwire's source changed during this run; rerun.**"]
    for t in targets:
        verdict = "MET" if t["met"] else "MISSED"
        lines.append(f"* {verdict}: {t['target']} — ratio {_fmt(t['ratio'], 2)} ({t['detail']})")
    return "\n".join(lines)


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
