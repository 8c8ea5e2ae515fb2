// Session handling. The access token lives in this module's memory only: never in localStorage,
// never in a URL, never logged. The refresh token is an HttpOnly cookie the browser sends to
// /api/auth/* by itself, so a reload or a server restart needs no new login.

import { noteHttpDate } from "./clock.js";
import { t, hasMessage } from "./i18n.js";

const LOGIN_URL = "/api/auth/login";
const REFRESH_URL = "/api/auth/refresh";
const LOGOUT_URL = "/api/auth/logout";
const REFRESH_MARGIN_S = 60;
const RETRY_AFTER_NETWORK_ERROR_MS = 5000;

/** An HTTP error answer `{"error": {"code", "message"}}`, or a network failure (code "network"). */
export class AuthError extends Error {
  constructor(code, message, status = 0) {
    super(message || code);
    this.name = "AuthError";
    this.code = code;
    this.status = status;
  }
}

let accessToken = null;
let sessionUser = null;
let refreshTimer = null;
let refreshInFlight = null;
let sessionLostHandler = () => {};

/** The access token for the socket.io `auth` payload and `Authorization` headers, or null. */
export function currentAccessToken() {
  return accessToken;
}

/** The signed-in user (`{id, role, first_name, email}`), or null. */
export function currentUser() {
  return sessionUser;
}

/** Called when the session cannot be renewed (refresh answered 401): show the login form. */
export function onSessionLost(handler) {
  sessionLostHandler = handler;
}

/** The AuthError an API error answer carries: `{error: {code, message}}`, or the HTTP status. */
export async function errorFromResponse(response) {
  let code = `http_${response.status}`;
  let message = "";
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || "";
    }
  } catch {
    // not JSON (a proxy error page): keep the HTTP status as the code
  }
  return new AuthError(code, message, response.status);
}

async function postJson(url, body) {
  const init = { method: "POST", credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new AuthError("network", err instanceof Error ? err.message : String(err));
  }
  noteHttpDate(response.headers.get("Date")); // a rough reading of the server's clock
  if (!response.ok) throw await errorFromResponse(response);
  return response.status === 204 ? null : response.json();
}

function clearRefreshTimer() {
  if (refreshTimer !== null) {
    clearTimeout(refreshTimer);
    refreshTimer = null;
  }
}

function scheduleRefresh(delayMs) {
  clearRefreshTimer();
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refreshSession().catch(() => {});
  }, delayMs);
}

/** Refresh `expires_in - 60` s after issue (half the lifetime for very short tokens). */
function refreshDelayMs(expiresIn) {
  const seconds = Number(expiresIn) || 0;
  const lead = seconds > 2 * REFRESH_MARGIN_S ? seconds - REFRESH_MARGIN_S : seconds / 2;
  return Math.max(1000, lead * 1000);
}

function acceptSession(body) {
  accessToken = body.access_token;
  sessionUser = body.user;
  scheduleRefresh(refreshDelayMs(body.expires_in));
  return sessionUser;
}

function dropSession() {
  clearRefreshTimer();
  accessToken = null;
  sessionUser = null;
}

/** Forget the token in memory (an account that does not fit this page); the cookie stays. */
export function forgetSession() {
  dropSession();
}

/** POST /api/auth/login; resolves to the user, rejects with an AuthError. */
export async function login(email, password) {
  const body = await postJson(LOGIN_URL, { email, password });
  return acceptSession(body);
}

/**
 * POST /api/auth/refresh with the HttpOnly cookie. Resolves to the user, or to null when there is
 * no session (401); a network failure rejects (and is retried later by the timer). Concurrent calls
 * share one request, since each refresh rotates the cookie.
 */
export function refreshSession() {
  if (refreshInFlight) return refreshInFlight;
  refreshInFlight = (async () => {
    try {
      const body = await postJson(REFRESH_URL);
      return acceptSession(body);
    } catch (err) {
      if (err instanceof AuthError && (err.status === 401 || err.status === 403)) {
        const hadSession = accessToken !== null;
        dropSession();
        if (hadSession) sessionLostHandler();
        return null;
      }
      if (accessToken !== null) scheduleRefresh(RETRY_AFTER_NETWORK_ERROR_MS);
      throw err;
    } finally {
      refreshInFlight = null;
    }
  })();
  return refreshInFlight;
}

/** POST /api/auth/logout (clears the cookie) and forget the token, even if the server is away. */
export async function logout() {
  dropSession();
  try {
    await postJson(LOGOUT_URL);
  } catch {
    // the token is already gone from memory; the cookie expires by itself
  }
}

/** Text for people for an error with a code: our translation when we have one, else the server's. */
export function errorText(err) {
  const code = err && err.code ? err.code : "unknown";
  if (hasMessage(`error.${code}`)) return t(`error.${code}`);
  if (err && err.message && err.message !== code) return err.message;
  return t("error.unknown", { code });
}

function byTestId(root, id) {
  return root.querySelector(`[data-testid="${id}"]`);
}

/** Show `text` in login-error (with the code in data-code), or hide it when text is empty. */
export function showLoginError(root, text, code = "") {
  const box = byTestId(root, "login-error");
  if (!box) return;
  box.textContent = text;
  box.dataset.code = code;
  box.hidden = !text;
}

/**
 * Wire the login form (login-email, login-password, login-submit, login-error). On success calls
 * `onLoggedIn(user)`; `acceptUser(user)` may return an error key to refuse an account whose role
 * does not fit this page.
 */
export function bindLoginForm(root, { onLoggedIn, acceptUser = () => null }) {
  const form = root.querySelector("form[data-role='login']");
  const email = byTestId(root, "login-email");
  const password = byTestId(root, "login-password");
  const submit = byTestId(root, "login-submit");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showLoginError(root, "");
    submit.disabled = true;
    submit.textContent = t("login.busy");
    try {
      const user = await login(email.value.trim(), password.value);
      const refusal = acceptUser(user);
      if (refusal) {
        await logout();
        showLoginError(root, t(refusal), "wrong_role");
        return;
      }
      password.value = "";
      onLoggedIn(user);
    } catch (err) {
      showLoginError(root, errorText(err), err && err.code ? err.code : "unknown");
    } finally {
      submit.disabled = false;
      submit.textContent = t("login.submit");
    }
  });
}
