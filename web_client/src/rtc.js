// WebRTC for one consultation, as small named functions. The physician is the caller (makes the
// offer), the patient the callee. Incoming signals are handled one at a time on a promise chain;
// remote candidates wait until a remote description they belong to is set. Events go out through
// an injected `send(event, payload)` so this module knows nothing of the socket.

import { CALL_CONNECTED, RTC_SIGNAL } from "./events.js";

// Caller: no answer to an offer -> offer again (the other page may be reloading), sooner first.
const ANSWER_TIMEOUTS_MS = [2000, 3000, 5000, 8000, 10000];
const CONNECT_TIMEOUT_MS = 15000; // caller: answered but never connected -> offer again
const DISCONNECTED_GRACE_MS = 3000; // caller: "disconnected" that long -> offer again
const MAX_PENDING = 500;

/** State a browser test can read, with the current RTCPeerConnection: window.__tc = {pc, state}. */
export const tcState = {
  role: null,
  roomId: null,
  phase: "idle", // idle | connecting | connected | reconnecting | closed
  media: "",
  connectionState: "new",
  localMedia: "", // "video" | "audio" | ""
  restarts: 0, // caller: fresh peer connections after the first
  iceRestarts: 0, // caller: ICE restarts on the same peer connection
};
const testHook = { pc: null, state: tcState };
if (typeof window !== "undefined") window.__tc = testHook;

let localStream = null;
let localStreamPromise = null;
let call = null;
let earlySignals = [];

// ---------------------------------------------------------------- local media

function isLive(stream) {
  return Boolean(stream && stream.getTracks().some((track) => track.readyState === "live"));
}

/** Camera and microphone, or the microphone alone when the camera fails. Reused while live. */
export function startLocalMedia() {
  if (isLive(localStream)) return Promise.resolve(localStream);
  if (localStreamPromise) return localStreamPromise;
  localStreamPromise = acquireLocalMedia()
    .then((stream) => {
      localStream = stream;
      tcState.localMedia = stream.getVideoTracks().length > 0 ? "video" : "audio";
      return stream;
    })
    .finally(() => {
      localStreamPromise = null;
    });
  return localStreamPromise;
}

async function acquireLocalMedia() {
  const devices = navigator.mediaDevices;
  if (!devices || !devices.getUserMedia) throw new DOMException("no mediaDevices", "NotSupportedError");
  try {
    return await devices.getUserMedia({ video: true, audio: true });
  } catch (videoError) {
    try {
      return await devices.getUserMedia({ audio: true });
    } catch {
      throw videoError;
    }
  }
}

/** The local stream if it is live, else null (no camera prompt). */
export function currentLocalStream() {
  return isLive(localStream) ? localStream : null;
}

export function stopLocalMedia() {
  if (localStream) {
    for (const track of localStream.getTracks()) track.stop();
  }
  localStream = null;
  tcState.localMedia = "";
}

// ---------------------------------------------------------------- peer connection

/** A new RTCPeerConnection with its three callbacks; end-of-candidates (null) is not reported. */
export function createPeerConnection(iceServers, onRemoteTrack, onIceCandidate, onConnectionState) {
  const pc = new RTCPeerConnection({ iceServers: Array.isArray(iceServers) ? iceServers : [] });
  pc.addEventListener("track", (event) => onRemoteTrack(event.track, event.streams));
  pc.addEventListener("icecandidate", (event) => {
    if (event.candidate && event.candidate.candidate) onIceCandidate(event.candidate.toJSON());
  });
  pc.addEventListener("connectionstatechange", () => onConnectionState(pc.connectionState));
  return pc;
}

function candidatePayload(candidate) {
  const out = { candidate: candidate.candidate };
  if (candidate.sdpMid != null) out.sdpMid = candidate.sdpMid;
  if (candidate.sdpMLineIndex != null) out.sdpMLineIndex = candidate.sdpMLineIndex;
  if (candidate.usernameFragment != null) out.usernameFragment = candidate.usernameFragment;
  return out;
}

function sendSignal(c, payload) {
  c.send(RTC_SIGNAL, { room_id: c.roomId, ...payload }).catch((err) => {
    console.warn("rtc:signal refused", payload.type, err && err.code);
  });
}

