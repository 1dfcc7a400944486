// The test page's view of one turn (a question and its run): steps, answer, sources, outcome.

const STEP_TEXT = {
  classify: { started: "Routing…", completed: "Routed to", failed: "Routing failed" },
  retrieve: { started: "Searching…", completed: "Searched", failed: "Search failed" },
  generate: { started: "Writing…", completed: "Answered", failed: "Answer failed" },
};

/** One question and what came back for it, drawn from the run's envelopes. */
export class TurnView {
  constructor(template, question) {
    this.el = template.content.firstElementChild.cloneNode(true);
    this.el.querySelector(".bubble").textContent = question;
    this.answer = this.el.querySelector(".answer-text");
    this.text = ""; // the answer as assembled from the deltas
  }

  /** A turn restored from history: the answer only, no steps. */
  static fromHistory(template, question, reply) {
    const view = new TurnView(template, question);
    view.el.querySelector(".steps").hidden = true;
    if (reply) {
      view.answer.textContent = reply.content;
      view._cite();
      view._meta([reply.agent && ["agent", reply.agent]]);
    }
    view.el.dataset.state = reply ? "complete" : "cancelled";
    return view;
  }

  start(runId) {
    this.el.dataset.runId = runId;
    this.el.dataset.state = "streaming";
  }

  /** Draw one envelope of the run. */
  show(envelope) {
    this.el.dataset.sessionId = envelope.session_id;
    this.el.dataset.lastSeq = envelope.seq;
    const data = envelope.data;
    switch (envelope.type) {
      case "workflow_step": return this._step(data);
      case "sources": return this._sources(data.sources);
      case "text":
        this.text += data.delta;
        this.answer.append(data.delta); // a text node per delta: no re-render of the whole answer
        return;
      case "final": return this._final(data);
      case "error": return this.fail(data.code, data.message);
      case "end": return this._end(data.reason);
    }
  }

  /** The run failed, or was refused before it started (`code` from the protocol). */
  fail(code, message) {
    const outcome = this.el.querySelector(".outcome");
    outcome.hidden = false;
    outcome.className = "outcome error";
    outcome.replaceChildren(badge(code, "code"), document.createTextNode(" " + message));
    this.el.dataset.state = "error";
    this.el.dataset.errorCode = code;
  }

  /** A reconnect resumed this run after `afterSeq`. */
  markResumed(afterSeq) {
    this.el.dataset.resumed = String(Number(this.el.dataset.resumed || 0) + 1);
    this.el.dataset.resumedAfter = String(afterSeq);
  }

  _step({ step, status, agent, confidence, count }) {
    const item = this.el.querySelector(`.step[data-step="${step}"]`);
    if (!item) return;
    item.dataset.status = status;
    item.querySelector(".step-label").textContent = STEP_TEXT[step]?.[status] ?? step;
    const detail = item.querySelector(".step-detail");
    if (step === "classify" && status === "completed") {
      const pct = Math.round(confidence * 100);
      detail.replaceChildren(badge(agent, "agent"), badge(`${pct}%`, "confidence"));
      detail.title = `the classifier is ${pct}% sure`;
    } else if (step === "retrieve" && status === "completed") {
      detail.replaceChildren(badge(`${count} passage${count === 1 ? "" : "s"}`, "count"));
    }
  }

  _sources(sources) {
    const box = this.el.querySelector(".sources");
    box.hidden = false;
    box.open = sources.length > 0;
    box.querySelector(".count").textContent = `(${sources.length})`;
    const list = box.querySelector(".source-list");
    list.replaceChildren(...sources.map((source) => {
      const item = document.createElement("li");
      item.className = "source";
      item.id = this._sourceAnchor(source.id);
      const head = document.createElement("div");
      head.className = "source-head";
      const title = document.createElement("span");
      title.className = "source-title";
      title.textContent = source.title;
      head.append(title, badge(source.score.toFixed(2), "score"));
      const id = document.createElement("code");
      id.textContent = source.id;
      const snippet = document.createElement("p");
      snippet.className = "snippet";
      snippet.textContent = source.snippet;
      item.append(head, id, snippet);
      return item;
    }));
    if (!sources.length) list.replaceChildren(note("No passage matched this question."));
  }

  _final(data) {
    if (data.text !== this.text) {
      this.el.dataset.mismatch = "true"; // the deltas did not add up: show the server's text
      this.answer.textContent = data.text;
    }
    this._cite();
    this._meta([
      ["agent", data.agent],
      ["model", data.model],
      // the answer's own length, as the CLI shows it; the prompt's tokens beside it
      data.usage && ["tokens", `${data.usage.output_tokens} tokens (prompt ${data.usage.input_tokens})`],
      data.timing?.first_token_ms != null && ["first token", `${Math.round(data.timing.first_token_ms)} ms first token`],
      data.timing && ["total", `${(data.timing.total_ms / 1000).toFixed(1)} s`],
      this.el.dataset.resumed && ["resumed", `resumed after seq ${this.el.dataset.resumedAfter}`],
    ]);
  }

  _end(reason) {
    if (reason === "cancelled") {
      const outcome = this.el.querySelector(".outcome");
      outcome.hidden = false;
      outcome.className = "outcome cancelled";
      outcome.textContent = "Stopped.";
    }
    if (reason === "cancelled") {
      for (const step of this.el.querySelectorAll('.step[data-status="started"]')) {
        step.dataset.status = "cancelled";
        step.querySelector(".step-label").textContent = "Stopped";
      }
    }
    if (this.el.dataset.state !== "error") this.el.dataset.state = reason;
  }

  /** Turn `[doc#3]` citations into links to the source (the text itself stays the same). */
  _cite() {
    const text = this.answer.textContent;
    const parts = text.split(/(\[[\w./-]+#\d+\])/g);
    if (parts.length === 1) return;
    this.answer.replaceChildren(...parts.map((part, i) => {
      if (i % 2 === 0) return document.createTextNode(part);
      const link = document.createElement("a");
      link.className = "cite";
      link.href = "#" + this._sourceAnchor(part.slice(1, -1));
      link.textContent = part;
      return link;
    }));
  }

  _sourceAnchor(sourceId) {
    return `src-${this.el.dataset.runId || "h"}-${sourceId.replace(/[^\w-]/g, "_")}`;
  }

  _meta(entries) {
    const meta = this.el.querySelector(".meta");
    meta.replaceChildren(...entries.filter(Boolean).map(([kind, value]) => badge(value, kind)));
  }
}

function badge(text, kind) {
  const el = document.createElement("span");
  el.className = `badge badge-${kind.replace(/\s+/g, "-")}`;
  el.textContent = text;
  return el;
}

function note(text) {
  const el = document.createElement("li");
  el.className = "muted";
  el.textContent = text;
  return el;
}
