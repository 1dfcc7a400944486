"""The /ws/test page in a real Chromium (Playwright) against a real uvicorn.

The page runs behind a loopback TCP proxy, so a test can cut its connections mid-answer as a
network failure would. Every answer the page shows is compared with the same question asked
over HTTP (an uninterrupted run of the deterministic offline model).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from graphwire.api.tokens import mint_token
from tests.browser import CHROMIUM_ARGS, CuttableProxy, require_chromium, screenshot, until
from tests.server import Running, running, server_settings

if os.environ.get("CI") != "true":  # under CI a missing Playwright is a failure, not a skip
    pytest.importorskip("playwright.sync_api", reason="Playwright is a dev dependency")
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

SECRET = "browser-test-secret-0123456789abcdef"
WORD_DELAY = 0.12  # seconds per word of the offline model: time to act mid-answer
SLOW = 60_000  # ms: generous, the machine is shared


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = require_chromium()
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.set_default_timeout(SLOW)
    yield tab
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@contextmanager
def serve(**overrides: Any) -> Iterator[tuple[Running, CuttableProxy]]:
    """A test server behind a cuttable proxy; the page's origin (the proxy's) is allowed."""
    proxy = CuttableProxy()
    settings = server_settings(
        offline_token_delay=WORD_DELAY, allowed_origins=[proxy.origin], **overrides
    )
    try:
        with running(settings) as live:
            proxy.target_port = live.port
            yield live, proxy
    finally:
        proxy.close()


def oracle(live: Running, question: str, token: str | None = None) -> dict[str, Any]:
    """The same question asked over HTTP in a new conversation: what the page must show."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"{live.http}/api/v1/chat", json={"message": question}, headers=headers, timeout=60
    )
    response.raise_for_status()
    return dict(response.json())


def open_page(page: Page, proxy: CuttableProxy) -> None:
    page.goto(f"{proxy.origin}/ws/test")


def ask(page: Page, question: str) -> Locator:
    """Type the question and press Enter; the new turn."""
    before = page.locator(".turn").count()
    page.fill("#message", question)
    page.press("#message", "Enter")
    turn = page.locator(".turn").nth(before)
    expect(turn).to_be_attached()
    return turn


def answer(turn: Locator) -> str:
    return str(turn.locator(".answer-text").evaluate("el => el.textContent"))


def words_shown(turn: Locator, count: int) -> None:
    until(lambda: len(answer(turn).split()) >= count, what=f"{count} words of the answer")


def status_log(page: Page) -> list[str]:
    return list(page.evaluate("() => window.graphwirePage.statusLog"))


def choose_sse(page: Page) -> None:
    page.locator('.segmented label:has(input[value="sse"])').click()
    expect(page.locator("#status")).to_have_attribute("data-state", "ready")


# ---------------------------------------------------------------------- tests


def test_a_question_shows_its_steps_sources_and_streamed_answer(page: Page) -> None:
    question = "How do I descale the kettle?"
    with serve() as (live, proxy):
        expected = oracle(live, question)
        open_page(page, proxy)
        expect(page.locator("#status")).to_have_attribute("data-state", "open")
        expect(page.locator("#status")).to_contain_text("anonymous")
        turn = ask(page, question)

        words_shown(turn, 3)
        partial = answer(turn)
        assert turn.get_attribute("data-state") == "streaming"
        expect(page.locator("#stop")).to_be_enabled()
        expect(turn).to_have_attribute("data-state", "complete", timeout=SLOW)

        classify = turn.locator('.step[data-step="classify"]')
        expect(classify).to_have_attribute("data-status", "completed")
        expect(classify.locator(".badge-agent")).to_have_text(expected["agent"])
        percent = f"{round(expected['confidence'] * 100)}%"
        expect(classify.locator(".badge-confidence")).to_have_text(percent)
        count = len(expected["sources"])
        retrieve = turn.locator('.step[data-step="retrieve"]')
        expect(retrieve.locator(".badge-count")).to_have_text(re.compile(rf"^{count} passages?$"))
        expect(turn.locator(".source")).to_have_count(count)
        expect(turn.locator(".source code")).to_have_text([s["id"] for s in expected["sources"]])

        final = answer(turn)
        assert final == expected["text"]
        assert final.startswith(partial) and len(partial) < len(final)  # it streamed
        assert turn.get_attribute("data-mismatch") is None
        usage = expected["usage"]
        tokens = f"{usage['output_tokens']} tokens (prompt {usage['input_tokens']})"
        expect(turn.locator(".meta .badge-tokens")).to_have_text(tokens)
        expect(page.locator("#stop")).to_be_disabled()
        session = turn.get_attribute("data-session-id")
        expect(page.locator(".session")).to_have_attribute("data-session-id", str(session))
        screenshot(page, "answered")