/** Close the current RTCPeerConnection of the call (if any) and open a fresh one. */
function openPeer(c) {
  closePeer(c);
  const pc = createPeerConnection(
    c.iceServers,
    (track) => onRemoteTrack(c, pc, track),
    (candidate) => {
      if (c.pc === pc) sendSignal(c, { type: "candidate", candidate: candidatePayload(candidate) });
    },
    (state) => onConnectionState(c, pc, state),
  );
  c.pc = pc;
  c.remoteStream = new MediaStream();
  c.connectedReported = false;
  testHook.pc = pc;
  tcState.connectionState = pc.connectionState;
  return pc;
}

function closePeer(c) {
  clearTimer(c, "watchdog");
  clearTimer(c, "disconnected");
  if (c.pc) {
    try {
      c.pc.close();
    } catch {
      // already closed
    }
  }
  c.pc = null;
}

/** Send our tracks; ask to receive a kind we cannot send, so the other side's media still flows. */
function addLocalTracks(pc, stream) {
  const kinds = new Set();
  if (stream) {
    for (const track of stream.getTracks()) {
      pc.addTrack(track, stream);
      kinds.add(track.kind);
    }
  }
  const receiving = new Set(pc.getTransceivers().map((t) => t.receiver.track && t.receiver.track.kind));
  for (const kind of ["audio", "video"]) {
    if (!kinds.has(kind) && !receiving.has(kind)) pc.addTransceiver(kind, { direction: "recvonly" });
  }
}

/** "video" when the other side sends us a video track, else "audio". */
export function remoteMediaKind(pc) {
  const video = pc
    .getTransceivers()
    .some(
      (t) =>
        t.receiver.track &&
        t.receiver.track.kind === "video" &&
        (t.currentDirection === "sendrecv" || t.currentDirection === "recvonly"),
    );
  return video ? "video" : "audio";
}

function onRemoteTrack(c, pc, track) {
  if (c.pc !== pc) return;
  c.remoteStream.addTrack(track);
  c.hooks.onRemoteStream(c.remoteStream);
}

function onConnectionState(c, pc, state) {
  if (c.pc !== pc || c.ended) return;
  tcState.connectionState = state;
  if (state === "connected") {
    c.unanswered = 0;
    clearTimer(c, "watchdog");
    clearTimer(c, "disconnected");
    reportConnected(c, pc);
  } else if (state === "disconnected") {
    setPhase(c, "reconnecting");
    if (c.role === "caller") {
      setTimer(c, "disconnected", DISCONNECTED_GRACE_MS, () => {
        if (c.pc === pc && pc.connectionState !== "connected") restartAsCaller(c);
      });
    }
  } else if (state === "failed") {
    remoteGone(c);
  }
}

/**
 * The other page closed its peer connection (reload, tab closed): its DTLS close_notify makes our
 * DTLS transport "closed" within milliseconds, long before ICE notices. Start over at once.
 */
function watchTransport(c, pc) {
  const transport = dtlsTransport(pc);
  if (!transport) return;
  transport.addEventListener("statechange", () => {
    if (c.pc !== pc || c.ended || (transport.state !== "closed" && transport.state !== "failed")) return;
    remoteGone(c);
  });
}

function remoteGone(c) {
  if (c.role === "caller") {
    restartAsCaller(c);
  } else {
    closePeer(c); // the caller will send a fresh offer; acceptOffer opens a new peer
    setPhase(c, "reconnecting");
  }
}

function reportConnected(c, pc) {
  const media = remoteMediaKind(pc);
  setPhase(c, "connected", media);
  if (c.connectedReported) return;
  c.connectedReported = true;
  c.send(CALL_CONNECTED, { room_id: c.roomId, media }).catch((err) => {
    console.warn("call:connected refused", err && err.code);
  });
}

function setPhase(c, phase, media = "") {
  tcState.phase = phase;
  tcState.media = phase === "connected" ? media : "";
  c.hooks.onPhase(phase, tcState.media);
}

