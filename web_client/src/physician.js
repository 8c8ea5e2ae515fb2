// Physician dispatch board (/physician): go available, take or decline an offered request, run the
// call (the physician is the WebRTC caller), step down to audio or phone when the connection is
// bad, end it, wrap up; phone callbacks (a tel: link and the call's outcome, no WebRTC); queue
// figures and SLA alerts.

import { currentAccessToken, errorText, refreshSession } from "./auth.js";
import { deadlineFrom, monotonicNow, noteServerTime, secondsLeft } from "./clock.js";
import {
  CALL_DEGRADED,
  CALL_ENDED,
  CALL_HANGUP,
  CALL_PEER,
  CALL_START,
  CHANNEL_PHONE,
  ENDED_PHONE_CALLBACK,
  GP_AVAILABLE,
  GP_STATE,
  GP_UNAVAILABLE,
  OFFER_ACCEPT,
  OFFER_DECLINE,
  PHONE_END,
  PHONE_OUTCOME,
  QUEUE_STATS,
  RTC_SIGNAL,
  SLA_ALERT,
} from "./events.js";
import { formatClockTime, formatCountdown, formatDuration, onLangChange, t } from "./i18n.js";
import { bindLadderPanel } from "./ladder.js";
import { formatPhone, telHref } from "./phone.js";
import {
  currentLocalStream,
  currentRoomId,
  endCall,
  handleSignal,
  noteLadderPhone,
  renegotiate,
  startCall,
  startLocalMedia,
} from "./rtc.js";
import { bootPage } from "./session.js";
import { closeSocket, emitAck, openSocket } from "./signaling.js";
import { attachStream, byTestId, setAlert, setCallState, setConnectionBanner, setText, show, whileBusy } from "./ui.js";

const OWN_RECONNECT_WINDOW_MS = 2000;
const TICK_MS = 250; // countdowns and waits on screen
const MAX_ALERTS = 50;
/** gp:state statuses this page knows (docs/PROTOCOL.md); each has gp.status.<status>. */
const STATUSES = new Set(["unavailable", "available", "offered", "paused", "in_call", "wrap_up"]);
/** call:ended reasons with their own message (gp.ended.<reason>). */
const ENDED_REASONS = new Set(["hangup_patient", "hangup_physician", "patient_lost", "physician_lost", "away"]);
const MAX_PHONE_ATTEMPTS = 3;

const el = {
  gpStatus: byTestId("gp-status"),
  goAvailable: byTestId("go-available"),
  goUnavailable: byTestId("go-unavailable"),
  queueSize: byTestId("queue-size"),
  queueAtRisk: byTestId("queue-at-risk"),
  pausedHint: byTestId("paused-hint"),
  missedOffers: byTestId("missed-offers"),
  slaAlert: byTestId("sla-alert"),
  slaAlertText: byTestId("sla-alert-text"),
  slaAlertDetail: byTestId("sla-alert-detail"),
  slaAlertDismiss: byTestId("sla-alert-dismiss"),
  offerCard: byTestId("offer-card"),
  offerTitle: document.querySelector("[data-role='offer-title']"),
  offerText: byTestId("offer-text"),
  offerCountdown: byTestId("offer-countdown"),
  wrapUpCountdown: byTestId("wrap-up-countdown"),
  peerStatus: byTestId("peer-status"),
  peerText: document.querySelector("[data-role='peer-text']"),
  peerGrace: byTestId("peer-grace"),
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
  remoteAudioNote: document.querySelector("[data-role='remote-audio-note']"),
  phoneTask: byTestId("phone-task"),
  phoneTaskText: document.querySelector("[data-role='phone-task-text']"),
  phoneCallLink: byTestId("phone-call-link"),
  phoneAttempts: byTestId("phone-attempts"),
  phoneOutcomes: document.querySelector("[data-role='phone-outcomes']"),
  phoneReached: byTestId("phone-reached"),
  phoneNoAnswer: byTestId("phone-no-answer"),
  phoneWrongNumber: byTestId("phone-wrong-number"),
  phoneEnd: byTestId("phone-end"),
  phoneNotice: document.querySelector("[data-role='phone-notice']"),
};

