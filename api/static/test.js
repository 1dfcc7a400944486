// The /ws/test page: a chat on graphwire.js, showing each run's steps, sources and answer.

import { GraphwireClient, GraphwireError } from "./graphwire.js";
import { TurnView } from "./test-view.js";

const $ = (selector) => document.querySelector(selector);
const STORE = "graphwire.test.sessions";
const els = {
  status: $("#status"), statusText: $("#status .status-text"), token: $("#token"),
  sessions: $("#session-list"), sessionsEmpty: $("#sessions-empty"), transcript: $("#transcript"),
  welcome: $("#welcome"), banner: $("#banner"), composer: $("#composer"), message: $("#message"),
  send: $("#send"), stop: $("#stop"), drop: $("#drop"), template: $("#turn-template"),
};

const page = {
  client: null,
  sessionId: null, // the conversation shown
  active: null, // {run, view} while a run of ours is going
  views: new Map(), // run_id -> TurnView, for runs shown in this conversation
  ownRuns: new Set(), // run ids this page started
  subscription: null,
  statusLog: [], // every state the status went through, oldest first
};
window.graphwirePage = page; // for the console and the browser tests

// ------------------------------------------------------------------ client and status

function transport() {
  return document.querySelector('input[name="transport"]:checked').value;
}

/** A new client when the transport or the token changed (or `force`: try the token again). */
function applySettings(force = false) {
  const key = `${transport()} ${els.token.value.trim()}`;
  if (page.active || (key === page.settingsKey && !force)) return;
  page.settingsKey = key;
  createClient();
}

function createClient() {
  page.client?.close();
  page.subscription = null;
  const client = new GraphwireClient({ token: els.token.value.trim() || null, transport: transport() });
  const current = (handler) => (event) => client === page.client && handler(event.detail);
  client.addEventListener("status", current(showStatus));
  client.addEventListener("resumed", current((d) => page.views.get(d.runId)?.markResumed(d.afterSeq)));
  client.addEventListener("error", current((error) => showBanner(`${error.code}: ${error.message}`)));
  page.client = client;
  els.drop.disabled = transport() !== "ws";
  if (transport() === "ws") {
    client.connect().then(() => {
      hideBanner();
      subscribe();
    }).catch((error) => client === page.client && showError(error));
  } else {
    showStatus({ state: "ready", transport: "sse" });
  }
}

function showStatus({ state, attempt, delay, error, transport: via }) {
  els.status.dataset.state = state;
  page.statusLog = [...page.statusLog.slice(-99), state];
  const over = via === "sse" ? "SSE" : "WebSocket";
  const who = page.client?.user?.id;
  const text = {
    idle: "Not connected",
    ready: `Ready · ${over}`,
    connecting: `Connecting · ${over}…`,
    open: via === "sse" ? "Streaming · SSE" : `Connected${who ? " as " + who : ""} · ${over}`,
    reconnecting: attempt
      ? `Reconnecting · attempt ${attempt}${delay ? ` in ${(delay / 1000).toFixed(1)} s` : ""}…`
      : "Connection lost · reconnecting…",
    closed: error ? `Disconnected · ${error.code}` : "Disconnected",
  }[state] ?? state;
  els.statusText.textContent = text;
}

function showError(error) {
  if (!(error instanceof GraphwireError)) {
    showBanner(String(error));
    return;
  }
  if (error.code === "AUTH_REQUIRED") {
    showBanner("This server needs a token: paste a JWT into the Token field and press Enter " +
      "(graphwire token --sub you mints one).");
    els.token.focus();
  } else {
    showBanner(`${error.code}: ${error.message}`);
  }
}

function showBanner(text) {
  els.banner.hidden = false;
  els.banner.querySelector(".banner-text").textContent = text;
}

function hideBanner() {
  els.banner.hidden = true;
}

// ------------------------------------------------------------------ conversations

function savedSessions() {
  try {
    return JSON.parse(localStorage.getItem(STORE)) || [];
  } catch {
    return [];
  }
}

function remember(sessionId, title) {
  const others = savedSessions().filter((s) => s.id !== sessionId);
  const existing = savedSessions().find((s) => s.id === sessionId);
  const entry = existing || { id: sessionId, title: title.slice(0, 80) };
  localStorage.setItem(STORE, JSON.stringify([entry, ...others].slice(0, 30)));
  renderSessions();
}

function renderSessions() {
  const sessions = savedSessions();
  els.sessionsEmpty.hidden = sessions.length > 0;
  els.sessions.replaceChildren(...sessions.map(({ id, title }) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "session";
    button.dataset.sessionId = id;
    button.textContent = title || id;
    button.title = id;
    if (id === page.sessionId) button.setAttribute("aria-current", "true");
    button.addEventListener("click", () => openSession(id));
    item.append(button);
    return item;
  }));
}