function setTimer(c, name, ms, fn) {
  clearTimer(c, name);
  c.timers[name] = setTimeout(() => {
    c.timers[name] = null;
    if (!c.ended) fn();
  }, ms);
}

function clearTimer(c, name) {
  if (c.timers[name]) clearTimeout(c.timers[name]);
  c.timers[name] = null;
}

// ---------------------------------------------------------------- caller (physician)

/** Get media, open a fresh peer, add tracks, create and send the offer. */
async function makeOffer(c) {
  const stream = await c.media;
  if (c.ended) return;
  const pc = openPeer(c);
  addLocalTracks(pc, stream);
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  if (c.pc !== pc || c.ended) return;
  watchTransport(c, pc);
  sendSignal(c, { type: "offer", sdp: pc.localDescription.sdp });
  watchForAnswer(c, pc);
}

/** No answer to our offer in time: start over with a fresh peer and offer (sooner first). */
function watchForAnswer(c, pc) {
  const timeout = ANSWER_TIMEOUTS_MS[Math.min(c.unanswered, ANSWER_TIMEOUTS_MS.length - 1)];
  setTimer(c, "watchdog", timeout, () => {
    if (c.pc !== pc || pc.signalingState !== "have-local-offer") return;
    c.unanswered += 1;
    restartAsCaller(c);
  });
}

/** The DTLS transport of the peer connection (shared by every m-line: max-bundle), or null. */
function dtlsTransport(pc) {
  const sender = pc.getSenders().find((s) => s.transport);
  return (sender && sender.transport) || null;
}

/**
 * An ICE restart keeps the peer connection, its tracks and its DTLS session: possible only once an
 * answer was applied (stable, with a remote description) and while DTLS is still up. A peer that
 * never connected, was closed by the other side or failed starts over instead.
 */
function canRestartIce(pc) {
  if (!pc || pc.signalingState !== "stable" || !pc.remoteDescription) return false;
  if (pc.connectionState === "closed" || pc.connectionState === "failed") return false;
  const transport = dtlsTransport(pc);
  return Boolean(transport) && transport.state === "connected";
}

/** Offer again now: an ICE restart on the current peer connection, else a fresh peer and offer. */
async function renegotiateAsCaller(c) {
  if (c.ended) return;
  const pc = c.pc;
  if (pc && pc.connectionState === "connected") return; // came back by itself meanwhile
  const wasUp = tcState.phase === "connected" || tcState.phase === "reconnecting";
  if (!canRestartIce(pc)) {
    closePeer(c);
    tcState.restarts += 1;
    setPhase(c, wasUp ? "reconnecting" : "connecting");
    await makeOffer(c);
    return;
  }
  clearTimer(c, "disconnected");
  tcState.iceRestarts += 1;
  if (wasUp) setPhase(c, "reconnecting");
  const offer = await pc.createOffer({ iceRestart: true });
  await pc.setLocalDescription(offer);
  if (c.pc !== pc || c.ended) return;
  sendSignal(c, { type: "offer", sdp: pc.localDescription.sdp });
  watchForAnswer(c, pc);
}

/** The callee reloaded or the network broke: start over with a new peer and a new offer. */
function restartAsCaller(c) {
  if (c.ended) return;
  closePeer(c); // at once, so the old peer's late events cannot trigger a second restart
  tcState.restarts += 1;
  const wasUp = tcState.phase === "connected" || tcState.phase === "reconnecting";
  setPhase(c, wasUp ? "reconnecting" : "connecting");
  enqueue(c, () => makeOffer(c));
}

async function applyAnswer(c, sdp) {
  const pc = c.pc;
  if (!pc || pc.signalingState !== "have-local-offer") return; // stale answer to an older offer
  if (pc.remoteDescription && !sameFingerprints(pc.remoteDescription.sdp, sdp)) {
    // Our ICE restart was answered by a new peer connection (the other page reloaded): its DTLS
    // session is not ours, so start over with a fresh peer and offer.
    restartAsCaller(c);
    return;
  }
  await pc.setRemoteDescription({ type: "answer", sdp });
  c.unanswered = 0;
  await flushCandidates(c);
  setTimer(c, "watchdog", CONNECT_TIMEOUT_MS, () => {
    if (c.pc === pc && pc.connectionState !== "connected") restartAsCaller(c);
  });
}

