// Reconnect pacing: exponential backoff with jitter, and a sleep that can be cut short.

/** Default pacing: 0.25 s, 0.5 s, 1 s, … up to 8 s, each with up to half of it random. */
export const DEFAULT_BACKOFF = Object.freeze({ base: 250, factor: 2, max: 8000, jitter: 0.5 });

/**
 * Milliseconds to wait before reconnect attempt `attempt` (0 for the first).
 *
 * The ceiling grows as `base * factor ** attempt` up to `max`; the wait is the ceiling less a
 * random share of `jitter` of it, so clients dropped together do not come back together.
 *
 * @example
 *   backoffDelay(3, { random: () => 1 }); // 2000: the ceiling for the fourth attempt
 */
export function backoffDelay(attempt, options = {}) {
  const { base, factor, max, jitter } = { ...DEFAULT_BACKOFF, ...options };
  const random = options.random || Math.random;
  const ceiling = Math.min(max, base * factor ** Math.max(0, attempt));
  return ceiling * (1 - jitter) + ceiling * jitter * random();
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
