// Authenticated JSON calls to the API (/api/appointments...): the access token in an
// `Authorization: Bearer` header (never in the URL), one refresh and retry when it has expired.

import { AuthError, currentAccessToken, errorFromResponse, refreshSession } from "./auth.js";
import { noteHttpDate } from "./clock.js";

/** Codes of a 401 that a fresh access token may cure. */
const RETRYABLE_401 = new Set(["token_expired", "token_invalid", "auth_required"]);

async function send(method, url, body) {
  const headers = { Accept: "application/json" };
  const token = currentAccessToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, credentials: "same-origin", headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new AuthError("network", err instanceof Error ? err.message : String(err));
  }
  noteHttpDate(response.headers.get("Date"));
  return response;
}

/**
 * `method` `url` with an optional JSON `body`; resolves to the JSON answer (null for 204), rejects
 * with an AuthError carrying the server's error code (or "network", or "http_<status>").
 */
export async function apiRequest(method, url, body) {
  let response = await send(method, url, body);
  if (response.status === 401) {
    const err = await errorFromResponse(response);
    if (!RETRYABLE_401.has(err.code)) throw err;
    let user = null;
    try {
      user = await refreshSession(); // null: the session is gone (the page goes back to login)
    } catch {
      throw err;
    }
    if (!user) throw err;
    response = await send(method, url, body);
  }
  if (!response.ok) throw await errorFromResponse(response);
  if (response.status === 204) return null;
  try {
    return await response.json();
  } catch {
    throw new AuthError("invalid_answer", "", response.status);
  }
}