def test_the_page_works_on_any_port_with_no_origin_configured(page: Page) -> None:
    """`graphwire serve --port N` with GRAPHWIRE_ALLOWED_ORIGINS unset: the page it serves
    connects (its own origin), here under the name localhost for a server on 127.0.0.1."""
    question = "How do I descale the kettle?"
    with running(server_settings(allowed_origins=[])) as live:
        assert live.port != 8000
        expected = oracle(live, question)
        page.goto(f"http://localhost:{live.port}/ws/test")
        expect(page.locator("#status")).to_have_attribute("data-state", "open")
        turn = ask(page, question)
        expect(turn).to_have_attribute("data-state", "complete", timeout=SLOW)
        assert answer(turn) == expected["text"]
        choose_sse(page)
        turn = ask(page, question)
        expect(turn).to_have_attribute("data-state", "complete", timeout=SLOW)
        assert answer(turn) == expected["text"]


def test_escape_stops_the_run_and_the_page_shows_it(page: Page) -> None:
    question = "What does error F3 mean?"
    with serve() as (live, proxy):
        full = oracle(live, question)["text"]
        open_page(page, proxy)
        turn = ask(page, question)
        words_shown(turn, 2)
        page.keyboard.press("Escape")

        expect(turn).to_have_attribute("data-state", "cancelled")
        expect(turn.locator(".outcome")).to_have_text("Stopped.")
        assert len(answer(turn)) < len(full)
        expect(page.locator("#stop")).to_be_disabled()
        expect(page.locator("#send")).to_be_enabled()
        run_id = turn.get_attribute("data-run-id")
        ended = httpx.post(f"{live.http}/api/v1/runs/{run_id}/cancel").json()
        assert ended["reason"] == "cancelled"  # a finished run keeps the reason it ended with


def test_a_cut_connection_resumes_with_the_whole_answer(page: Page) -> None:
    question = "How do I descale the kettle?"
    with serve() as (live, proxy):
        expected = oracle(live, question)["text"]
        open_page(page, proxy)
        expect(page.locator("#status")).to_have_attribute("data-state", "open")
        turn = ask(page, question)
        words_shown(turn, 4)
        assert proxy.cut() >= 1

        until(lambda: "reconnecting" in status_log(page), what="the reconnect indicator")
        expect(turn).to_have_attribute("data-state", "complete", timeout=SLOW)
        assert int(turn.get_attribute("data-resumed") or 0) >= 1
        assert turn.get_attribute("data-mismatch") is None  # the deltas alone add up
        assert answer(turn) == expected
        expect(page.locator("#status")).to_have_attribute("data-state", "open")
        screenshot(page, "resumed")


def test_the_sse_transport_shows_the_answer(page: Page) -> None:
    question = "How heavy is the kettle?"
    with serve() as (live, proxy):
        expected = oracle(live, question)
        open_page(page, proxy)
        choose_sse(page)
        turn = ask(page, question)
        expect(turn).to_have_attribute("data-state", "complete", timeout=SLOW)
        assert answer(turn) == expected["text"]
        classify = turn.locator('.step[data-step="classify"]')
        expect(classify.locator(".badge-agent")).to_have_text(expected["agent"])
        expect(turn.locator(".source")).to_have_count(len(expected["sources"]))
        expect(page.locator("#status")).to_have_attribute("data-state", "ready")


def test_a_cut_sse_stream_resumes_from_the_last_event(page: Page) -> None:
    question = "How do I descale the kettle?"
    with serve() as (live, proxy):
        expected = oracle(live, question)["text"]
        open_page(page, proxy)
        choose_sse(page)
        turn = ask(page, question)
        words_shown(turn, 4)
        assert proxy.cut() >= 1

        expect(turn).to_have_attribute("data-state", "complete", timeout=SLOW)
        assert "reconnecting" in status_log(page)
        assert int(turn.get_attribute("data-resumed") or 0) >= 1
        assert turn.get_attribute("data-mismatch") is None
        assert answer(turn) == expected


