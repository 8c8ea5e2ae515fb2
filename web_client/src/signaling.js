// The socket.io connection: websocket transport only, the access token in the `auth` payload
// (read again on every reconnect, so a refreshed token is used), and promise-based acks.

import { io } from "socket.io-client";
import { CONNECT_AUTH_REQUIRED, CONNECT_TOKEN_EXPIRED, CONNECT_TOKEN_INVALID } from "./events.js";

const ACK_TIMEOUT_MS = 10000;
const RETRY_DELAY_MS = 2000;
const MAX_AUTH_FAILURES = 3;
const AUTH_ERRORS = new Set([CONNECT_AUTH_REQUIRED, CONNECT_TOKEN_EXPIRED, CONNECT_TOKEN_INVALID]);

/** A refused event (`{ok: false, error: {code, message}}`), an ack timeout or a missing socket. */
export class SignalingError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = "SignalingError";
    this.code = code;
  }
}

let socket = null;
let authFailures = 0;

/**
 * Open the socket. `getToken()` gives the current access token; `refreshToken()` resolves to the
 * user after a refresh, or null when the session is gone (then `onSessionLost()`); `onStatus` gets
 * "online" / "offline"; `handlers` maps server event names to functions.
 */
export function openSocket({ getToken, refreshToken, onSessionLost, onStatus = () => {}, handlers = {} }) {
  closeSocket();
  authFailures = 0;
  const s = io({
    transports: ["websocket"],
    autoConnect: false,
    auth: (cb) => cb({ token: getToken() }),
  });
  socket = s;

  s.on("connect", () => {
    authFailures = 0;
    onStatus("online");
  });

  s.on("disconnect", (reason) => {
    onStatus("offline");
    // A server-side disconnect does not reconnect by itself; the page must always come back.
    if (reason === "io server disconnect") {
      setTimeout(() => {
        if (socket === s && !s.connected) s.connect();
      }, RETRY_DELAY_MS);
    }
  });

  s.on("connect_error", async (err) => {
    onStatus("offline");
    if (socket !== s) return;
    if (!AUTH_ERRORS.has(err && err.message)) {
      // Transport failure: the manager retries by itself while the socket is active.
      if (!s.active) setTimeout(() => socket === s && s.connect(), RETRY_DELAY_MS);
      return;
    }
    // Refused by the server's connect handler: refresh the token, then connect again by hand.
    authFailures += 1;
    if (authFailures > MAX_AUTH_FAILURES) {
      onSessionLost();
      return;
    }
    let user;
    try {
      user = await refreshToken();
    } catch {
      setTimeout(() => socket === s && s.connect(), RETRY_DELAY_MS);
      return;
    }
    if (socket !== s) return;
    if (user) s.connect();
    else onSessionLost();
  });

  for (const [event, handler] of Object.entries(handlers)) s.on(event, handler);
  s.connect();
  return s;
}

/** Close the socket for good (logout, session lost). */
export function closeSocket() {
  if (socket) {
    const s = socket;
    socket = null;
    s.removeAllListeners();
    s.disconnect();
  }
}

export function isConnected() {
  return Boolean(socket && socket.connected);
}

/**
 * Emit `event` with an object payload and resolve to the ack body when it says `ok: true`.
 * Rejects with a SignalingError carrying the server's code and message, or code "timeout".
 */
export function emitAck(event, payload = {}, timeoutMs = ACK_TIMEOUT_MS) {
  if (!socket) return Promise.reject(new SignalingError("not_connected", "no socket"));
  return socket
    .timeout(timeoutMs)
    .emitWithAck(event, payload)
    .then(
      (ack) => {
        if (ack && ack.ok === true) return ack;
        const error = (ack && ack.error) || {};
        throw new SignalingError(error.code || "invalid_ack", error.message || "");
      },
      (err) => {
        if (err instanceof SignalingError) throw err;
        throw new SignalingError("timeout", `no ack for ${event}`);
      },
    );
}
