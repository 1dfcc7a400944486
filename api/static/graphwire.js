// graphwire.js: a dependency-free browser client of the graphwire.v1 protocol (ES module).
//
//   import { GraphwireClient } from "/static/graphwire.js";
//   const client = new GraphwireClient({ token });          // transport: "ws" (default) or "sse"
//   const run = client.stream("How heavy is the VB-24 battery?");
//   for await (const envelope of run) if (envelope.type === "text") out.append(envelope.data.delta);
//
// Runs outlive connections: after a drop the client reconnects (exponential backoff with jitter)
// and resumes every run from the last seq it delivered, so each envelope arrives exactly once.

import { DEFAULT_BACKOFF, backoffDelay } from "./gw/backoff.js";
import { ConnectionLostError, CONNECTION_LOST, ErrorCode, GraphwireError } from "./gw/errors.js";
import { ReconnectingSocket } from "./gw/socket.js";
import { followOverSse } from "./gw/sse.js";
import { RunStream, Subscription } from "./gw/streams.js";

export {
  CONNECTION_LOST, ConnectionLostError, DEFAULT_BACKOFF, ErrorCode, GraphwireError, RunStream,
  Subscription, backoffDelay,
};

export const PROTOCOL = "graphwire.v1";

/** A fresh run id (`r_` + 16 URL-safe characters), so a run can be resumed before its first envelope. */
export function newRunId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  const text = btoa(String.fromCharCode(...bytes));
  return "r_" + text.replaceAll("+", "-").replaceAll("/", "_");
}

/**
 * A client of one graphwire server. Events: `status` (detail: `{state, attempt, delay, error,
 * transport}`; state is connecting, open, reconnecting or closed), `resumed` (detail:
 * `{runId, afterSeq}`) and `error` (detail: a GraphwireError not tied to a run).
 *
 * @example
 *   const client = new GraphwireClient({ baseUrl: "http://127.0.0.1:8000", transport: "sse" });
 *   const final = await client.stream("What does fault E03 mean?").result();
 */
export class GraphwireClient extends EventTarget {
  constructor({ baseUrl = globalThis.location?.origin, token = null, transport = "ws",
    backoff = {}, maxAttempts = 8, WebSocketImpl = globalThis.WebSocket,
    EventSourceImpl = globalThis.EventSource, fetchImpl = globalThis.fetch.bind(globalThis) } = {}) {
    super();
    this.baseUrl = baseUrl.replace(/\/$/, "");
    Object.assign(this, { token, transport, backoff, maxAttempts, EventSourceImpl, fetchImpl });
    this.status = { state: "idle", transport };
    this._runs = new Map(); // run_id -> {run, message frame or null, resuming}
    this._subscriptions = new Map(); // session_id -> Set<Subscription>
    this._socket = new ReconnectingSocket({
      url: this.baseUrl.replace(/^http/, "ws") + "/ws/chat",
      token, backoff, maxAttempts, WebSocketImpl,
      onEnvelope: (envelope) => this._route(envelope),
      onStatus: (status) => this._socketStatus(status),
      onOpen: ({ reconnected }) => reconnected && this._resumeAll(),
    });
  }

  /** The authenticated user of the socket (`{id, …}`), once connected. */
  get user() {
    return this._socket.user;
  }

  /** Use `token` from now on (the socket re-authenticates when it next connects). */
  setToken(token) {
    this.token = token || null;
    this._socket.token = this.token;
  }

  /** Open the WebSocket now (and authenticate); `stream` does it on demand anyway. */
  async connect() {
    await this._socket.open();
    return this._socket.connected;
  }

  /** Ask `message`; returns the run's RunStream at once (a refusal is thrown while reading it). */
  stream(message, { sessionId = null, runId = newRunId(), options = null } = {}) {
    const frame = { type: "message", message, run_id: runId };
    if (sessionId) frame.session_id = sessionId;
    if (options) frame.options = options;
    const run = this._track(runId, frame);
    if (this.transport === "sse") {
      this._runs.get(runId).via = "sse";
      const query = { message, run_id: runId, session_id: sessionId, multitask: options?.multitask };
      this._followSse(run, this._url("/api/v1/chat/stream", query, true));
    } else {
      this._send(run, frame);
    }
    return run;
  }

  /** Replay and follow run `runId` from after `afterSeq` (-1: from its start). */
  resume(runId, afterSeq = -1) {
    const run = this._track(runId, null);
    run.lastSeq = afterSeq;
    this._runs.get(runId).via = this.transport;
    if (this.transport === "sse") this._followSse(run, this._runUrl(runId, afterSeq));
    else this._send(run, { type: "resume", run_id: runId, after_seq: afterSeq });
    return run;
  }

  /** Stop run `runId`; over the socket when it is open, else with `POST …/cancel`. */
  async stop(runId) {
    if (this.transport === "ws" && this._socket.send({ type: "stop", run_id: runId })) return;
    const response = await this.fetchImpl(this._url(`/api/v1/runs/${encodeURIComponent(runId)}/cancel`), {
      method: "POST", headers: this._headers() });
    if (!response.ok) throw await GraphwireError.fromResponse(response);
  }

  /** Every run of conversation `sessionId`, whoever starts it (WebSocket only). */
  subscribe(sessionId) {
    const subscription = new Subscription(sessionId, {
      onClose: (sub) => this._unsubscribe(sessionId, sub),
    });
    if (!this._subscriptions.has(sessionId)) this._subscriptions.set(sessionId, new Set());
    this._subscriptions.get(sessionId).add(subscription);
    this._socket.open()
      .then(() => this._socket.send({ type: "subscribe", session_id: sessionId }))
      .catch((error) => subscription.fail(error));
    return subscription;
  }

