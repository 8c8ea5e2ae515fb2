// Patient app (/patient): sign in, check camera, microphone and network (pre-call check), request
// a video (or audio-only) consultation or a phone callback, wait in the queue, take the
// physician's call (the patient is the WebRTC callee), step down to audio or phone when the
// connection is bad, hang up; book an appointment (booking.js).

import { apiRequest } from "./api.js";
import { currentAccessToken, errorText, refreshSession } from "./auth.js";
import { bookingOnPatientState, enterBooking, leaveBooking, showBooking } from "./booking.js";
import {
  CALL_DEGRADED,
  CALL_ENDED,
  CALL_HANGUP,
  CALL_PEER,
  CALL_START,
  CHANNEL_PHONE,
  ENDED_PHONE_CALLBACK,
  ENDED_PHYSICIAN_LOST,
  PATIENT_CANCEL,
  PATIENT_REQUEST_PHONE,
  PATIENT_REQUEST_VIDEO,
  PATIENT_STATE,
  RTC_SIGNAL,
} from "./events.js";
import { onLangChange, t } from "./i18n.js";
import { bindLadderPanel } from "./ladder.js";
import { formatPhone } from "./phone.js";
import { cancelPrecallCheck, runPrecallCheck } from "./precall.js";
import {
  currentLocalStream,
  currentRoomId,
  endCall,
  handleSignal,
  noteLadderPhone,
  startCall,
  startLocalMedia,
  stopLocalMedia,
} from "./rtc.js";
import { bootPage } from "./session.js";
import { closeSocket, emitAck, openSocket } from "./signaling.js";
import { attachStream, byTestId, setAlert, setCallState, setConnectionBanner, setText, show, whileBusy } from "./ui.js";

/** Request states during which the request is still going (docs/ARCHITECTURE.md). */
const ACTIVE_STATES = new Set(["requested", "screened", "waiting", "offered", "accepted", "in_call"]);
/** Request states that end a request (a phone request in any other state is taken as going on). */
const FINAL_STATES = new Set(["wrap_up", "done", "cancelled", "abandoned", "unreachable", "refused"]);
/** Request states of a request being put through to a physician (a call is starting or going). */
const CALL_STATES = new Set(["accepted", "in_call"]);
/** Ended reasons with their own message (patient.ended.<reason>). */
const ENDED_REASONS = new Set([
  "hangup_patient",
  "hangup_physician",
  "cancelled",
  "patient_lost",
  "abandoned",
  "unreachable",
  "wrong_number",
]);
const MEDIA_KEY = "tc_request_media"; // sessionStorage: "<request id>:audio" for an audio-only request

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
  remoteAudioNote: document.querySelector("[data-role='remote-audio-note']"),
  deviceCheck: byTestId("device-check"),
  deviceCheckPanel: document.querySelector("[data-role='device-check-panel']"),
  deviceCheckResult: byTestId("device-check-result"),
  micRow: document.querySelector("[data-role='mic-row']"),
  micLevel: byTestId("mic-level"),
  phoneOption: document.querySelector("[data-role='phone-option']"),
  phoneRecommended: document.querySelector("[data-role='phone-recommended']"),
  phoneNumber: byTestId("phone-number"),
  requestPhone: byTestId("request-phone"),
  phoneError: byTestId("phone-error"),
  phoneAttempts: byTestId("phone-attempts"),
  phoneHint: document.querySelector("[data-role='phone-hint']"),
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
  check: null, // pre-call check: {status: "running", phase} or {status: "done", result} (precall.js)
  checkPromise: null, // the check under way
  checkPreview: null, // the check's camera and microphone, shown in local-video while it runs
  micLevel: 0, // last level of the meter (0..1)
  micPeak: 0,
  autoChecked: false, // the check ran (by hand or before the first request-video)
  callMedia: "video", // the current request's media: "audio" after an audio-only request
  phoneHandover: null, // {requestId}: the call moved to a phone callback (call:ended phone_callback)
  mobile: "", // the account's mobile (GET /api/me), E.164
};

/** A phone request (channel phone) not over yet. */
function isPhoneActive(request) {
  if (!request || request.channel !== CHANNEL_PHONE) return false;
  if (ACTIVE_STATES.has(request.state)) return true;
  return !FINAL_STATES.has(request.state) && !request.ended_reason;
}

