// Patient app (/patient): sign in, request a video consultation, wait in the queue, take the
// physician's call (the patient is the WebRTC callee), hang up; book an appointment (booking.js).

import { currentAccessToken, errorText, refreshSession } from "./auth.js";
import { bookingOnPatientState, enterBooking, leaveBooking, showBooking } from "./booking.js";
import {
  CALL_ENDED,
  CALL_HANGUP,
  CALL_PEER,
  CALL_START,
  ENDED_PHYSICIAN_LOST,
  PATIENT_CANCEL,
  PATIENT_REQUEST_VIDEO,
  PATIENT_STATE,
  RTC_SIGNAL,
} from "./events.js";
import { onLangChange, t } from "./i18n.js";
import {
  currentLocalStream,
  currentRoomId,
  endCall,
  handleSignal,
  startCall,
  startLocalMedia,
  stopLocalMedia,
} from "./rtc.js";
import { bootPage } from "./session.js";
import { closeSocket, emitAck, openSocket } from "./signaling.js";
import { attachStream, byTestId, setAlert, setCallState, setConnectionBanner, setText, show, whileBusy } from "./ui.js";

/** Request states during which the request is still going (docs/ARCHITECTURE.md). */
const ACTIVE_STATES = new Set(["requested", "screened", "waiting", "offered", "accepted", "in_call"]);
/** Request states of a request being put through to a physician (a call is starting or going). */
const CALL_STATES = new Set(["accepted", "in_call"]);
/** Ended reasons with their own message (patient.ended.<reason>). */
const ENDED_REASONS = new Set(["hangup_patient", "hangup_physician", "cancelled", "patient_lost", "abandoned"]);

const el = {
  callState: byTestId("call-state"),
  endedHint: byTestId("ended-hint"),
  queuePosition: byTestId("queue-position"),
  queueEta: byTestId("queue-eta"),
  peerStatus: byTestId("peer-status"),
  requestVideo: byTestId("request-video"),
  cancelRequest: byTestId("cancel-request"),
  hangup: byTestId("hangup"),
  localVideo: byTestId("local-video"),
  remoteVideo: byTestId("remote-video"),
  unmute: byTestId("unmute"),
  error: byTestId("request-error"),
  audioOnly: byTestId("audio-only"),
  banner: byTestId("connection-status"),
  videos: byTestId("videos"),
  remoteTile: document.querySelector("[data-role='remote-tile']"),
};

/** What the page knows; render() derives everything visible from it. */
const view = {
  request: null, // last PatientRequest pushed by the server (or from the request ack)
  roomId: null, // room of the current call (from call:start)
  peerName: "",
  phase: null, // WebRTC phase from rtc.js: connecting | connected | reconnecting
  media: "",
  ended: null, // {requestId, reason} once the request is over, until a new request
  peerLeft: null, // {roomId} while the physician's connection is away during the call (call:peer)
  requeued: null, // {requestId} back in the queue after the physician was lost, until the next call
  online: true,
};

function isActive(request) {
  return Boolean(request && ACTIVE_STATES.has(request.state));
}

/** The data-state of call-state: idle, waiting, offered, connecting, connected or ended. */
export function patientCallState() {
  if (view.roomId && view.phase) return view.phase === "connected" ? "connected" : "connecting";
  const request = view.request;
  // call:ended comes before the patient:state of the ended request: the end wins over it.
  const endedHere = Boolean(view.ended && request && view.ended.requestId === request.id);
  if (isActive(request) && !endedHere) {
    if (request.state === "offered") return "offered";
    if (request.state === "accepted" || request.state === "in_call") return "connecting";
    return "waiting";
  }
  if (view.ended) return view.ended.reason === "cancelled" ? "idle" : "ended";
  return "idle";
}

function callStateText(state) {
  const peer = view.peerName || t("patient.peer_default");
  switch (state) {
    case "waiting":
      return t("patient.state.waiting");
    case "offered":
      return t("patient.state.offered");
    case "connecting":
      return t(view.phase === "reconnecting" ? "patient.state.reconnecting" : "patient.state.connecting", { peer });
    case "connected":
      return t(view.media === "audio" ? "patient.state.connected_audio" : "patient.state.connected_video", { peer });
    case "ended":
      return endedText(view.ended && view.ended.reason);
    default:
      return view.ended && view.ended.reason === "cancelled" ? t("patient.state.cancelled") : t("patient.state.idle");
  }
}

function endedText(reason) {
  if (ENDED_REASONS.has(reason)) return t(`patient.ended.${reason}`);
  return reason ? t("patient.ended.other") : t("patient.state.ended");
}

