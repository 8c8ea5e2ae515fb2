// Physician dispatch board (/physician): go available, take or decline an offered request, run the
// call (the physician is the WebRTC caller), end it.

import { currentAccessToken, errorText, refreshSession } from "./auth.js";
import {
  CALL_ENDED,
  CALL_HANGUP,
  CALL_START,
  GP_AVAILABLE,
  GP_STATE,
  GP_UNAVAILABLE,
  OFFER_ACCEPT,
  OFFER_DECLINE,
  QUEUE_STATS,
  RTC_SIGNAL,
} from "./events.js";
import { formatDuration, onLangChange, t } from "./i18n.js";
import { currentLocalStream, currentRoomId, endCall, handleSignal, startCall, startLocalMedia } from "./rtc.js";
import { bootPage } from "./session.js";
import { closeSocket, emitAck, openSocket } from "./signaling.js";
import { attachStream, byTestId, setAlert, setCallState, setConnectionBanner, show, whileBusy } from "./ui.js";

const OWN_RECONNECT_WINDOW_MS = 2000;

const el = {
  gpStatus: byTestId("gp-status"),
  goAvailable: byTestId("go-available"),
  goUnavailable: byTestId("go-unavailable"),
  queueSize: byTestId("queue-size"),
  offerCard: byTestId("offer-card"),
  offerText: byTestId("offer-text"),
  offerAccept: byTestId("offer-accept"),
  offerDecline: byTestId("offer-decline"),
  callState: byTestId("call-state"),
  endedHint: byTestId("ended-hint"),
  endCall: byTestId("end-call"),
  localVideo: byTestId("local-video"),
  remoteVideo: byTestId("remote-video"),
  unmute: byTestId("unmute"),
  error: byTestId("gp-error"),
  audioOnly: byTestId("audio-only"),
  banner: byTestId("connection-status"),
  videos: byTestId("videos"),
  remoteTile: document.querySelector("[data-role='remote-tile']"),
};

/** What the page knows; render() derives everything visible from it. */
const view = {
  status: null, // unavailable | available | offered | in_call (gp:state)
  offer: null, // {request_id, patient_first_name, waited_seconds}
  offerAt: 0, // when the offer arrived (the wait keeps counting on screen)
  stats: null, // {size, oldest_wait_seconds}
  statsAt: 0,
  accepting: false, // accept clicked, call:start not yet here
  roomId: null, // room of the current call (from call:start)
  gpRoomId: null, // room named by gp:state (known before call:start arrives)
  peerName: "",
  phase: null,
  media: "",
  ended: null, // {reason} after a call, until the next offer or go-available
  online: true, // for the banner
  socketUp: false,
  connectedAt: 0, // when our socket last connected
};

/** The data-state of call-state: idle, offered, connecting, connected or ended. */
export function physicianCallState() {
  if (view.roomId && view.phase) return view.phase === "connected" ? "connected" : "connecting";
  if (view.accepting || view.status === "in_call") return "connecting";
  if (view.status === "offered" && view.offer) return "offered";
  if (view.ended) return "ended";
  return "idle";
}

function callStateText(state) {
  const peer = view.peerName || t("gp.peer_default");
  switch (state) {
    case "offered":
      return t("gp.state.offered");
    case "connecting":
      return t(view.phase === "reconnecting" ? "gp.state.reconnecting" : "gp.state.connecting", { peer });
    case "connected":
      return t(view.media === "audio" ? "gp.state.connected_audio" : "gp.state.connected_video", { peer });
    case "ended": {
      const reason = view.ended && view.ended.reason;
      if (reason === "hangup_patient" || reason === "hangup_physician") return t(`gp.ended.${reason}`);
      return t("gp.state.ended");
    }
    default:
      return t("gp.state.idle");
  }
}

/** The count is the first number of the text (browser tests read it). */
export function queueSizeText(size, oldestWaitSeconds) {
  if (!size) return t("gp.queue_zero");
  const wait = formatDuration(oldestWaitSeconds);
  return size === 1 ? t("gp.queue_one", { wait }) : t("gp.queue_many", { size, wait });
}