def test_a_run_started_elsewhere_appears_through_the_subscription(page: Page) -> None:
    with serve() as (live, proxy):
        open_page(page, proxy)
        first = ask(page, "How heavy is the kettle?")
        expect(first).to_have_attribute("data-state", "complete", timeout=SLOW)
        session = first.get_attribute("data-session-id")

        elsewhere = httpx.post(
            f"{live.http}/api/v1/chat",
            json={"message": "How do I descale the kettle?", "session_id": session},
            timeout=60,
        ).json()
        turn = page.locator(f'.turn[data-run-id="{elsewhere["run_id"]}"]')
        expect(turn).to_have_attribute("data-state", "complete", timeout=SLOW)
        assert answer(turn) == elsewhere["text"]
        expect(turn.locator(".bubble")).to_have_text("(asked elsewhere)")


@pytest.mark.parametrize("transport", ["ws", "sse"])
def test_a_refused_question_shows_the_protocol_code(page: Page, transport: str) -> None:
    with serve(max_message_chars=40) as (_, proxy):
        open_page(page, proxy)
        if transport == "sse":
            choose_sse(page)
        turn = ask(page, "How do I descale the kettle, and how often, and with what?")
        expect(turn).to_have_attribute("data-state", "error")
        expect(turn).to_have_attribute("data-error-code", "MESSAGE_TOO_LARGE")
        expect(turn.locator(".outcome .badge-code")).to_have_text("MESSAGE_TOO_LARGE")
        expect(page.locator("#send")).to_be_enabled()


def test_with_auth_on_a_token_typed_into_the_field_connects(page: Page) -> None:
    question = "How heavy is the kettle?"
    with serve(jwt_secret=SecretStr(SECRET)) as (live, proxy):
        token = mint_token(secret=SECRET, sub="alice", ttl_seconds=600)
        expected = oracle(live, question, token)["text"]
        open_page(page, proxy)
        expect(page.locator("#banner")).to_contain_text("needs a token")

        page.fill("#token", "not-a-token")
        page.press("#token", "Enter")
        expect(page.locator("#banner")).to_contain_text("AUTH_FAILED")
        expect(page.locator("#status")).to_have_attribute("data-state", "closed")

        page.fill("#token", token)
        page.press("#token", "Enter")
        expect(page.locator("#status")).to_have_attribute("data-state", "open")
        expect(page.locator("#status")).to_contain_text("alice")
        expect(page.locator("#banner")).to_be_hidden()
        turn = ask(page, question)
        expect(turn).to_have_attribute("data-state", "complete", timeout=SLOW)
        assert answer(turn) == expected
        screenshot(page, "authenticated")


def test_backoff_and_exactly_once_delivery_in_graphwire_js(page: Page) -> None:
    with serve() as (_, proxy):
        open_page(page, proxy)
        result = page.evaluate(
            """async () => {
              const gw = await import("/static/graphwire.js");
              const opts = { base: 100, factor: 2, max: 1000, jitter: 0.5 };
              const at = (random) => [0, 1, 2, 3, 4, 5].map(
                (a) => gw.backoffDelay(a, { ...opts, random: () => random }));
              const samples = Array.from({ length: 200 }, () => gw.backoffDelay(2, opts));
              const run = new gw.RunStream("r_x", { stop: () => {} });
              const env = (seq, type = "text") => ({ type, run_id: "r_x", session_id: "s_x", seq,
                data: type === "end" ? { reason: "complete" } : { delta: String(seq), agent: "a" } });
              const accepted = [env(0), env(1), env(1), env(0), env(2), env(3, "end")]
                .map((e) => run.accept(e));
              const seqs = [];
              for await (const e of run) seqs.push(e.seq);
              return { low: at(0), high: at(1), min: Math.min(...samples),
                       max: Math.max(...samples), accepted, seqs, late: run.accept(env(4)),
                       reason: (await run.done).reason, id: gw.newRunId(),
                       refusal: new gw.GraphwireError("x", { code: gw.ErrorCode.BUSY }).code };
            }"""
        )
    assert result["low"] == [50, 100, 200, 400, 500, 500]
    assert result["high"] == [100, 200, 400, 800, 1000, 1000]
    assert 200 <= result["min"] < result["max"] <= 400
    assert result["accepted"] == [True, True, False, False, True, True]
    assert result["seqs"] == [0, 1, 2, 3]
    assert result["late"] is False and result["reason"] == "complete"
    assert re.fullmatch(r"r_[A-Za-z0-9_-]{16}", result["id"])
    assert result["refusal"] == "BUSY"