function isActive(request) {
  return Boolean(request && (ACTIVE_STATES.has(request.state) || isPhoneActive(request)));
}

/** The call moved to a phone callback and the server's new state of the request is not here yet. */
function inPhoneHandover(request) {
  const handover = view.phoneHandover;
  if (!handover) return false;
  if (!request || request.id !== handover.requestId) return !request;
  return isActive(request);
}

/** The data-state of call-state: idle, waiting, offered, connecting, connected, phone or ended. */
export function patientCallState() {
  if (view.roomId && view.phase) return view.phase === "connected" ? "connected" : "connecting";
  const request = view.request;
  if (isPhoneActive(request) || inPhoneHandover(request)) return "phone";
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
    case "phone": {
      const number = formatPhone((view.request && view.request.phone_number) || view.mobile);
      return number ? t("patient.state.phone", { number }) : t("patient.state.phone_no_number");
    }
    case "ended":
      return endedText(view.ended && view.ended.reason);
    default:
      return view.ended && view.ended.reason === "cancelled" ? t("patient.state.cancelled") : t("patient.state.idle");
  }
}

function endedText(reason) {
  const phone = Boolean(view.request && view.request.channel === CHANNEL_PHONE);
  if (phone && (reason === "hangup_physician" || reason === "hangup_patient")) return t("patient.ended.phone_done");
  if (ENDED_REASONS.has(reason)) return t(`patient.ended.${reason}`);
  if (phone) return t("patient.ended.phone_done");
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

/** The queue stage of a request: "waiting", "offered" or "" (a phone request counts as well). */
function queueStage(state) {
  if (state === "waiting" || state === "offered") return state;
  if (state !== "phone" || !view.request) return "";
  const requestState = view.request.state;
  return requestState === "waiting" || requestState === "offered" ? requestState : "";
}

function render() {
  const state = patientCallState();
  setCallState(el.callState, state, view.media, callStateText(state));

  const stage = queueStage(state);
  const position = view.request && view.request.position;
  const queued = Boolean(stage) && Number.isInteger(position);
  setText(el.queuePosition, queued ? queuePositionText(position) : "");
  show(el.queuePosition, queued);

  // The estimate while waiting; "unavailable" rather than nothing when the server has none (no GP
  // on duty). Once offered, a physician is taking the call: a wait estimate would only confuse.
  const eta = view.request ? view.request.eta : null;
  const showEta = stage === "waiting" || (stage === "offered" && Boolean(eta));
  setText(el.queueEta, showEta ? etaText(eta) : "");
  el.queueEta.dataset.eta = showEta ? (eta ? "range" : "unavailable") : "";
  show(el.queueEta, showEta);

  let peerText = "";
  if (view.peerLeft && view.roomId && view.peerLeft.roomId === view.roomId) peerText = t("patient.peer_left");
  else if (view.requeued && (state === "waiting" || state === "offered")) peerText = t("patient.requeued");
  setText(el.peerStatus, peerText);
  el.peerStatus.dataset.peer = peerText ? (view.peerLeft ? "left" : "requeued") : "";
  show(el.peerStatus, Boolean(peerText));

  renderPhone(state);

  const canRequest = state === "idle" || state === "ended";
  const result = checkResult();
  // Verdict phone: request-video stays only when the check found a working microphone.
  const videoPossible = !result || result.verdict !== "phone" || result.microphoneUsable;
  show(el.requestVideo, canRequest && videoPossible);
  el.requestVideo.textContent = t(
    view.ended ? "patient.request_again" : requestMedia() === "audio" ? "patient.request_audio" : "patient.request_video",
  );
  show(el.endedHint, state === "ended");
  show(el.cancelRequest, Boolean(stage));
  show(el.hangup, state === "connecting" || state === "connected");

  renderCheck(canRequest);
  show(el.phoneOption, canRequest);
  const recommended = Boolean(result && result.verdict === "phone");
  el.phoneOption.dataset.recommended = String(recommended);
  el.phoneOption.classList.toggle("recommended", recommended);
  show(el.phoneRecommended, recommended);
  if (!canRequest) setAlert(el.phoneError, "");

  const inCall = state === "connecting" || state === "connected";
  ladderPanel.render(inCall);

  const local = currentLocalStream() || view.checkPreview;
  attachStream(el.localVideo, local);
  const audioCall = Boolean(view.roomId) && (view.media === "audio" || view.callMedia === "audio");
  show(el.audioOnly, Boolean(local) && local.getVideoTracks().length === 0);
  setText(el.audioOnly, t(audioCall || (!view.roomId && requestMedia() === "audio") ? "media.audio_mode" : "media.audio_only"));
  if (!view.roomId) attachStream(el.remoteVideo, null, el.unmute);
  show(el.videos, Boolean(local) || Boolean(view.roomId));
  show(el.remoteTile, Boolean(view.roomId));
  el.videos.classList.toggle("in-call", Boolean(view.roomId));
  el.videos.classList.toggle("audio-call", audioCall);
  show(el.remoteAudioNote, audioCall);
  setConnectionBanner(el.banner, view.online);
  // The booking panel steps aside while a call is being put through or going on.
  showBooking(!(state === "connecting" || state === "connected"));
}

/** The phone callback's details: attempts so far, and what happens next. */
function renderPhone(state) {
  const request = view.request;
  const phone = state === "phone";
  const attempts = phone && request && Number.isInteger(request.phone_attempts) ? request.phone_attempts : 0;
  setText(el.phoneAttempts, attempts > 0 ? t(attempts === 1 ? "patient.phone.attempts_one" : "patient.phone.attempts_many", { n: attempts, max: 3 }) : "");
  el.phoneAttempts.dataset.attempts = phone ? String(attempts) : "";
  show(el.phoneAttempts, attempts > 0);
  let hint = "";
  if (phone) {
    const requestState = request && request.channel === CHANNEL_PHONE ? request.state : "accepted";
    if (requestState === "accepted") hint = t("patient.phone.hint_accepted");
    else if (requestState === "in_call") hint = t("patient.phone.hint_in_call");
    else hint = t("patient.phone.hint_waiting");
  }
  setText(el.phoneHint, hint);
  show(el.phoneHint, Boolean(hint));
}

// ---------------------------------------------------------------- pre-call check

function checkResult() {
  return view.check && view.check.status === "done" ? view.check.result : null;
}

/** The media of the next request: audio when the check says audio, or phone with a microphone. */
function requestMedia() {
  const result = checkResult();
  if (!result) return "video";
  return result.verdict === "video" ? "video" : "audio";
}

function checkText(result) {
  if (result.verdict === "video") return t("check.video");
  return t(`check.${result.verdict}.${result.reason}`);
}

function renderCheck(canRequest) {
  const check = view.check;
  const running = Boolean(check && check.status === "running");
  show(el.deviceCheckPanel, canRequest || running);
  el.deviceCheck.disabled = running;
  setText(el.deviceCheck, t(running ? "check.running_button" : check ? "check.again" : "check.button"));
  show(el.micRow, Boolean(check));
  el.micLevel.value = running ? view.micLevel : view.micPeak;
  el.micLevel.dataset.peak = String(Math.round(view.micPeak * 100) / 100);
  el.micLevel.dataset.active = String(running && view.micLevel > 0);
  const box = el.deviceCheckResult;
  if (!check) {
    box.dataset.result = "";
    box.dataset.status = "";
    setText(box, "");
    show(box, false);
    return;
  }
  if (running) {
    box.dataset.result = "";
    box.dataset.status = "running";
    const networkKey = check.quick ? "check.running_network_quick" : "check.running_network";
    setText(box, t(check.phase === "network" ? networkKey : check.phase === "verdict" ? "check.running_verdict" : "check.running"));
    show(box, true);
    return;
  }
  const result = check.result;
  box.dataset.status = "done";
  box.dataset.result = result.verdict;
  box.dataset.reason = result.reason;
  box.dataset.source = result.source;
  box.dataset.reasons = result.reasons.join(" ");
  box.dataset.network = result.network ? "tested" : "untested";
  let text = checkText(result);
  if (!result.network && result.microphoneUsable) text += ` ${t("check.no_network_test")}`;
  if (result.verdict === "phone") text += ` ${t("check.phone_next")}`;
  setText(box, text);
  show(box, true);
}

/**
 * Run the pre-call check (device-check, or once before the first request-video: `quick`, a
 * shorter network test). Never throws: a check that fails leaves no verdict, which never blocks a
 * request.
 */
function runCheck({ quick = false } = {}) {
  if (view.checkPromise) return view.checkPromise;
  view.autoChecked = true;
  view.check = { status: "running", phase: "devices", quick };
  view.micLevel = 0;
  view.micPeak = 0;
  render();
  const hooks = {
    onPhase(phase) {
      if (view.check && view.check.status === "running") view.check.phase = phase;
      render();
    },
    onPreview(stream) {
      view.checkPreview = stream;
      render();
    },
    onLevel(level) {
      view.micLevel = level;
      view.micPeak = Math.max(view.micPeak, level);
      el.micLevel.value = level; // cheaper than a full render ten times a second
      el.micLevel.dataset.peak = String(Math.round(view.micPeak * 100) / 100);
      el.micLevel.dataset.active = String(level > 0);
    },
  };
  const promise = runPrecallCheck(hooks, { quick })
    .then((result) => {
      view.check = result ? { status: "done", result } : null;
    })
    .catch((err) => {
      console.warn("device check failed", err && err.name, err && err.message);
      view.check = null;
    })
    .finally(() => {
      view.checkPromise = null;
      view.checkPreview = null;
      render();
    });
  view.checkPromise = promise;
  return promise;
}

function rememberRequestMedia(requestId, media) {
  try {
    if (media === "audio") window.sessionStorage.setItem(MEDIA_KEY, `${requestId}:audio`);
    else window.sessionStorage.removeItem(MEDIA_KEY);
  } catch {
    // storage disabled: a reload mid-call goes back to video
  }
}

function rememberedMedia(requestId) {
  try {
    return window.sessionStorage.getItem(MEDIA_KEY) === `${requestId}:audio` ? "audio" : "video";
  } catch {
    return "video";
  }
}

function showError(err) {
  setAlert(el.error, err ? errorText(err) : "", err && err.code);
}

// ---------------------------------------------------------------- server events

function onPatientState(payload) {
  const request = payload ? payload.request : null;
  // An appointment may have entered the queue (or its consultation ended): refresh the list.
  bookingOnPatientState(request);
  if (view.phoneHandover && (!request || request.id !== view.phoneHandover.requestId || request.channel === CHANNEL_PHONE || !isActive(request))) {
    view.phoneHandover = null; // the server's state of the callback is here
  }
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
    if (request.channel === CHANNEL_PHONE) {
      // A phone callback (asked for, or the call moved to the phone while our socket was away):
      // no WebRTC, no camera.
      view.requeued = null;
      if (view.roomId || currentRoomId()) {
        noteLadderPhone();
        closeCall();
      }
    } else if (queuedAgain && (view.roomId || currentRoomId())) {
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
  view.phoneHandover = null;
  const requestId = payload.request_id || (view.request && view.request.id);
  if (requestId) view.callMedia = rememberedMedia(requestId);
  startCall({
    roomId: payload.room_id,
    role: payload.role || "callee",
    iceServers: payload.ice_servers || [],
    iceTransportPolicy: payload.ice_transport_policy || "all",
    media: view.callMedia,
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
  onLadder() {
    render();
  },
};

function onCallEnded(payload) {
  const roomId = payload && payload.room_id;
  if (roomId && view.roomId && roomId !== view.roomId) return;
  const requestId = (payload && payload.request_id) || (view.request && view.request.id);
  const reason = (payload && payload.reason) || "";
  if (reason === ENDED_PHONE_CALLBACK) {
    // The same consultation goes on by phone: the physician calls our mobile. patient:state with
    // channel phone follows; until then the page already says so.
    view.phoneHandover = { requestId };
    view.ended = null;
    view.requeued = null;
    noteLadderPhone();
    closeCall();
    render();
    return;
  }
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
  setAlert(el.phoneError, "");
  // The pre-call check runs once before the first request if the patient did not run it.
  if (view.checkPromise) await view.checkPromise;
  else if (!view.autoChecked) await runCheck({ quick: true });
  const result = checkResult();
  if (result && result.verdict === "phone" && !result.microphoneUsable) {
    // No microphone (or refused): a browser consultation cannot work; the phone option is shown.
    render();
    if (!el.phoneNumber.hidden) el.phoneNumber.focus({ preventScroll: false });
    return;
  }
  const media = requestMedia();
  try {
    await startLocalMedia({ video: media === "video" });
  } catch (err) {
    setAlert(el.error, t("error.media"), (err && err.name) || "media");
    return;
  }
  render();
  try {
    const ack = await emitAck(PATIENT_REQUEST_VIDEO, media === "audio" ? { media: "audio" } : {});
    view.ended = null;
    view.requeued = null;
    view.phoneHandover = null;
    view.callMedia = media;
    if (ack.request && ack.request.id) rememberRequestMedia(ack.request.id, media);
    // A push may already have brought a newer state of the same request: keep the newest.
    if (ack.request && (!view.request || view.request.id !== ack.request.id)) view.request = ack.request;
  } catch (err) {
    showError(err);
    if (!isActive(view.request)) stopLocalMedia();
  }
  render();
}

async function requestPhone() {
  showError(null);
  setAlert(el.phoneError, "");
  el.phoneNumber.removeAttribute("aria-invalid");
  const number = el.phoneNumber.value.trim();
  if (!number) {
    phoneRefused({ code: "invalid_phone" });
    return;
  }
  try {
    const ack = await emitAck(PATIENT_REQUEST_PHONE, { phone_number: number });
    view.ended = null;
    view.requeued = null;
    view.phoneHandover = null;
    view.callMedia = "video";
    if (ack.request && (!view.request || view.request.id !== ack.request.id)) view.request = ack.request;
    stopLocalMedia(); // no camera or microphone for a phone call
  } catch (err) {
    phoneRefused(err);
  }
  render();
}

function phoneRefused(err) {
  const code = (err && err.code) || "unknown";
  if (code === "invalid_phone") {
    setAlert(el.phoneError, t("error.invalid_phone"), code);
    el.phoneNumber.setAttribute("aria-invalid", "true");
    el.phoneNumber.focus({ preventScroll: false });
  } else {
    setAlert(el.phoneError, errorText(err), code);
  }
}

/** Fill phone-number with the account's mobile (GET /api/me), unless the patient typed one. */
async function prefillMobile() {
  let user = null;
  try {
    const body = await apiRequest("GET", "/api/me");
    user = body && body.user;
  } catch {
    return; // no number: the field stays empty
  }
  const mobile = user && typeof user.mobile === "string" ? user.mobile : "";
  view.mobile = mobile;
  if (mobile && !el.phoneNumber.value && el.phoneNumber.dataset.edited !== "true") el.phoneNumber.value = formatPhone(mobile);
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
el.requestPhone.addEventListener("click", () => whileBusy(el.requestPhone, requestPhone));
el.deviceCheck.addEventListener("click", () => runCheck());
el.phoneNumber.addEventListener("input", () => {
  el.phoneNumber.dataset.edited = "true";
  el.phoneNumber.removeAttribute("aria-invalid");
});
el.phoneNumber.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !el.requestPhone.disabled) el.requestPhone.click();
});

const ladderPanel = bindLadderPanel({
  side: "patient",
  send: emitAck,
  onChange: () => render(),
  onError: (err) => {
    showError(err);
    render();
  },
});
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
    check: null,
    checkPromise: null,
    checkPreview: null,
    micLevel: 0,
    micPeak: 0,
    autoChecked: false,
    callMedia: "video",
    phoneHandover: null,
    mobile: "",
  });
  el.phoneNumber.value = "";
  delete el.phoneNumber.dataset.edited;
  el.phoneNumber.removeAttribute("aria-invalid");
  setAlert(el.phoneError, "");
  render();
  enterBooking();
  prefillMobile();
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
      [CALL_DEGRADED]: (payload) => ladderPanel.onDegraded(payload),
    },
  });
}

function leave() {
  cancelPrecallCheck();
  closeSocket();
  closeCall();
  leaveBooking();
  showError(null);
  view.request = null;
  view.ended = null;
  view.requeued = null;
  view.check = null;
  view.checkPreview = null;
  view.phoneHandover = null;
  view.mobile = "";
  el.phoneNumber.value = "";
  render();
}

const app = bootPage({ requiredRole: "patient", wrongRoleKey: "error.wrong_role_patient", enter, leave });