function elapsedSince(at) {
  return at ? (Date.now() - at) / 1000 : 0;
}

function render() {
  const state = physicianCallState();
  setCallState(el.callState, state, view.media, callStateText(state));
  show(el.endedHint, state === "ended");

  const status = view.status || "unavailable";
  el.gpStatus.textContent = t(`gp.status.${status}`);
  el.gpStatus.dataset.status = view.status || "";
  const inCall = status === "in_call" || Boolean(view.roomId) || view.accepting;
  show(el.goAvailable, view.status !== null && status === "unavailable" && !inCall);
  show(el.goUnavailable, (status === "available" || status === "offered") && !inCall);

  const stats = view.stats;
  if (stats) {
    const oldest = stats.size ? (Number(stats.oldest_wait_seconds) || 0) + elapsedSince(view.statsAt) : 0;
    el.queueSize.textContent = queueSizeText(Number(stats.size) || 0, oldest);
  }
  show(el.queueSize, Boolean(stats));

  const offer = view.status === "offered" && !view.accepting ? view.offer : null;
  show(el.offerCard, Boolean(offer));
  if (offer) {
    const wait = formatDuration((Number(offer.waited_seconds) || 0) + elapsedSince(view.offerAt));
    el.offerText.textContent = t("gp.offer.text", { name: offer.patient_first_name || "", wait });
  }

  show(el.endCall, state === "connecting" || state === "connected");

  const local = currentLocalStream();
  attachStream(el.localVideo, local);
  show(el.audioOnly, Boolean(local) && local.getVideoTracks().length === 0);
  if (!view.roomId) attachStream(el.remoteVideo, null, el.unmute);
  show(el.videos, Boolean(local) || Boolean(view.roomId));
  show(el.remoteTile, Boolean(view.roomId));
  el.videos.classList.toggle("in-call", Boolean(view.roomId));
  setConnectionBanner(el.banner, view.online);
}

function showError(err) {
  setAlert(el.error, err ? errorText(err) : "", err && err.code);
}

// ---------------------------------------------------------------- server events

function onGpState(payload) {
  if (!payload) return;
  const offer = payload.offer || null;
  if (payload.status === "offered" && offer) {
    const sameOffer = view.offer && view.offer.request_id === offer.request_id;
    if (!sameOffer) view.offerAt = Date.now();
    view.ended = null;
  }
  view.status = payload.status || "unavailable";
  view.offer = offer;
  view.gpRoomId = payload.room_id || null;
  if (view.status !== "in_call") {
    view.accepting = false;
    // The call ended while the socket was away: show it ended here too.
    if (currentRoomId()) {
      view.ended = { reason: "" };
      closeCall();
    }
  }
  render();
}

function onQueueStats(payload) {
  if (!payload) return;
  view.stats = payload;
  view.statsAt = Date.now();
  render();
}

function onCallStart(payload) {
  if (!payload || !payload.room_id) return;
  // Our own socket has just (re)connected: keep a live peer connection. Connected for a while
  // already: the patient came back without theirs (reloaded), so offer again at once.
  const peerCameBack =
    Boolean(payload.resume) && view.socketUp && Date.now() - view.connectedAt > OWN_RECONNECT_WINDOW_MS;
  view.accepting = false;
  view.roomId = payload.room_id;
  view.peerName = payload.peer_name || "";
  view.ended = null;
  startCall({
    roomId: payload.room_id,
    role: payload.role || "caller",
    iceServers: payload.ice_servers || [],
    send: emitAck,
    hooks: callHooks,
    reoffer: peerCameBack,
  });
  render();
}

const callHooks = {
  onRemoteStream(stream) {
    attachStream(el.remoteVideo, stream, el.unmute);
  },
  onPhase(phase, media) {
    view.phase = phase;
    view.media = media;
    render();
  },
};