/** What the page knows; render() derives everything visible from it. */
const view = {
  status: null, // unavailable | available | offered | paused | in_call | wrap_up (gp:state)
  offer: null, // {request_id, patient_first_name, waited_seconds, expires_at, expires_in_seconds}
  offerAt: 0, // monotonic time the offer arrived (the wait keeps counting on screen)
  offerDeadline: null, // monotonic time the offer expires (from expires_in_seconds at reception)
  wrapUpDeadline: null, // monotonic time the wrap-up ends (from wrap_up_until)
  missedOffers: 0,
  stats: null, // {size, oldest_wait_seconds, at_risk}
  statsAt: 0, // monotonic
  alerts: [], // sla:alert payloads not dismissed yet, oldest first
  peerLeft: null, // {roomId, deadline} while the patient's connection is away (call:peer)
  accepting: false, // accept clicked, call:start not yet here
  roomId: null, // room of the current call (from call:start)
  gpRoomId: null, // room named by gp:state (known before call:start arrives)
  peerName: "",
  phase: null,
  media: "",
  ended: null, // {reason, roomId} after a call, until the next offer, call or go-available
  online: true, // for the banner
  socketUp: false,
  connectedAt: 0, // monotonic time our socket last connected
  phoneTask: null, // gp:state phone_task: {request_id, phone_number, attempts, max_attempts, reached}
  reachedIds: new Set(), // phone tasks recorded as reached from this page
  phoneHandover: false, // call:ended phone_callback received, the phone task not yet pushed
  phoneNotice: "", // key of the last recorded phone outcome's message
  lastOffer: null, // the last offer (its patient's name for the phone task)
};

/** The phone task under way, or null. */
function currentPhoneTask() {
  return view.status === "in_call" && view.phoneTask && !view.roomId ? view.phoneTask : null;
}

function phoneReached(task) {
  return Boolean(task && (task.reached === true || view.reachedIds.has(task.request_id)));
}