function clearTranscript() {
  page.views.clear();
  els.transcript.replaceChildren(els.welcome);
  els.welcome.hidden = false;
}

function newSession() {
  if (page.active) return;
  page.sessionId = null;
  page.subscription?.close();
  page.subscription = null;
  clearTranscript();
  renderSessions();
  els.message.focus();
}

async function openSession(sessionId) {
  if (page.active || sessionId === page.sessionId) return;
  page.sessionId = sessionId;
  clearTranscript();
  renderSessions();
  try {
    const messages = await page.client.history(sessionId);
    for (let i = 0; i < messages.length; i++) {
      if (messages[i].role !== "user") continue;
      const reply = messages[i + 1]?.role === "assistant" ? messages[i + 1] : null;
      addTurn(TurnView.fromHistory(els.template, messages[i].content, reply));
    }
  } catch (error) {
    showError(error);
  }
  subscribe();
  els.message.focus();
}

/** Show runs of this conversation started elsewhere (another tab, a script). */
async function subscribe() {
  if (!page.sessionId || transport() !== "ws" || page.subscription?.sessionId === page.sessionId) return;
  page.subscription?.close();
  const subscription = page.client.subscribe(page.sessionId);
  page.subscription = subscription;
  try {
    for await (const envelope of subscription) {
      if (page.ownRuns.has(envelope.run_id)) continue; // drawn by its own stream
      let view = page.views.get(envelope.run_id);
      if (!view) {
        view = new TurnView(els.template, "(asked elsewhere)");
        view.start(envelope.run_id);
        page.views.set(envelope.run_id, view);
        addTurn(view);
      }
      view.show(envelope);
      keepInView(view);
    }
  } catch (error) {
    showError(error);
  }
}

// ------------------------------------------------------------------ asking and stopping

function addTurn(view) {
  els.welcome.hidden = true;
  els.transcript.append(view.el);
  view.el.scrollIntoView({ block: "end" });
}

async function ask(question) {
  if (page.active || !question.trim()) return;
  hideBanner();
  const view = new TurnView(els.template, question);
  const run = page.client.stream(question, { sessionId: page.sessionId });
  view.start(run.runId);
  page.ownRuns.add(run.runId);
  page.views.set(run.runId, view);
  page.active = { run, view };
  addTurn(view);
  setRunning(true);
  try {
    for await (const envelope of run) {
      view.show(envelope);
      if (!page.sessionId && envelope.session_id) {
        page.sessionId = envelope.session_id;
        remember(page.sessionId, question);
        subscribe();
      }
      keepInView(view);
    }
  } catch (error) {
    view.fail(error.code || "ERROR", error.message);
    if (error.code === "AUTH_REQUIRED" || error.code === "AUTH_FAILED") showError(error);
  } finally {
    page.active = null;
    setRunning(false);
    if (page.sessionId) remember(page.sessionId, question);
    els.message.focus();
  }
}

function keepInView(view) {
  const box = els.transcript;
  if (box.scrollHeight - box.scrollTop - box.clientHeight < 160) view.el.scrollIntoView({ block: "end" });
}

async function stop() {
  if (!page.active) return;
  els.stop.disabled = true;
  try {
    await page.active.run.stop();
  } catch (error) {
    showError(error);
  }
}

function setRunning(running) {
  els.send.disabled = running;
  els.stop.disabled = !running;
  document.body.dataset.running = String(running);
  els.token.disabled = running;
  for (const radio of document.querySelectorAll('input[name="transport"]')) radio.disabled = running;
}

// ------------------------------------------------------------------ wiring

els.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const question = els.message.value;
  if (!question.trim() || page.active) return;
  els.message.value = "";
  autosize();
  ask(question);
});
els.message.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    els.composer.requestSubmit();
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && page.active) {
    event.preventDefault();
    stop();
  }
});
function autosize() {
  els.message.style.height = "auto";
  els.message.style.height = `${Math.min(els.message.scrollHeight, 200)}px`;
}
els.message.addEventListener("input", autosize);
els.stop.addEventListener("click", stop);
els.drop.addEventListener("click", () => page.client.dropConnection());
$("#new-session").addEventListener("click", newSession);
els.banner.querySelector(".banner-close").addEventListener("click", hideBanner);
els.token.addEventListener("change", () => applySettings());
$("#token-form").addEventListener("submit", (event) => {
  event.preventDefault(); // Enter in the token field: connect with it (again)
  applySettings(true);
});
for (const radio of document.querySelectorAll('input[name="transport"]')) {
  radio.addEventListener("change", () => applySettings());
}

renderSessions();
applySettings();
els.message.focus();
