// Typed errors of the graphwire.v1 protocol: every one carries the protocol's `code`.

/** The error codes of the protocol (docs/protocol.md, section 6.3). */
export const ErrorCode = Object.freeze({
  AUTH_REQUIRED: "AUTH_REQUIRED",
  AUTH_FAILED: "AUTH_FAILED",
  FORBIDDEN: "FORBIDDEN",
  INVALID_MESSAGE: "INVALID_MESSAGE",
  EMPTY_MESSAGE: "EMPTY_MESSAGE",
  MESSAGE_TOO_LARGE: "MESSAGE_TOO_LARGE",
  BUSY: "BUSY",
  RATE_LIMITED: "RATE_LIMITED",
  NOT_FOUND: "NOT_FOUND",
  MODEL_ERROR: "MODEL_ERROR",
  TIMEOUT: "TIMEOUT",
  PROCESSING_ERROR: "PROCESSING_ERROR",
});

/** Not a protocol code: the client gave up reaching the server after its reconnect attempts. */
export const CONNECTION_LOST = "CONNECTION_LOST";

const STATUS_CODES = {
  401: ErrorCode.AUTH_REQUIRED,
  403: ErrorCode.FORBIDDEN,
  404: ErrorCode.NOT_FOUND,
  409: ErrorCode.BUSY,
  413: ErrorCode.MESSAGE_TOO_LARGE,
  422: ErrorCode.INVALID_MESSAGE,
  429: ErrorCode.RATE_LIMITED,
};

/**
 * An error the server reported (an `error` envelope or a refused HTTP request).
 *
 * @example
 *   try { await client.stream("Hi").result(); }
 *   catch (err) { if (err instanceof GraphwireError && err.code === ErrorCode.BUSY) retryLater(); }
 */
export class GraphwireError extends Error {
  constructor(message, { code, retryable = false, runId = null, sessionId = null, status = null } = {}) {
    super(message);
    this.name = "GraphwireError";
    this.code = code;
    this.retryable = retryable;
    this.runId = runId;
    this.sessionId = sessionId;
    this.status = status;
  }

  /** The error an `error` envelope describes. */
  static fromEnvelope(envelope) {
    const { code, message, retryable } = envelope.data;
    return new GraphwireError(message, {
      code,
      retryable: Boolean(retryable),
      runId: envelope.run_id,
      sessionId: envelope.session_id,
    });
  }

  /** The error a refused HTTP request describes (its body is `{code, message}`). */
  static async fromResponse(response) {
    let body = {};
    try {
      body = await response.json();
    } catch {
      // not JSON (a proxy's page, say): fall back to the status
    }
    const code = body.code || STATUS_CODES[response.status] || ErrorCode.PROCESSING_ERROR;
    const retryable = code === ErrorCode.BUSY || code === ErrorCode.RATE_LIMITED;
    const message = body.message || `HTTP ${response.status}`;
    return new GraphwireError(message, { code, retryable, status: response.status });
  }
}

/** The server could not be reached again within the client's reconnect attempts. */
export class ConnectionLostError extends GraphwireError {
  constructor(message = "the connection to the server was lost") {
    super(message, { code: CONNECTION_LOST, retryable: true });
    this.name = "ConnectionLostError";
  }
}
