// Time on screen. Countdowns run on performance.now() (monotonic: a change of the computer's clock
// does not move them). The local wall clock may be minutes off the server's, so an absolute server
// time (ISO 8601) is turned into a local deadline through an estimate of the server clock:
// - best: an offer's `expires_at` minus its `expires_in_seconds` (the server's "now" when it sent
//   the offer, off only by the network delay);
// - else: the `Date` header of our own HTTP answers (one-second resolution);
// - else: the local clock.

let offsetMs = 0; // server clock minus local clock
let uncertaintyMs = Infinity; // how far off the estimate may be (Infinity: no sample yet)
let sampledAt = 0; // performance.now() of the sample kept

const SAMPLE_MAX_AGE_MS = 10 * 60 * 1000; // clocks drift: a sample this old yields to a coarser one

/** Milliseconds on the monotonic clock. */
export function monotonicNow() {
  return typeof performance !== "undefined" && performance.now ? performance.now() : Date.now();
}

/** Record that the server clock read `serverMs` (epoch ms) just now, give or take `uncertainty`. */
export function noteServerTime(serverMs, uncertainty) {
  if (!Number.isFinite(serverMs) || !Number.isFinite(uncertainty) || uncertainty < 0) return;
  const now = monotonicNow();
  const stale = now - sampledAt > SAMPLE_MAX_AGE_MS;
  if (uncertainty > uncertaintyMs && !stale) return; // keep the more precise sample
  offsetMs = serverMs - Date.now();
  uncertaintyMs = uncertainty;
  sampledAt = now;
}

/** An HTTP `Date` header of an answer just received (second resolution). */
export function noteHttpDate(headerValue) {
  const serverMs = Date.parse(headerValue || "");
  if (Number.isFinite(serverMs)) noteServerTime(serverMs + 500, 1500);
}

/** The server's clock now, as well as we can tell (epoch ms). */
export function serverNow() {
  return Date.now() + offsetMs;
}

/** Milliseconds from now until the server time `iso` (negative when past), or null if unreadable. */
export function msUntilServerTime(iso) {
  const at = typeof iso === "string" ? Date.parse(iso) : NaN;
  return Number.isFinite(at) ? at - serverNow() : null;
}

/**
 * A monotonic deadline (performance.now() ms) from a relative `seconds` measured when the payload
 * was received, or else from the absolute server time `iso`; null when neither is usable.
 */
export function deadlineFrom(seconds, iso) {
  const relative = Number(seconds);
  if (seconds !== null && seconds !== undefined && Number.isFinite(relative)) {
    return monotonicNow() + Math.max(0, relative) * 1000;
  }
  const ms = msUntilServerTime(iso);
  return ms === null ? null : monotonicNow() + ms;
}

/** Whole seconds left until the monotonic `deadline` (rounded up, never below 0). */
export function secondsLeft(deadline) {
  if (deadline === null || deadline === undefined) return null;
  return Math.max(0, Math.ceil((deadline - monotonicNow()) / 1000));
}
