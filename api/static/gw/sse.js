// One run over Server-Sent Events with EventSource, resumed from the last seq after a drop.

import { backoffDelay, sleep } from "./backoff.js";
import { ConnectionLostError, GraphwireError } from "./errors.js";

const RUN_TYPES = ["workflow_step", "sources", "text", "final", "error", "end"];

/**
 * Feed `run` (a RunStream) from `startUrl` until its `end`.
 *
 * EventSource cannot show an HTTP status and reconnects at a fixed pace, so on any failure this
 * closes it and takes over: it waits (exponential backoff with jitter), asks with `fetch` whether
 * the run is still kept (`resumeUrl(lastSeq)`), and opens a new EventSource there. A run the
 * server never started is asked again once, with the same run id (never twice), and a refusal
 * becomes a GraphwireError with the refusal's code.
 *
 * @example
 *   await followOverSse(run, { startUrl, resumeUrl: (seq) => `…/runs/${id}/stream?after_seq=${seq}` });
 */
export async function followOverSse(run, {
  startUrl, resumeUrl, headers = () => ({}), backoff = {}, maxAttempts = 8,
  onStatus = () => {}, EventSourceImpl = globalThis.EventSource, fetchImpl = globalThis.fetch,
}) {
  const options = { EventSourceImpl, onStatus };
  let url = startUrl;
  let started = false; // does the server know the run?
  let attempt = 0;
  onStatus({ state: "connecting", attempt });
  for (;;) {
    const outcome = await readEvents(run, url, options);
    if (outcome === "ended" || !run.active) return;
    if (outcome === "opened") attempt = 0;
    started = started || run.lastSeq >= 0;
    for (;;) {
      attempt += 1;
      if (attempt > maxAttempts) {
        const error = new ConnectionLostError(
          `the server could not be reached after ${maxAttempts} attempts`);
        onStatus({ state: "closed", error });
        return run.fail(error);
      }
      if (started || attempt > 1) {
        const delay = backoffDelay(attempt - 1, backoff);
        onStatus({ state: "reconnecting", attempt, delay });
        await sleep(delay);
      } // else: find out at once why the first request failed (a refusal, most likely)
      if (!run.active) return;
      let response;
      try {
        response = await peek(fetchImpl, started ? resumeUrl(run.lastSeq) : startUrl, headers());
      } catch {
        continue; // the network: try again
      }
      if (response.ok) {
        started = true;
        url = resumeUrl(run.lastSeq);
        break;
      }
      if (response.status === 404 && started) {
        return run.fail(await GraphwireError.fromResponse(response)); // the run is gone
      }
      const refusal = await GraphwireError.fromResponse(response);
      if (!started && refusal.code === "INVALID_MESSAGE" && /in use/i.test(refusal.message)) {
        started = true; // our first request did start it: follow that run instead
        url = resumeUrl(run.lastSeq);
        break;
      }
      return run.fail(refusal); // a refusal, not a lost connection: the status stays
    }
  }
}

/** Fetch `url` and stop reading once the status is known (the body is an SSE stream). */
async function peek(fetchImpl, url, headers) {
  const controller = new AbortController();
  const response = await fetchImpl(url, { headers, signal: controller.signal });
  if (response.ok) controller.abort();
  return response;
}

/** One EventSource until the run ends or the stream fails: "ended", "opened" or "failed". */
function readEvents(run, url, { EventSourceImpl, onStatus }) {
  return new Promise((resolve) => {
    const source = new EventSourceImpl(url);
    let received = false;
    const finish = (outcome) => {
      source.close();
      resolve(outcome);
    };
    const onEnvelope = (event) => {
      let envelope;
      try {
        envelope = JSON.parse(event.data);
      } catch {
        return;
      }
      if (envelope.run_id !== run.runId) return;
      if (!received) onStatus({ state: "open" });
      received = true;
      if (envelope.type === "error" && envelope.seq === null) {
        run.fail(GraphwireError.fromEnvelope(envelope)); // the log no longer holds our place
      } else {
        run.accept(envelope);
      }
      if (!run.active) finish("ended");
    };
    for (const type of RUN_TYPES) {
      source.addEventListener(type, (event) => {
        if (type === "error" && typeof event.data !== "string") {
          finish(received ? "opened" : "failed"); // the connection failed, not the run
        } else {
          onEnvelope(event);
        }
      });
    }
  });
}