# A scripted stand-in for the server's socket, for the client's edge cases (page.evaluate).
FAKE_SOCKET = """
  const gw = await import("/static/graphwire.js");
  const sent = [];
  let sockets = 0;
  const envelope = (type, runId, seq, data) => ({ type, run_id: runId, session_id: runId && "s_1", seq, data });
  class FakeSocket {
    constructor() {
      this.n = ++sockets;
      setTimeout(() => this.deliver(envelope("connected", null, null,
        { connection_id: "c_1", protocol: "graphwire.v1", auth_required: false })));
    }
    deliver(obj) { if (!this.closed) this.onmessage?.({ data: JSON.stringify(obj) }); }
    send(text) {
      const frame = JSON.parse(text);
      sent.push([this.n, frame.type]);
      setTimeout(() => SCRIPT(this, frame));
    }
    close(code = 1000, reason = "") {
      if (this.closed) return;
      this.closed = true;
      setTimeout(() => this.onclose?.({ code, reason }));
    }
  }
  const client = new gw.GraphwireClient({ WebSocketImpl: FakeSocket, backoff: { base: 1, max: 5 } });
  const states = [];
  client.addEventListener("status", (event) => states.push(event.detail.state));
  const run = client.stream("hello");
  const seen = [];
  let thrown = null;
  try { for await (const e of run) seen.push([e.seq, e.type]); }
  catch (error) { thrown = { name: error.name, code: error.code }; }
  return { sent, seen, states, thrown, reason: (await run.done).reason };
"""


def test_graphwire_js_asks_again_when_the_message_never_arrived(page: Page) -> None:
    script = """(socket, frame) => {
      if (socket.n === 1) return socket.close(1006);  // dropped before the server saw the message
      if (frame.type === "resume") {                   // so the server does not know the run
        return socket.deliver(envelope("error", frame.run_id, null,
          { code: "NOT_FOUND", message: "unknown run", retryable: false }));
      }
      socket.deliver(envelope("text", frame.run_id, 0, { delta: "Hi", agent: "a" }));
      socket.deliver(envelope("end", frame.run_id, 1, { reason: "complete" }));
    }"""
    with serve() as (_, proxy):
        open_page(page, proxy)
        result = page.evaluate(
            "async () => {" + FAKE_SOCKET.replace("SCRIPT(", f"({script})(") + "}"
        )
    assert result["sent"] == [[1, "message"], [2, "resume"], [2, "message"]]
    assert result["seen"] == [[0, "text"], [1, "end"]]
    assert result["thrown"] is None and result["reason"] == "complete"
    assert result["states"][0] == "connecting" and "reconnecting" in result["states"]
    assert result["states"][-1] == "open"


def test_graphwire_js_fails_the_run_when_the_token_expires(page: Page) -> None:
    script = """(socket, frame) => {
      socket.deliver(envelope("text", frame.run_id, 0, { delta: "Hi", agent: "a" }));
      socket.deliver(envelope("error", null, null,
        { code: "AUTH_FAILED", message: "the token has expired", retryable: false }));
      socket.close(1008, "token expired");
    }"""
    with serve() as (_, proxy):
        open_page(page, proxy)
        result = page.evaluate(
            "async () => {" + FAKE_SOCKET.replace("SCRIPT(", f"({script})(") + "}"
        )
    assert result["sent"] == [[1, "message"]]  # no reconnect: the same token would be refused
    assert result["seen"] == [[0, "text"]]
    assert result["thrown"] == {"name": "GraphwireError", "code": "AUTH_FAILED"}
    assert result["states"][-1] == "closed"


def test_the_api_docs_render_with_nothing_fetched_from_the_internet(page: Page) -> None:
    """/docs and /redoc load their scripts and styles from the app (a CDN may be unreachable)."""
    fetched: list[str] = []

    def local_only(route: Any) -> None:
        request = route.request
        if request.url.startswith(("http://127.0.0.1:", "http://localhost:")):
            route.continue_()
            return
        if request.resource_type not in ("image", "ping"):  # a missing logo renders anyway
            fetched.append(f"{request.resource_type} {request.url}")
        route.abort()

    page.route("**/*", local_only)
    with running(server_settings()) as live:
        schema = httpx.get(f"{live.http}/openapi.json", timeout=30).json()
        operations = sum(len(methods) for methods in schema["paths"].values())
        page.goto(f"{live.http}/docs")
        expect(page.locator(".opblock")).to_have_count(operations)
        expect(page.locator(".opblock-summary-path").first).to_contain_text("/api/v1/chat")
        page.goto(f"{live.http}/redoc")
        expect(page.locator("h1").first).to_contain_text("graphwire")
        expect(page.get_by_text("Ask and wait").first).to_be_visible()
    assert not fetched, f"the docs pages fetched from elsewhere: {fetched}"
