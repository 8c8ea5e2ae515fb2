// Small DOM helpers shared by the two pages.

import { t } from "./i18n.js";

/** The element with data-testid=`id` under `root`. */
export function byTestId(id, root = document) {
  return root.querySelector(`[data-testid="${id}"]`);
}

export function show(el, visible = true) {
  if (el) el.hidden = !visible;
}

/** Set the text of `el` only when it changes (a live region announces every replacement). */
export function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

/** Set the call-state element: machine-readable data-state / data-media, readable text. */
export function setCallState(el, state, media, text) {
  el.dataset.state = state;
  el.dataset.media = state === "connected" ? media || "" : "";
  setText(el, text);
}

/** Show `text` in an alert box (hidden when empty), keeping the error code in data-code. */
export function setAlert(el, text, code = "") {
  if (!el) return;
  el.textContent = text || "";
  el.dataset.code = text ? code : "";
  el.hidden = !text;
}

/**
 * Attach a stream to a <video>. If the browser blocks autoplay with sound, play muted and show
 * `unmuteButton` so the person can turn the sound on with one tap.
 */
export function attachStream(video, stream, unmuteButton = null) {
  const target = stream || null;
  if (video.srcObject === target) return;
  video.srcObject = target;
  if (!target) {
    video.muted = video.defaultMuted; // back to the markup's choice for the next call
    show(unmuteButton, false);
    return;
  }
  const played = video.play();
  if (played && typeof played.catch === "function") {
    played.catch(() => {
      if (video.muted) return;
      video.muted = true;
      video.play().catch(() => {});
      if (unmuteButton) {
        show(unmuteButton, true);
        unmuteButton.onclick = () => {
          video.muted = false;
          video.play().catch(() => {});
          show(unmuteButton, false);
        };
      }
    });
  }
}

/** Disable `button` while `task()` runs (no double submission), then restore it. */
export async function whileBusy(button, task) {
  if (button) button.disabled = true;
  try {
    return await task();
  } finally {
    if (button) button.disabled = false;
  }
}

/** The connection banner: visible while the socket is away. */
export function setConnectionBanner(el, online) {
  if (!el) return;
  el.textContent = online ? "" : t("conn.offline");
  el.hidden = online;
}