// ---------------------------------------------------------------- callee (patient)

/** The DTLS certificate fingerprints an SDP announces (one per peer connection of the sender). */
export function sdpFingerprints(sdp) {
  return new Set([...String(sdp || "").matchAll(/^a=fingerprint:(.+?)\s*$/gm)].map((m) => m[1].toLowerCase()));
}

/** Both SDPs come from the same peer connection (same DTLS certificates). */
function sameFingerprints(sdpA, sdpB) {
  const a = sdpFingerprints(sdpA);
  const b = sdpFingerprints(sdpB);
  return a.size > 0 && a.size === b.size && [...b].every((f) => a.has(f));
}

/** The offer comes from the caller's current peer connection (ICE restart), not a fresh one. */
function sameCallerPeer(pc, sdp) {
  if (!pc || !pc.remoteDescription || pc.signalingState !== "stable") return false;
  if (pc.connectionState === "closed" || pc.connectionState === "failed") return false;
  return sameFingerprints(pc.remoteDescription.sdp, sdp);
}

/**
 * Answer an offer. Only the latest offer is answered (the caller may have offered again while we
 * were getting camera access). An offer from the caller's current peer connection (same DTLS
 * certificate: an ICE restart) is answered on our current peer, which keeps its tracks; any other
 * offer gets a fresh peer when the current one already has a remote description (the caller
 * started over).
 */
async function acceptOffer(c, msg) {
  if (c.latestOffer !== msg) return;
  let pc = c.pc;
  const renegotiation = sameCallerPeer(pc, msg.sdp);
  if (!renegotiation && (!pc || pc.remoteDescription || pc.signalingState !== "stable")) pc = openPeer(c);
  await pc.setRemoteDescription({ type: "offer", sdp: msg.sdp });
  await flushCandidates(c);
  if (!renegotiation) {
    const stream = await c.media;
    if (c.pc !== pc || c.ended || c.latestOffer !== msg) return;
    addLocalTracks(pc, stream);
  }
  const answer = await pc.createAnswer();
  await pc.setLocalDescription(answer);
  if (c.pc !== pc || c.ended || c.latestOffer !== msg) return;
  if (!renegotiation) watchTransport(c, pc);
  sendSignal(c, { type: "answer", sdp: pc.localDescription.sdp });
}

// ---------------------------------------------------------------- candidates

function remoteUfrags(pc) {
  const sdp = (pc.remoteDescription && pc.remoteDescription.sdp) || "";
  return new Set([...sdp.matchAll(/^a=ice-ufrag:(\S+)/gm)].map((m) => m[1]));
}

/** A candidate fits the current remote description (or cannot tell: no usernameFragment). */
function candidateFits(pc, candidate) {
  if (!pc || !pc.remoteDescription) return false;
  return !candidate.usernameFragment || remoteUfrags(pc).has(candidate.usernameFragment);
}

async function addRemoteCandidate(c, candidate) {
  if (!candidateFits(c.pc, candidate)) {
    // Too early (no remote description yet) or meant for the next offer: keep it for later.
    c.pendingCandidates.push(candidate);
    if (c.pendingCandidates.length > MAX_PENDING) c.pendingCandidates.shift();
    return;
  }
  try {
    await c.pc.addIceCandidate(candidate);
  } catch (err) {
    console.warn("remote candidate ignored", err && err.name);
  }
}

async function flushCandidates(c) {
  const waiting = c.pendingCandidates;
  c.pendingCandidates = [];
  for (const candidate of waiting) await addRemoteCandidate(c, candidate);
}

// ---------------------------------------------------------------- signal dispatch

function enqueueSignal(c, msg) {
  if (msg.type === "offer") c.latestOffer = msg;
  enqueue(c, () => dispatchSignal(c, msg));
}

function enqueue(c, task) {
  c.chain = c.chain.then(task).catch((err) => {
    console.warn("webrtc step failed", err && err.name, err && err.message);
  });
  return c.chain;
}