/** The data-state of call-state: idle, offered, connecting, connected, phone or ended (wrap-up too). */
export function physicianCallState() {
  if (view.roomId && view.phase) return view.phase === "connected" ? "connected" : "connecting";
  if (currentPhoneTask() || (view.phoneHandover && view.status === "in_call")) return "phone";
  // call:ended comes before the gp:state that leaves in_call: ended wins over a stale in_call.
  if (view.status === "wrap_up" || (view.ended && !view.accepting)) return "ended";
  if (view.accepting || view.status === "in_call") return "connecting";
  if (view.status === "offered" && view.offer) return "offered";
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
    case "phone": {
      const task = currentPhoneTask();
      const name = (task && task.patient_first_name) || view.peerName || t("gp.peer_default");
      return t(phoneReached(task) ? "gp.state.phone_reached" : "gp.state.phone", { peer: name });
    }
    case "ended": {
      const reason = view.ended && view.ended.reason;
      return ENDED_REASONS.has(reason) ? t(`gp.ended.${reason}`) : t("gp.state.ended");
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

/** The count of requests at risk is the first number of the text (browser tests read it). */
export function atRiskText(count) {
  if (count === 0) return t("gp.at_risk_zero");
  return count === 1 ? t("gp.at_risk_one") : t("gp.at_risk_many", { n: count });
}

/** Readable status for gp-status (data-status holds the status itself). */
export function statusText(status) {
  return STATUSES.has(status) ? t(`gp.status.${status}`) : t("gp.status.unavailable");
}

function elapsedSince(at) {
  return at ? (monotonicNow() - at) / 1000 : 0;
}

function render() {
  const state = physicianCallState();
  setCallState(el.callState, state, view.media, callStateText(state));

  const status = view.status || "unavailable";
  setText(el.gpStatus, statusText(status));
  el.gpStatus.dataset.status = view.status || "";

  // Buttons per status: unavailable and paused -> go-available; available -> go-unavailable;
  // offered -> accept / decline; in_call -> end-call; wrap_up -> go-available and go-unavailable.
  const inCall = status === "in_call" || Boolean(view.roomId) || view.accepting;
  const known = view.status !== null;
  show(el.goAvailable, known && !inCall && (status === "unavailable" || status === "paused" || status === "wrap_up"));
  show(el.goUnavailable, known && !inCall && (status === "available" || status === "wrap_up"));
  const availableKey = { paused: "gp.confirm_available", wrap_up: "gp.ready" }[status] || "gp.go_available";
  setText(el.goAvailable, t(availableKey));
  el.goAvailable.dataset.status = status;

  show(el.pausedHint, status === "paused");
  const missed = (status === "available" || status === "offered") && view.missedOffers > 0;
  setText(el.missedOffers, missed ? t("gp.missed_offers", { n: view.missedOffers }) : "");
  show(el.missedOffers, missed);

  const wrapUp = status === "wrap_up" && view.wrapUpDeadline !== null && !view.roomId;
  if (wrapUp) {
    const left = secondsLeft(view.wrapUpDeadline);
    const text = left > 0 ? t("gp.wrap_up.countdown", { time: formatCountdown(left) }) : t("gp.wrap_up.over");
    setText(el.wrapUpCountdown, text);
    el.wrapUpCountdown.dataset.seconds = String(left);
  }
  show(el.wrapUpCountdown, wrapUp);
  show(el.endedHint, state === "ended" && status === "unavailable");

  const stats = view.stats;
  if (stats) {
    const oldest = stats.size ? (Number(stats.oldest_wait_seconds) || 0) + elapsedSince(view.statsAt) : 0;
    setText(el.queueSize, queueSizeText(Number(stats.size) || 0, oldest));
  }
  show(el.queueSize, Boolean(stats));
  const atRisk = stats && Number.isInteger(stats.at_risk) && stats.at_risk >= 0 ? stats.at_risk : null;
  if (atRisk !== null) {
    setText(el.queueAtRisk, atRiskText(atRisk));
    el.queueAtRisk.dataset.atRisk = String(atRisk);
    el.queueAtRisk.classList.toggle("at-risk", atRisk > 0);
  }
  show(el.queueAtRisk, atRisk !== null);

  renderAlerts();

  const offer = view.status === "offered" && !view.accepting ? view.offer : null;
  show(el.offerCard, Boolean(offer));
  if (offer) {
    const wait = formatDuration((Number(offer.waited_seconds) || 0) + elapsedSince(view.offerAt));
    const phone = offer.channel === CHANNEL_PHONE;
    el.offerCard.dataset.channel = phone ? "phone" : "video";
    setText(el.offerTitle, t(phone ? "gp.offer.title_phone" : "gp.offer.title"));
    setText(el.offerText, t(phone ? "gp.offer.text_phone" : "gp.offer.text", { name: offer.patient_first_name || "", wait }));
    const left = secondsLeft(view.offerDeadline);
    if (left !== null) {
      setText(el.offerCountdown, t("gp.offer.countdown", { n: left }));
      el.offerCountdown.dataset.seconds = String(left);
      el.offerCountdown.classList.toggle("urgent", left <= 10);
    }
    show(el.offerCountdown, left !== null);
  }

  // The patient's connection is away: said once (status), the seconds count silently beside it.
  const peerLeft = Boolean(view.peerLeft && view.roomId && view.peerLeft.roomId === view.roomId);
  const grace = peerLeft ? secondsLeft(view.peerLeft.deadline) : null;
  setText(el.peerText, peerLeft ? t("gp.peer_left_wait") : "");
  setText(el.peerGrace, grace === null ? "" : t("gp.peer_grace", { n: grace }));
  el.peerGrace.dataset.seconds = grace === null ? "" : String(grace);
  el.peerStatus.dataset.peer = peerLeft ? "left" : "";
  show(el.peerStatus, peerLeft);

  show(el.endCall, state === "connecting" || state === "connected");
  ladderPanel.render(state === "connecting" || state === "connected");
  renderPhoneTask();

  const local = currentLocalStream();
  attachStream(el.localVideo, local);
  const audioCall = Boolean(view.roomId) && view.media === "audio";
  show(el.audioOnly, Boolean(local) && local.getVideoTracks().length === 0);
  setText(el.audioOnly, t(audioCall ? "media.audio_mode" : "media.audio_only"));
  if (!view.roomId) attachStream(el.remoteVideo, null, el.unmute);
  show(el.videos, Boolean(local) || Boolean(view.roomId));
  show(el.remoteTile, Boolean(view.roomId));
  el.videos.classList.toggle("in-call", Boolean(view.roomId));
  el.videos.classList.toggle("audio-call", audioCall);
  show(el.remoteAudioNote, audioCall);
  setConnectionBanner(el.banner, view.online);
}

/** The phone task: the number as a tel: link, the tries so far, the outcome buttons, then the end. */
function renderPhoneTask() {
  const task = currentPhoneTask();
  show(el.phoneTask, Boolean(task));
  setText(el.phoneNotice, view.phoneNotice && !task ? t(view.phoneNotice) : "");
  show(el.phoneNotice, Boolean(view.phoneNotice) && !task);
  if (!task) {
    el.phoneTask.dataset.requestId = "";
    return;
  }
  const reached = phoneReached(task);
  const number = formatPhone(task.phone_number);
  el.phoneTask.dataset.requestId = task.request_id || "";
  el.phoneTask.dataset.reached = String(reached);
  const name = task.patient_first_name || (view.lastOffer && view.lastOffer.request_id === task.request_id ? view.lastOffer.patient_first_name : "") || "";
  setText(el.phoneTaskText, t(reached ? "gp.phone.text_reached" : "gp.phone.text", { name: name || t("gp.peer_default") }));
  el.phoneCallLink.href = telHref(task.phone_number);
  setText(el.phoneCallLink, number ? t("gp.phone.call", { number }) : t("gp.phone.no_number"));
  el.phoneCallLink.dataset.number = task.phone_number || "";
  const attempts = Number.isInteger(task.attempts) ? task.attempts : 0;
  const max = Number.isInteger(task.max_attempts) ? task.max_attempts : MAX_PHONE_ATTEMPTS;
  setText(el.phoneAttempts, attempts > 0 ? t("gp.phone.attempts", { n: attempts, max }) : t("gp.phone.first_attempt", { max }));
  el.phoneAttempts.dataset.attempts = String(attempts);
  el.phoneAttempts.dataset.max = String(max);
  show(el.phoneAttempts, !reached);
  show(el.phoneOutcomes, !reached);
  show(el.phoneEnd, reached);
}

function renderAlerts() {
  const alerts = view.alerts;
  const latest = alerts[alerts.length - 1];
  if (latest) {
    setText(el.slaAlertText, alerts.length === 1 ? t("gp.sla.one") : t("gp.sla.many", { n: alerts.length }));
    const size = Number.isInteger(latest.queue_size) ? latest.queue_size : "?";
    const deadline = formatClockTime(latest.deadline);
    const detail = latest.predicted_start
      ? t("gp.sla.detail", { start: formatClockTime(latest.predicted_start), deadline, size })
      : t("gp.sla.detail_no_start", { deadline, size });
    setText(el.slaAlertDetail, detail);
    el.slaAlert.dataset.count = String(alerts.length);
    el.slaAlert.dataset.requestId = latest.request_id || "";
  }
  show(el.slaAlert, Boolean(latest));
}

function dropAlert(requestId) {
  if (!requestId) return;
  view.alerts = view.alerts.filter((alert) => alert.request_id !== requestId);
}

function showError(err) {
  setAlert(el.error, err ? errorText(err) : "", err && err.code);
}

// ---------------------------------------------------------------- server events

/**
 * The offer's expiry as a countdown: its relative `expires_in_seconds` taken at reception, on the
 * monotonic clock (the local wall clock may disagree with the server's `expires_at`). The pair
 * also tells the server's clock, used for wrap_up_until.
 */
function noteOffer(offer) {
  const expiresAt = Date.parse(offer.expires_at || "");
  const expiresIn = offer.expires_in_seconds;
  if (Number.isFinite(expiresAt) && typeof expiresIn === "number" && Number.isFinite(expiresIn)) {
    noteServerTime(expiresAt - expiresIn * 1000, 250);
  }
  view.offerDeadline = deadlineFrom(expiresIn, offer.expires_at);
}

function onGpState(payload) {
  if (!payload) return;
  const status = payload.status || "unavailable";
  const offer = payload.offer || null;
  if (status === "offered" && offer) {
    const sameOffer = view.offer && view.offer.request_id === offer.request_id;
    if (!sameOffer) view.offerAt = monotonicNow();
    noteOffer(offer);
  } else {
    view.offerDeadline = null;
  }
  // A new offer or availability (wrap-up over) closes the last call's outcome; a new call too.
  if (status === "offered" || status === "available") view.ended = null;
  if (status === "offered" && offer) view.lastOffer = offer;
  if (status === "offered" || status === "in_call") view.phoneNotice = "";
  view.phoneHandover = false;
  const task = status === "in_call" && payload.phone_task && typeof payload.phone_task === "object" ? payload.phone_task : null;
  if (task && (view.roomId || currentRoomId())) {
    // The call moved to the phone while our socket was away (call:ended missed): close it.
    noteLadderPhone();
    closeCall();
  }
  if (task) view.ended = null;
  view.phoneTask = task;
  if (status === "in_call" && view.ended && view.ended.roomId !== payload.room_id) view.ended = null;
  view.status = status;
  view.offer = offer;
  view.gpRoomId = payload.room_id || null;
  view.missedOffers = Number.isInteger(payload.missed_offers) ? payload.missed_offers : 0;
  view.wrapUpDeadline =
    status === "wrap_up" ? deadlineFrom(payload.wrap_up_in_seconds, payload.wrap_up_until) : null;
  if (status !== "in_call") {
    view.accepting = false;
    // The call ended while the socket was away (this push comes on connect): show it ended here.
    if (currentRoomId()) {
      if (!view.ended) {
        const justConnected = monotonicNow() - view.connectedAt < 5000;
        view.ended = { reason: justConnected ? "away" : "", roomId: currentRoomId() };
      }
      closeCall();
    }
  }
  render();
}

function onQueueStats(payload) {
  if (!payload) return;
  view.stats = payload;
  view.statsAt = monotonicNow();
  render();
}

/**
 * sla:alert: queued requests predicted to start after their 30-minute deadline, batched once per
 * server tick ({alerts: [{request_id, deadline, predicted_start}], count, queue_size}).
 */
function onSlaAlert(payload) {
  if (!payload || typeof payload !== "object" || !Array.isArray(payload.alerts)) return;
  for (const alert of payload.alerts) {
    if (!alert || typeof alert !== "object") continue;
    dropAlert(alert.request_id);
    view.alerts.push({ ...alert, queue_size: payload.queue_size });
    if (view.alerts.length > MAX_ALERTS) view.alerts.shift();
  }
  render();
}

/**
 * call:peer: the patient's connection dropped ("left", with the grace period before the call
 * ends) or came back ("back"); on "back" the caller renegotiates at once if its peer connection
 * is not connected (ICE restart) instead of waiting for its retry timers.
 */
function onCallPeer(payload) {
  if (!payload || !payload.room_id) return;
  const roomId = view.roomId || view.gpRoomId;
  if (roomId && payload.room_id !== roomId) return;
  if (payload.state === "left") {
    view.peerLeft = { roomId: payload.room_id, deadline: deadlineFrom(payload.grace_seconds, null) };
  } else if (payload.state === "back") {
    view.peerLeft = null;
    renegotiate(payload.room_id);
  }
  render();
}

function onCallStart(payload) {
  if (!payload || !payload.room_id) return;
  // Our own socket has just (re)connected: keep a live peer connection. Connected for a while
  // already: the patient came back without theirs (reloaded), so offer again at once.
  const peerCameBack =
    Boolean(payload.resume) && view.socketUp && monotonicNow() - view.connectedAt > OWN_RECONNECT_WINDOW_MS;
  if (view.peerLeft && view.peerLeft.roomId !== payload.room_id) view.peerLeft = null;
  dropAlert(payload.request_id);
  view.accepting = false;
  view.roomId = payload.room_id;
  view.peerName = payload.peer_name || "";
  view.ended = null;
  view.phoneHandover = false;
  startCall({
    roomId: payload.room_id,
    role: payload.role || "caller",
    iceServers: payload.ice_servers || [],
    iceTransportPolicy: payload.ice_transport_policy || "all",
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
  onLadder() {
    render();
  },
};

function onCallEnded(payload) {
  const roomId = payload && payload.room_id;
  if (roomId && view.roomId && roomId !== view.roomId) return;
  if (payload && payload.reason === ENDED_PHONE_CALLBACK) {
    // The consultation goes on by phone: gp:state in_call with the phone task follows.
    view.phoneHandover = true;
    view.accepting = false;
    noteLadderPhone();
    closeCall();
    render();
    return;
  }
  view.ended = { reason: (payload && payload.reason) || "", roomId: roomId || view.roomId };
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
  view.peerLeft = null;
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
  view.lastOffer = offer;
  // Camera and microphone before the WebRTC offer; asked for in parallel with the accept. A phone
  // callback needs neither (the physician calls from a telephone).
  const media =
    offer.channel === CHANNEL_PHONE
      ? Promise.resolve()
      : startLocalMedia()
          .then(render)
          .catch(() => setAlert(el.error, t("error.media"), "media"));
  view.accepting = true;
  render();
  try {
    await emitAck(OFFER_ACCEPT, { request_id: offer.request_id });
    dropAlert(offer.request_id);
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

/** phone:outcome for the phone task: reached, no_answer or wrong_number. */
async function recordOutcome(outcome, button) {
  showError(null);
  const task = currentPhoneTask();
  if (!task) return;
  try {
    await emitAck(PHONE_OUTCOME, { request_id: task.request_id, outcome });
    if (outcome === "reached") view.reachedIds.add(task.request_id);
    else view.phoneNotice = outcome === "no_answer" ? "gp.phone.recorded_no_answer" : "gp.phone.recorded_wrong_number";
  } catch (err) {
    showError(err);
  }
  render();
  if (outcome === "reached" && !el.phoneEnd.hidden) el.phoneEnd.focus({ preventScroll: true });
  else if (button && !button.hidden) button.focus({ preventScroll: true });
}

async function endPhoneTask() {
  showError(null);
  const task = currentPhoneTask();
  if (!task) return;
  try {
    await emitAck(PHONE_END, { request_id: task.request_id });
    view.reachedIds.delete(task.request_id);
  } catch (err) {
    showError(err);
  }
  render();
}

el.goAvailable.addEventListener("click", () => whileBusy(el.goAvailable, goAvailable));
el.phoneReached.addEventListener("click", () => whileBusy(el.phoneReached, () => recordOutcome("reached")));
el.phoneNoAnswer.addEventListener("click", () => whileBusy(el.phoneNoAnswer, () => recordOutcome("no_answer")));
el.phoneWrongNumber.addEventListener("click", () =>
  whileBusy(el.phoneWrongNumber, () => recordOutcome("wrong_number")),
);
el.phoneEnd.addEventListener("click", () => whileBusy(el.phoneEnd, endPhoneTask));

const ladderPanel = bindLadderPanel({
  side: "gp",
  send: emitAck,
  onChange: () => render(),
  onError: (err) => {
    showError(err);
    render();
  },
});
el.goUnavailable.addEventListener("click", () => whileBusy(el.goUnavailable, goUnavailable));
el.offerAccept.addEventListener("click", () => whileBusy(el.offerAccept, acceptOffer));
el.offerDecline.addEventListener("click", () => whileBusy(el.offerDecline, declineOffer));
el.endCall.addEventListener("click", () => whileBusy(el.endCall, endCurrentCall));
el.slaAlertDismiss.addEventListener("click", () => {
  view.alerts = [];
  render();
  el.gpStatus.focus({ preventScroll: true }); // keep keyboard focus on the board
});
onLangChange(render);

// Waits and countdowns keep counting between pushes.
setInterval(() => {
  if (view.status === "offered" || view.status === "wrap_up" || view.peerLeft || (view.stats && view.stats.size)) {
    render();
  }
}, TICK_MS);

// ---------------------------------------------------------------- session

function enter() {
  Object.assign(view, {
    status: null,
    offer: null,
    offerDeadline: null,
    wrapUpDeadline: null,
    missedOffers: 0,
    stats: null,
    alerts: [],
    peerLeft: null,
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
    phoneTask: null,
    reachedIds: new Set(),
    phoneHandover: false,
    phoneNotice: "",
    lastOffer: null,
  });
  render();
  openSocket({
    getToken: currentAccessToken,
    refreshToken: refreshSession,
    onSessionLost: () => app.signOut(t("error.session_lost"), "session_lost"),
    onStatus: (status) => {
      const online = status === "online";
      if (online && !view.socketUp) view.connectedAt = monotonicNow();
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
      [CALL_PEER]: onCallPeer,
      [CALL_DEGRADED]: (payload) => ladderPanel.onDegraded(payload),
      [SLA_ALERT]: onSlaAlert,
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
  view.alerts = [];
  view.peerLeft = null;
  view.phoneTask = null;
  view.phoneHandover = false;
  view.phoneNotice = "";
  render();
}

const app = bootPage({ requiredRole: "physician", wrongRoleKey: "error.wrong_role_physician", enter, leave });
