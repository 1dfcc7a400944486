// Async-iterable streams of envelopes: one run's (RunStream) or one conversation's (Subscription).

import { GraphwireError } from "./errors.js";

/** A queue read with `for await`; ends when closed, throws the error it failed with. */
class EnvelopeQueue {
  constructor() {
    this._items = [];
    this._waiters = [];
    this._closed = false;
    this._error = null;
  }

  _push(item) {
    if (this._closed) return;
    const waiter = this._waiters.shift();
    if (waiter) waiter.resolve({ value: item, done: false });
    else this._items.push(item);
  }

  _close(error = null) {
    if (this._closed) return;
    this._closed = true;
    this._error = error;
    for (const waiter of this._waiters.splice(0)) this._settle(waiter);
  }

  _settle(waiter) {
    if (this._error) waiter.reject(this._error);
    else waiter.resolve({ value: undefined, done: true });
    this._error = null; // thrown once
  }

  [Symbol.asyncIterator]() {
    return {
      next: () => {
        if (this._items.length) return Promise.resolve({ value: this._items.shift(), done: false });
        return new Promise((resolve, reject) => {
          const waiter = { resolve, reject };
          if (this._closed) this._settle(waiter);
          else this._waiters.push(waiter);
        });
      },
      return: async () => {
        this._onAbandon();
        return { value: undefined, done: true };
      },
    };
  }

  _onAbandon() {}
}

/**
 * One run's envelopes in `seq` order, each once, however often the transport reconnected.
 *
 * @example
 *   const run = client.stream("How heavy is the battery?");
 *   for await (const envelope of run) if (envelope.type === "text") show(envelope.data.delta);
 *   const outcome = await run.done; // {reason, final, error}
 */
export class RunStream extends EnvelopeQueue {
  constructor(runId, { stop }) {
    super();
    this.runId = runId;
    this.sessionId = null;
    this.lastSeq = -1; // the last seq delivered: a resume asks for what comes after it
    this.final = null;
    this.error = null;
    this.reason = null;
    this._stop = stop;
    this.done = new Promise((resolve) => (this._resolveDone = resolve));
  }

  get active() {
    return this.reason === null;
  }

  /** Deliver `envelope` unless it was delivered before; true when it was new. */
  accept(envelope) {
    if (!this.active || envelope.seq === null || envelope.seq <= this.lastSeq) return false;
    this.lastSeq = envelope.seq;
    this.sessionId = envelope.session_id;
    if (envelope.type === "final") this.final = envelope.data;
    if (envelope.type === "error") this.error = GraphwireError.fromEnvelope(envelope);
    this._push(envelope);
    if (envelope.type === "end") this._end(envelope.data.reason, null);
    return true;
  }

  /** End the run without an `end` envelope: it was refused, or the server is out of reach. */
  fail(error) {
    if (!this.active) return;
    this.error = error;
    this._end("error", error);
  }

  _end(reason, thrown) {
    this.reason = reason;
    this._close(thrown);
    this._resolveDone({ reason, final: this.final, error: this.error });
  }

  /** Stop the run; it ends with `end` `cancelled` (a finished run is left as it ended). */
  stop() {
    return this._stop(this.runId);
  }

  /** The `final` data; throws the run's GraphwireError; `null` when the run was stopped. */
  async result() {
    const { final, error } = await this.done;
    if (error) throw error;
    return final;
  }
}

/** Every envelope of one conversation's runs, each once (`subscribe`). */
export class Subscription extends EnvelopeQueue {
  constructor(sessionId, { onClose }) {
    super();
    this.sessionId = sessionId;
    this._seen = new Map(); // run_id -> last seq delivered
    this._onClose = onClose;
  }

  accept(envelope) {
    const last = this._seen.get(envelope.run_id) ?? -1;
    if (envelope.seq === null || envelope.seq <= last) return false;
    this._seen.set(envelope.run_id, envelope.seq);
    this._push(envelope);
    return true;
  }

  fail(error) {
    this._close(error);
    this._onClose(this);
  }

  /** Stop receiving (the last subscription to a conversation ends the server's too). */
  close() {
    this._close();
    this._onClose(this);
  }

  _onAbandon() {
    this.close();
  }
}