function dispatchSignal(c, msg) {
  if (msg.type === "offer" && c.role === "callee") return acceptOffer(c, msg);
  if (msg.type === "answer" && c.role === "caller") return applyAnswer(c, msg.sdp);
  if (msg.type === "candidate" && msg.candidate && typeof msg.candidate === "object") {
    return addRemoteCandidate(c, msg.candidate);
  }
  return undefined;
}

/** Handle one `rtc:signal` from the server; signals for a room we do not know yet are kept. */
export function handleSignal(msg) {
  if (!msg || typeof msg !== "object") return;
  if (!call || call.ended || call.roomId !== msg.room_id) {
    earlySignals.push(msg);
    if (earlySignals.length > MAX_PENDING) earlySignals.shift();
    return;
  }
  enqueueSignal(call, msg);
}

// ---------------------------------------------------------------- call lifecycle

/**
 * Start (or keep) the call of `call:start`. A call for the same room and role that is still going
 * is kept (resume after a socket reconnect: its peer connection lives on, or is being rebuilt);
 * otherwise a fresh one starts: the caller offers, the callee waits for the offer.
 * `reoffer: true` makes a kept caller offer again at once (the other side came back without its
 * peer connection). `hooks`: onRemoteStream(stream), onPhase(phase, media).
 * Returns "kept" or "started".
 */
export function startCall({ roomId, role, iceServers, send, hooks, reoffer = false }) {
  if (call && !call.ended && call.roomId === roomId && call.role === role) {
    call.hooks = hooks;
    call.send = send;
    if (reoffer && role === "caller") restartAsCaller(call);
    else renegotiate(roomId); // our socket came back: offers sent meanwhile may be lost
    return "kept";
  }
  const early = earlySignals.filter((msg) => msg.room_id === roomId);
  endCall({ keepMedia: true });
  const c = {
    roomId,
    role,
    iceServers,
    send,
    hooks,
    pc: null,
    remoteStream: null,
    pendingCandidates: [],
    chain: Promise.resolve(),
    connectedReported: false,
    ended: false,
    timers: {},
    unanswered: 0, // caller: offers in a row that got no answer
    latestOffer: null, // callee: the newest offer received; older ones are not answered
    media: startLocalMedia().catch(() => null), // no media at all still lets us receive
  };
  call = c;
  Object.assign(tcState, {
    role,
    roomId,
    phase: "connecting",
    media: "",
    connectionState: "new",
    restarts: 0,
    iceRestarts: 0,
  });
  c.hooks.onPhase("connecting", "");
  if (role === "caller") enqueue(c, () => makeOffer(c));
  for (const msg of early) enqueueSignal(c, msg);
  return "started";
}

/**
 * The other member is back (`call:peer` state "back"), or our own socket is: the caller whose
 * peer connection is not "connected" offers again at once (ICE restart, or a fresh peer when the
 * current one cannot be restarted) instead of waiting for its retry timers. Returns true when a
 * new offer is under way; the callee does nothing (it answers the caller's offer).
 */
export function renegotiate(roomId) {
  const c = call;
  if (!c || c.ended || c.role !== "caller" || (roomId && c.roomId !== roomId)) return false;
  if (c.pc && c.pc.connectionState === "connected") return false;
  clearTimer(c, "watchdog");
  clearTimer(c, "disconnected");
  c.unanswered = 0;
  enqueue(c, () => renegotiateAsCaller(c));
  return true;
}

/** True while a call is going and its peer connection reports "connected". */
export function isCallConnected() {
  return Boolean(call && !call.ended && call.pc && call.pc.connectionState === "connected");
}

/** The room of the current call, or null. */
export function currentRoomId() {
  return call && !call.ended ? call.roomId : null;
}

/** Close the peer connection and, unless told otherwise, stop the camera and microphone. */
export function endCall({ keepMedia = false } = {}) {
  if (call) {
    call.ended = true;
    closePeer(call);
    call = null;
  }
  earlySignals = [];
  testHook.pc = null;
  Object.assign(tcState, { roomId: null, phase: "closed", media: "", connectionState: "closed" });
  if (!keepMedia) stopLocalMedia();
}
