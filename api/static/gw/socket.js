// One WebSocket to /ws/chat that comes back after a drop: backoff with jitter, then re-auth.

import { backoffDelay, sleep } from "./backoff.js";
import { ConnectionLostError, ErrorCode, GraphwireError } from "./errors.js";

const HANDSHAKE_TIMEOUT_MS = 15000;

/** A close that reconnecting would not cure: a token problem (1008) or a frame too big (1009). */
function isFatalClose(event) {
  if (event.code === 1009) return true;
  return event.code === 1008 && event.reason !== "client too slow";
}

/**
 * The socket and its lifecycle; envelopes of runs go to `onEnvelope`, state changes to
 * `onStatus({state, attempt, delay, error})`, and every (re)opened, authenticated socket to
 * `onOpen({reconnected})` so the owner can resume its runs.
 *
 * @example
 *   const socket = new ReconnectingSocket({ url: "ws://127.0.0.1:8000/ws/chat", onEnvelope });
 *   await socket.open();
 *   socket.send({ type: "ping" });
 */
export class ReconnectingSocket {
  constructor({ url, token = null, backoff = {}, maxAttempts = 8, onEnvelope, onStatus, onOpen,
    WebSocketImpl = globalThis.WebSocket }) {
    Object.assign(this, { url, token, backoff, maxAttempts, WebSocketImpl });
    this._onEnvelope = onEnvelope || (() => {});
    this._onStatus = onStatus || (() => {});
    this._onOpen = onOpen || (() => {});
    this.state = "idle";
    this.connected = null; // the last `connected` data
    this.user = null;
    this._ws = null;
    this._opening = null;
    this._everOpened = false;
    this._stopped = new AbortController();
  }

  /** Resolves once a socket is open and authenticated; rejects with a GraphwireError. */
  open() {
    return this._open(0);
  }

  _open(firstAttempt) {
    if (this.state === "open") return Promise.resolve();
    if (!this._opening) {
      if (firstAttempt === 0) this._stopped = new AbortController();
      this._opening = this._connectLoop(firstAttempt).finally(() => (this._opening = null));
    }
    return this._opening;
  }

  /** Send one frame; false when no socket is open (the frame is not queued). */
  send(frame) {
    if (this.state !== "open") return false;
    this._ws.send(JSON.stringify(frame));
    return true;
  }

  /** Close for good (no reconnect). */
  close() {
    this._stopped.abort();
    this._setState("closed");
    this._ws?.close(1000, "client closed");
  }

  /** Break the socket as a network failure would (a reconnect follows): for demos and tests. */
  drop() {
    this._ws?.close(4000, "dropped by the client");
  }

  async _connectLoop(firstAttempt) {
    for (let attempt = firstAttempt; ; attempt++) {
      if (this._stopped.signal.aborted) throw new ConnectionLostError("the client was closed");
      if (attempt > 0) {
        if (attempt > this.maxAttempts) {
          const error = new ConnectionLostError(
            `the server could not be reached after ${this.maxAttempts} attempts`);
          this._setState("closed", { error });
          throw error;
        }
        const delay = backoffDelay(attempt - 1, this.backoff);
        this._setState("reconnecting", { attempt, delay });
        await sleep(delay, this._stopped.signal);
      } else {
        this._setState(this._everOpened ? "reconnecting" : "connecting", { attempt });
      }
      try {
        await this._connectOnce();
      } catch (error) {
        if (error instanceof ConnectionLostError) continue; // the network: try again
        this._setState("closed", { error });
        throw error; // refused: the same token would be refused again
      }
      const reconnected = this._everOpened;
      this._everOpened = true;
      this._setState("open");
      this._onOpen({ reconnected });
      return;
    }
  }

  /** Open one socket and authenticate it; resolves when it can carry frames. */
  _connectOnce() {
    return new Promise((resolve, reject) => {
      let settled = false;
      const ws = new this.WebSocketImpl(this.url);
      this._ws = ws;
      const timer = setTimeout(
        () => settle(new ConnectionLostError("the server did not answer the handshake")),
        HANDSHAKE_TIMEOUT_MS);
      const settle = (error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) {
          reject(error);
          ws.close();
        } else resolve();
      };
      ws.onmessage = (event) => {
        let envelope;
        try {
          envelope = JSON.parse(event.data);
        } catch {
          return; // not ours to interpret
        }
        if (!settled) this._handshake(ws, envelope, settle);
        else this._dispatch(envelope);
      };
      ws.onclose = (event) => {
        if (this._ws === ws) this._ws = null;
        if (!settled) settle(new ConnectionLostError(`the socket closed (${event.code})`));
        else this._lost(event);
      };
    });
  }

  _handshake(ws, envelope, settle) {
    const { type, data } = envelope;
    if (type === "connected") {
      this.connected = data;
      if (!data.auth_required) {
        this.user = data.user || null;
        return settle();
      }
      if (!this.token) {
        return settle(new GraphwireError("the server needs a token", {
          code: ErrorCode.AUTH_REQUIRED }));
      }
      ws.send(JSON.stringify({ type: "auth", token: this.token }));
    } else if (type === "auth_success") {
      this.user = data.user;
      settle();
    } else if (type === "error") {
      settle(GraphwireError.fromEnvelope(envelope));
    }
  }

  _dispatch(envelope) {
    if (envelope.type === "pong") return;
    this._onEnvelope(envelope);
  }

  _lost(event) {
    if (this.state === "closed") return; // we closed it
    if (isFatalClose(event)) {
      const code = event.code === 1009 ? ErrorCode.MESSAGE_TOO_LARGE : ErrorCode.AUTH_FAILED;
      const error = new GraphwireError(event.reason || `closed by the server (${event.code})`,
        { code });
      this._setState("closed", { error });
      return;
    }
    // Even the first reconnect waits a little: clients dropped together spread out (jitter).
    this.state = "reconnecting";
    this._open(1).catch(() => {}); // the outcome is reported through onStatus
  }

  _setState(state, details = {}) {
    this.state = state;
    this._onStatus({ state, ...details });
  }
}