  /** The last local subscription to `sessionId` closed: end the server's too. */
  _unsubscribe(sessionId, sub) {
    const subs = this._subscriptions.get(sessionId);
    if (!subs || !subs.delete(sub) || subs.size > 0) return;
    this._subscriptions.delete(sessionId);
    this._socket.send({ type: "unsubscribe", session_id: sessionId });
  }

  /** The conversation's messages so far: `[{id, role, content, agent?}]`. */
  async history(sessionId) {
    const path = `/api/v1/sessions/${encodeURIComponent(sessionId)}/messages`;
    const response = await this.fetchImpl(this._url(path), { headers: this._headers() });
    if (!response.ok) throw await GraphwireError.fromResponse(response);
    return (await response.json()).messages;
  }

  /** Close the socket for good. */
  close() {
    this._socket.close();
  }

  /** Break the socket as a network failure would; the client reconnects and resumes. */
  dropConnection() {
    this._socket.drop();
  }

  // ---------------------------------------------------------------- internals

  _track(runId, frame) {
    const run = new RunStream(runId, { stop: (id) => this.stop(id) });
    this._runs.set(runId, { run, frame, resuming: false, via: "ws" });
    run.done.then(() => this._runs.delete(runId));
    return run;
  }

  _send(run, frame) {
    this._socket.open()
      // Not sent when the socket dropped meanwhile: the reconnect then resumes the run, and a
      // run the server never saw is asked again (see _refused).
      .then(() => this._socket.send(frame))
      .catch((error) => run.fail(error));
  }

  _followSse(run, startUrl) {
    followOverSse(run, {
      startUrl,
      resumeUrl: (afterSeq) => this._runUrl(run.runId, afterSeq),
      headers: () => this._headers(),
      backoff: this.backoff, maxAttempts: this.maxAttempts,
      EventSourceImpl: this.EventSourceImpl, fetchImpl: this.fetchImpl,
      onStatus: (status) => {
        if (status.state === "open" && this.status.state === "reconnecting") {
          this.dispatchEvent(new CustomEvent("resumed", { detail: { runId: run.runId, afterSeq: run.lastSeq } }));
        }
        this._setStatus({ ...status, transport: "sse", runId: run.runId });
      },
    }).then(() => {
      if (this.status.state !== "closed") this._setStatus({ state: "ready", transport: "sse" });
    });
  }

  /** A socket closed for good ends what it carried: its runs and subscriptions fail. */
  _socketStatus(status) {
    this._setStatus({ ...status, transport: "ws" });
    if (status.state !== "closed") return;
    const error = status.error || new ConnectionLostError("the client was closed");
    for (const entry of this._runs.values()) if (entry.via === "ws") entry.run.fail(error);
    for (const subs of [...this._subscriptions.values()]) for (const sub of [...subs]) sub.fail(error);
  }

  /** After a reconnect: ask for what each run missed, and subscribe again. */
  _resumeAll() {
    for (const [runId, entry] of this._runs) {
      if (!entry.run.active || entry.via !== "ws") continue;
      entry.resuming = true;
      this._socket.send({ type: "resume", run_id: runId, after_seq: entry.run.lastSeq });
      this.dispatchEvent(new CustomEvent("resumed", { detail: { runId, afterSeq: entry.run.lastSeq } }));
    }
    for (const sessionId of this._subscriptions.keys()) {
      this._socket.send({ type: "subscribe", session_id: sessionId });
    }
  }

  _route(envelope) {
    const entry = envelope.run_id ? this._runs.get(envelope.run_id) : undefined;
    if (envelope.type === "error" && envelope.seq === null) return this._refused(envelope, entry);
    entry?.run.accept(envelope);
    for (const sub of this._subscriptions.get(envelope.session_id) || []) sub.accept(envelope);
  }

  _refused(envelope, entry) {
    const error = GraphwireError.fromEnvelope(envelope);
    if (entry) {
      const unknown = error.code === ErrorCode.NOT_FOUND && entry.resuming;
      if (unknown && entry.run.lastSeq === -1 && entry.frame) {
        entry.resuming = false; // the message never arrived: ask again, same run id
        this._socket.send(entry.frame);
      } else {
        entry.run.fail(error);
      }
      return;
    }
    const subs = envelope.run_id ? null : this._subscriptions.get(envelope.session_id);
    if (subs?.size) for (const sub of [...subs]) sub.fail(error);
    else this.dispatchEvent(new CustomEvent("error", { detail: error }));
  }

  _setStatus(status) {
    this.status = status;
    this.dispatchEvent(new CustomEvent("status", { detail: status }));
  }

  _runUrl(runId, afterSeq) {
    const path = `/api/v1/runs/${encodeURIComponent(runId)}/stream`;
    return this._url(path, { after_seq: afterSeq }, true);
  }

  _url(path, query = {}, withToken = false) {
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(query)) {
      if (value !== null && value !== undefined) url.searchParams.set(key, String(value));
    }
    // EventSource cannot set headers: its requests carry the token in the query.
    if (withToken && this.token) url.searchParams.set("token", this.token);
    return url.toString();
  }

  _headers() {
    return this.token ? { Authorization: `Bearer ${this.token}` } : {};
  }
}