function onCallEnded(payload) {
  const roomId = payload && payload.room_id;
  if (roomId && view.roomId && roomId !== view.roomId) return;
  view.ended = { reason: (payload && payload.reason) || "" };
  view.accepting = false;
  closeCall();
  render();
}

/** Close the peer connection, stop camera and microphone, forget the room. */
function closeCall() {
  endCall();
  view.roomId = null;
  view.phase = null;
  view.media = "";
  attachStream(el.remoteVideo, null, el.unmute);
}

// ---------------------------------------------------------------- buttons

async function goAvailable() {
  showError(null);
  try {
    await emitAck(GP_AVAILABLE, {});
    view.ended = null;
  } catch (err) {
    showError(err);
  }
  render();
}

async function goUnavailable() {
  showError(null);
  try {
    await emitAck(GP_UNAVAILABLE, {});
  } catch (err) {
    showError(err);
  }
  render();
}

async function acceptOffer() {
  showError(null);
  const offer = view.offer;
  if (!offer) return;
  // Camera and microphone before the WebRTC offer; asked for in parallel with the accept.
  const media = startLocalMedia()
    .then(render)
    .catch(() => setAlert(el.error, t("error.media"), "media"));
  view.accepting = true;
  render();
  try {
    await emitAck(OFFER_ACCEPT, { request_id: offer.request_id });
  } catch (err) {
    view.accepting = false;
    showError(err);
  }
  await media;
  render();
}

async function declineOffer() {
  showError(null);
  const offer = view.offer;
  if (!offer) return;
  try {
    await emitAck(OFFER_DECLINE, { request_id: offer.request_id });
  } catch (err) {
    showError(err);
  }
  render();
}

async function endCurrentCall() {
  showError(null);
  const roomId = view.roomId || view.gpRoomId;
  if (!roomId) return;
  try {
    await emitAck(CALL_HANGUP, { room_id: roomId });
  } catch (err) {
    if (err && err.code !== "timeout") {
      view.ended = { reason: "hangup_physician" };
      closeCall();
    } else {
      showError(err);
    }
  }
  render();
}

el.goAvailable.addEventListener("click", () => whileBusy(el.goAvailable, goAvailable));
el.goUnavailable.addEventListener("click", () => whileBusy(el.goUnavailable, goUnavailable));
el.offerAccept.addEventListener("click", () => whileBusy(el.offerAccept, acceptOffer));
el.offerDecline.addEventListener("click", () => whileBusy(el.offerDecline, declineOffer));
el.endCall.addEventListener("click", () => whileBusy(el.endCall, endCurrentCall));
onLangChange(render);

// The offer's wait and the oldest wait keep counting between pushes.
setInterval(() => {
  if (view.status === "offered" || (view.stats && view.stats.size)) render();
}, 1000);

// ---------------------------------------------------------------- session

function enter() {
  Object.assign(view, {
    status: null,
    offer: null,
    stats: null,
    accepting: false,
    roomId: null,
    gpRoomId: null,
    peerName: "",
    phase: null,
    media: "",
    ended: null,
    online: true,
    socketUp: false,
    connectedAt: 0,
  });
  render();
  openSocket({
    getToken: currentAccessToken,
    refreshToken: refreshSession,
    onSessionLost: () => app.signOut(t("error.session_lost"), "session_lost"),
    onStatus: (status) => {
      const online = status === "online";
      if (online && !view.socketUp) view.connectedAt = Date.now();
      view.socketUp = online;
      view.online = online;
      render();
    },
    handlers: {
      [GP_STATE]: onGpState,
      [QUEUE_STATS]: onQueueStats,
      [CALL_START]: onCallStart,
      [RTC_SIGNAL]: handleSignal,
      [CALL_ENDED]: onCallEnded,
    },
  });
}

function leave() {
  closeSocket();
  closeCall();
  showError(null);
  view.status = null;
  view.offer = null;
  view.ended = null;
  render();
}

const app = bootPage({ requiredRole: "physician", wrongRoleKey: "error.wrong_role_physician", enter, leave });