function finiteSeconds(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/**
 * The estimated wait (`eta` of patient:state, seconds) as a range of whole minutes for people:
 * "Attente estimée : 5 à 12 min", "… : moins d'une minute"; "estimation indisponible" when null.
 * The lower bound rounds down and the upper bound up, so the range holds the server's.
 */
export function etaText(eta) {
  const low = eta ? finiteSeconds(eta.min_seconds) : null;
  const high = eta ? finiteSeconds(eta.max_seconds) : null;
  if (low === null || high === null) return t("patient.eta.unknown");
  const from = Math.max(0, Math.min(low, high));
  const to = Math.max(0, low, high);
  if (to < 60) return t("patient.eta", { range: t("patient.eta.under_minute") });
  const fromMin = Math.floor(from / 60);
  const toMin = Math.ceil(to / 60);
  let range;
  if (fromMin === 0) range = t("patient.eta.under", { n: toMin });
  else if (fromMin === toMin) range = t("patient.eta.about", { n: toMin });
  else range = t("patient.eta.range", { min: fromMin, max: toMin });
  return t("patient.eta", { range });
}

/** The 1-based place is the first number of the text (browser tests read it). */
export function queuePositionText(position) {
  return position === 1 ? t("patient.position_first") : t("patient.position_n", { position });
}

function render() {
  const state = patientCallState();
  setCallState(el.callState, state, view.media, callStateText(state));

  const position = view.request && view.request.position;
  const queued = (state === "waiting" || state === "offered") && Number.isInteger(position);
  setText(el.queuePosition, queued ? queuePositionText(position) : "");
  show(el.queuePosition, queued);

  // The estimate while waiting; "unavailable" rather than nothing when the server has none (no GP
  // on duty). Once offered, a physician is taking the call: a wait estimate would only confuse.
  const eta = view.request ? view.request.eta : null;
  const showEta = state === "waiting" || (state === "offered" && Boolean(eta));
  setText(el.queueEta, showEta ? etaText(eta) : "");
  el.queueEta.dataset.eta = showEta ? (eta ? "range" : "unavailable") : "";
  show(el.queueEta, showEta);

  let peerText = "";
  if (view.peerLeft && view.roomId && view.peerLeft.roomId === view.roomId) peerText = t("patient.peer_left");
  else if (view.requeued && (state === "waiting" || state === "offered")) peerText = t("patient.requeued");
  setText(el.peerStatus, peerText);
  el.peerStatus.dataset.peer = peerText ? (view.peerLeft ? "left" : "requeued") : "";
  show(el.peerStatus, Boolean(peerText));

  const canRequest = state === "idle" || state === "ended";
  show(el.requestVideo, canRequest);
  el.requestVideo.textContent = t(view.ended ? "patient.request_again" : "patient.request_video");
  show(el.endedHint, state === "ended");
  show(el.cancelRequest, state === "waiting" || state === "offered");
  show(el.hangup, state === "connecting" || state === "connected");

  const local = currentLocalStream();
  attachStream(el.localVideo, local);
  show(el.audioOnly, Boolean(local) && local.getVideoTracks().length === 0);
  if (!view.roomId) attachStream(el.remoteVideo, null, el.unmute);
  show(el.videos, Boolean(local) || Boolean(view.roomId));
  show(el.remoteTile, Boolean(view.roomId));
  el.videos.classList.toggle("in-call", Boolean(view.roomId));
  setConnectionBanner(el.banner, view.online);
  // The booking panel steps aside while a call is being put through or going on.
  showBooking(!(state === "connecting" || state === "connected"));
}

function showError(err) {
  setAlert(el.error, err ? errorText(err) : "", err && err.code);
}

// ---------------------------------------------------------------- server events

function onPatientState(payload) {
  const request = payload ? payload.request : null;
  // An appointment may have entered the queue (or its consultation ended): refresh the list.
  bookingOnPatientState(request);
  if (!request) {
    // No request (any more): a call this page still shows ended while the socket was away.
    if (currentRoomId()) {
      view.ended = { requestId: view.request && view.request.id, reason: "" };
      closeCall();
    }
    view.request = null;
    render();
    return;
  }
  if (isActive(request)) {
    if (view.ended && view.ended.requestId !== request.id) view.ended = null;
    if (view.requeued && view.requeued.requestId !== request.id) view.requeued = null;
    const wasInCall = Boolean(view.request && view.request.id === request.id && CALL_STATES.has(view.request.state));
    const queuedAgain = request.state === "waiting" || (request.state === "offered" && wasInCall);
    if (queuedAgain && (view.roomId || currentRoomId())) {
      // Queued again while this page still holds a call: the physician was lost (call:ended
      // physician_lost missed while our socket was away). Keep camera and microphone for the next.
      view.requeued = { requestId: request.id };
      closeCall({ keepMedia: true });
    }
  } else {
    if (!view.ended || view.ended.requestId !== request.id) {
      view.ended = { requestId: request.id, reason: request.ended_reason || request.state };
    }
    view.requeued = null;
    closeCall(); // also stops camera and microphone
  }
  view.request = request;
  render();
}

function onCallStart(payload) {
  if (!payload || !payload.room_id) return;
  if (view.peerLeft && view.peerLeft.roomId !== payload.room_id) view.peerLeft = null;
  view.roomId = payload.room_id;
  view.peerName = payload.peer_name || "";
  view.ended = null;
  view.requeued = null;
  startCall({
    roomId: payload.room_id,
    role: payload.role || "callee",
    iceServers: payload.ice_servers || [],
    send: emitAck,
    hooks: callHooks,
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
  const requestId = (payload && payload.request_id) || (view.request && view.request.id);
  const reason = (payload && payload.reason) || "";
  if (reason === ENDED_PHYSICIAN_LOST) {
    // Back in the queue at our place; the server pushes patient:state "waiting" next and a new
    // call:start later. Camera and microphone stay on; the page waits like before the call.
    view.requeued = { requestId };
    if (view.request && view.request.id === requestId && CALL_STATES.has(view.request.state)) {
      view.request = { ...view.request, state: "waiting", room_id: null };
    }
    closeCall({ keepMedia: true });
    render();
    return;
  }
  view.ended = { requestId, reason };
  view.requeued = null;
  closeCall();
  render();
}

/** call:peer: the physician's connection dropped during the call ("left") or came back ("back"). */
function onCallPeer(payload) {
  if (!payload || !payload.room_id) return;
  const roomId = view.roomId || (view.request && view.request.room_id);
  if (roomId && payload.room_id !== roomId) return;
  view.peerLeft = payload.state === "left" ? { roomId: payload.room_id } : null;
  render();
}

/** Close the peer connection, stop camera and microphone (unless `keepMedia`), forget the room. */
function closeCall({ keepMedia = false } = {}) {
  endCall({ keepMedia });
  view.roomId = null;
  view.phase = null;
  view.media = "";
  view.peerLeft = null;
  attachStream(el.remoteVideo, null, el.unmute);
}

// ---------------------------------------------------------------- buttons

async function requestVideo() {
  showError(null);
  try {
    await startLocalMedia();
  } catch (err) {
    setAlert(el.error, t("error.media"), (err && err.name) || "media");
    return;
  }
  render();
  try {
    const ack = await emitAck(PATIENT_REQUEST_VIDEO, {});
    view.ended = null;
    view.requeued = null;
    // A push may already have brought a newer state of the same request: keep the newest.
    if (ack.request && (!view.request || view.request.id !== ack.request.id)) view.request = ack.request;
  } catch (err) {
    showError(err);
    if (!isActive(view.request)) stopLocalMedia();
  }
  render();
}

async function cancelRequest() {
  showError(null);
  if (!view.request) return;
  try {
    await emitAck(PATIENT_CANCEL, { request_id: view.request.id });
    stopLocalMedia();
  } catch (err) {
    showError(err);
  }
  render();
}

async function hangup() {
  showError(null);
  const roomId = view.roomId || (view.request && view.request.room_id);
  if (!roomId) return;
  try {
    await emitAck(CALL_HANGUP, { room_id: roomId });
  } catch (err) {
    // The call is over anyway for this page (not_in_room, illegal_transition...).
    if (err && err.code !== "timeout") {
      view.ended = { requestId: view.request && view.request.id, reason: "hangup_patient" };
      closeCall();
    } else {
      showError(err);
    }
  }
  render();
}

el.requestVideo.addEventListener("click", () => whileBusy(el.requestVideo, requestVideo));
el.cancelRequest.addEventListener("click", () => whileBusy(el.cancelRequest, cancelRequest));
el.hangup.addEventListener("click", () => whileBusy(el.hangup, hangup));
onLangChange(render);

// ---------------------------------------------------------------- session

function enter() {
  Object.assign(view, {
    request: null,
    roomId: null,
    peerName: "",
    phase: null,
    media: "",
    ended: null,
    peerLeft: null,
    requeued: null,
    online: true,
  });
  render();
  enterBooking();
  openSocket({
    getToken: currentAccessToken,
    refreshToken: refreshSession,
    onSessionLost: () => app.signOut(t("error.session_lost"), "session_lost"),
    onStatus: (status) => {
      view.online = status === "online";
      render();
    },
    handlers: {
      [PATIENT_STATE]: onPatientState,
      [CALL_START]: onCallStart,
      [RTC_SIGNAL]: handleSignal,
      [CALL_ENDED]: onCallEnded,
      [CALL_PEER]: onCallPeer,
    },
  });
}

function leave() {
  closeSocket();
  closeCall();
  leaveBooking();
  showError(null);
  view.request = null;
  view.ended = null;
  view.requeued = null;
  render();
}

const app = bootPage({ requiredRole: "patient", wrongRoleKey: "error.wrong_role_patient", enter, leave });
