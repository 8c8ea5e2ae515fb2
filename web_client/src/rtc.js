// WebRTC for one consultation, as small named functions. The physician is the caller (makes the
// offer), the patient the callee. Incoming signals are handled one at a time on a promise chain;
// remote candidates wait until a remote description they belong to is set. Events go out through
// an injected `send(event, payload)` so this module knows nothing of the socket.
//
// During a call a monitor reads getStats() every second and walks the degradation ladder of
// docs/PROTOCOL.md: video -> audio only -> phone callback. It only proposes (hooks.onLadder); the
// page asks the person, then calls degradeToAudio() and sends call:degrade.

import { CALL_CONNECTED, DEGRADE_ICE_FAILED, DEGRADE_QUALITY, RTC_SIGNAL } from "./events.js";

// Caller: no answer to an offer -> offer again (the other page may be reloading), sooner first.
const ANSWER_TIMEOUTS_MS = [2000, 3000, 5000, 8000, 10000];
const CONNECT_TIMEOUT_MS = 15000; // caller: answered but never connected -> offer again
const DISCONNECTED_GRACE_MS = 3000; // caller: "disconnected" that long -> offer again
const MAX_PENDING = 500;

// Degradation ladder (docs/PROTOCOL.md, "Degradation ladder during a call").
const LADDER_TICK_MS = 1000;
const MEDIA_DOWN_MS = 15000; // no inbound bytes, or not connected, that long -> propose a step down
const POOR_QUALITY_MS = 10000; // loss or RTT over the limits that long -> propose a step down
const LOSS_LIMIT = 0.15;
const RTT_LIMIT_MS = 1000;
const RECOVERED_MS = 10000; // a proposal goes away after that long of good media
const AUDIO_ROOM_KEY = "tc_audio_room"; // sessionStorage: the room went audio only (survives a reload)

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
  iceTransportPolicy: "all",
  ladder: "", // degradation ladder step of the call: "video" | "audio" | "phone" ("" before any call)
  proposal: null, // {to: "audio" | "phone", reason: "ice_failed" | "quality", cause: "down" | "poor"}
  quality: null, // last monitor sample: {t_ms, rtt_ms, bytes_received, packets_received, packets_lost,
  //               loss, bitrate_kbps, connection_state, media_up}
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

/**
 * Camera and microphone, or the microphone alone when the camera fails (or `video` is false: an
 * audio-only consultation). Reused while live; `video: false` drops the camera of a live stream.
 */
export function startLocalMedia({ video = true } = {}) {
  const fit = (stream) => {
    if (!video) dropLocalVideo();
    return stream;
  };
  if (isLive(localStream)) return Promise.resolve(fit(localStream));
  if (localStreamPromise) return localStreamPromise.then(fit);
  localStreamPromise = acquireLocalMedia(video)
    .then((stream) => {
      localStream = stream;
      tcState.localMedia = stream.getVideoTracks().length > 0 ? "video" : "audio";
      return stream;
    })
    .finally(() => {
      localStreamPromise = null;
    });
  return localStreamPromise.then(fit);
}

async function acquireLocalMedia(video) {
  const devices = navigator.mediaDevices;
  if (!devices || !devices.getUserMedia) throw new DOMException("no mediaDevices", "NotSupportedError");
  if (!video) return devices.getUserMedia({ audio: true });
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

/** Stop the camera (the microphone goes on): audio only from now on. */
function dropLocalVideo() {
  if (!localStream) return;
  for (const track of localStream.getVideoTracks()) {
    track.stop();
    localStream.removeTrack(track);
  }
  if (tcState.localMedia) tcState.localMedia = "audio";
}

export function stopLocalMedia() {
  if (localStream) {
    for (const track of localStream.getTracks()) track.stop();
  }
  localStream = null;
  tcState.localMedia = "";
}

// ---------------------------------------------------------------- peer connection

/** "all" or "relay" (anything else: "all"). */
export function transportPolicy(policy) {
  return policy === "relay" ? "relay" : "all";
}

/**
 * The RTCPeerConnection configuration from the server's `ice_servers` and `ice_transport_policy`
 * (call:start, GET /api/ice): always explicit, never a browser default STUN server.
 */
export function rtcConfiguration(iceServers, iceTransportPolicy) {
  return {
    iceServers: Array.isArray(iceServers) ? iceServers : [],
    iceTransportPolicy: transportPolicy(iceTransportPolicy),
  };
}

/**
 * A new RTCPeerConnection with its three callbacks; end-of-candidates (null) is not reported.
 * `ice`: {iceServers, iceTransportPolicy} (an array alone is taken as iceServers).
 */
export function createPeerConnection(ice, onRemoteTrack, onIceCandidate, onConnectionState) {
  const config = Array.isArray(ice) || !ice ? rtcConfiguration(ice) : rtcConfiguration(ice.iceServers, ice.iceTransportPolicy);
  const pc = new RTCPeerConnection(config);
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
    { iceServers: c.iceServers, iceTransportPolicy: c.iceTransportPolicy },
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

/** Rejects a step's wait on a peer connection closed meanwhile (see guard()). */
class PeerClosed extends Error {
  constructor() {
    super("peer connection closed");
    this.name = "PeerClosed";
  }
}

const closedSignals = new WeakMap(); // pc -> {promise, resolve}: settles when closePeer closes it

function closedSignal(pc) {
  let signal = closedSignals.get(pc);
  if (!signal) {
    let resolve;
    const promise = new Promise((r) => {
      resolve = r;
    });
    signal = { promise, resolve };
    closedSignals.set(pc, signal);
  }
  return signal;
}

/**
 * `promise` (an operation on `pc`), or a PeerClosed rejection once `pc` is closed: a closed
 * RTCPeerConnection never settles its pending operations, which would stall the signal chain.
 */
function guard(pc, promise) {
  if (pc.signalingState === "closed") return Promise.reject(new PeerClosed());
  return Promise.race([
    promise,
    closedSignal(pc).promise.then(() => {
      throw new PeerClosed();
    }),
  ]);
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
    closedSignal(c.pc).resolve();
  }
  c.pc = null;
}

function transceiverKind(transceiver) {
  return transceiver.receiver && transceiver.receiver.track ? transceiver.receiver.track.kind : "";
}

/**
 * Send our tracks; ask to receive a kind we cannot send, so the other side's media still flows.
 * `audioOnly`: no video either way (an audio consultation, or one that stepped down the ladder).
 */
function addLocalTracks(pc, stream, audioOnly = false) {
  const kinds = new Set();
  if (stream) {
    for (const track of stream.getTracks()) {
      if (audioOnly && track.kind === "video") continue;
      if (track.readyState === "ended") continue;
      pc.addTrack(track, stream);
      kinds.add(track.kind);
    }
  }
  const receiving = new Set(pc.getTransceivers().map(transceiverKind));
  for (const kind of ["audio", "video"]) {
    if (audioOnly && kind === "video") continue;
    if (!kinds.has(kind) && !receiving.has(kind)) pc.addTransceiver(kind, { direction: "recvonly" });
  }
  if (audioOnly) refuseVideo(pc);
}

/** Neither send nor receive video from the next negotiation on (m-lines stay, inactive). */
function refuseVideo(pc) {
  for (const transceiver of pc.getTransceivers()) {
    if (transceiverKind(transceiver) !== "video" || transceiver.stopped) continue;
    try {
      transceiver.direction = "inactive";
    } catch {
      // closed peer connection
    }
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
      // An ICE restart on the same peer connection first (a fresh peer when it cannot be done).
      setTimer(c, "disconnected", DISCONNECTED_GRACE_MS, () => {
        if (c.pc === pc && pc.connectionState !== "connected") enqueue(c, () => renegotiateAsCaller(c));
      });
    }
  } else if (state === "failed") {
    // ICE failed: the caller re-offers with iceRestart on the same peer connection (its DTLS
    // session goes on); the callee keeps its peer connection and answers that offer.
    setPhase(c, "reconnecting");
    if (c.role === "caller") {
      clearTimer(c, "disconnected");
      clearTimer(c, "watchdog");
      enqueue(c, () => renegotiateAsCaller(c));
    }
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

/** The media of the call as the page shows it and call:connected reports it. */
function callMedia(c, pc) {
  return c.mediaMode === "audio" ? "audio" : remoteMediaKind(pc);
}

/**
 * We offered video but the other side refused it (its answer made our video m-line inactive:
 * an audio-only consultation): stop our camera too.
 */
function videoRefused(pc) {
  const video = pc.getTransceivers().filter((t) => transceiverKind(t) === "video" && !t.stopped);
  const sending = video.some((t) => t.sender && t.sender.track);
  return sending && video.every((t) => t.currentDirection === "inactive");
}

/** An ICE restart that kept the connection up fires no "connected" event: say it is connected. */
function stillConnected(c, pc) {
  if (pc.connectionState === "connected" && tcState.phase !== "connected") reportConnected(c, pc);
}

function reportConnected(c, pc) {
  if (c.mediaMode !== "audio" && videoRefused(pc)) applyAudioMode(c);
  const media = callMedia(c, pc);
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
  addLocalTracks(pc, stream, c.mediaMode === "audio");
  const offer = await guard(pc, pc.createOffer());
  await guard(pc, pc.setLocalDescription(offer));
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
  if (pc.connectionState === "closed") return false; // "failed" (ICE) is what a restart is for
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
  const offer = await guard(pc, pc.createOffer({ iceRestart: true }));
  await guard(pc, pc.setLocalDescription(offer));
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
  await guard(pc, pc.setRemoteDescription({ type: "answer", sdp }));
  c.unanswered = 0;
  await flushCandidates(c);
  if (c.pc === pc) stillConnected(c, pc);
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
  if (pc.connectionState === "closed") return false; // "failed": the ICE restart mends it
  const transport = dtlsTransport(pc);
  if (transport && (transport.state === "closed" || transport.state === "failed")) return false;
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
  await guard(pc, pc.setRemoteDescription({ type: "offer", sdp: msg.sdp }));
  await flushCandidates(c);
  if (!renegotiation) {
    const stream = await c.media;
    if (c.pc !== pc || c.ended || c.latestOffer !== msg) return;
    addLocalTracks(pc, stream, c.mediaMode === "audio");
  } else if (c.mediaMode === "audio") {
    refuseVideo(pc);
  }
  const answer = await guard(pc, pc.createAnswer());
  await guard(pc, pc.setLocalDescription(answer));
  if (c.pc !== pc || c.ended || c.latestOffer !== msg) return;
  if (!renegotiation) watchTransport(c, pc);
  sendSignal(c, { type: "answer", sdp: pc.localDescription.sdp });
  if (renegotiation) stillConnected(c, pc);
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
    await guard(c.pc, c.pc.addIceCandidate(candidate));
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
    if (err instanceof PeerClosed) return; // the peer connection was replaced or closed meanwhile
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
 * peer connection). `media`: "audio" for an audio-only consultation (no video either way).
 * `hooks`: onRemoteStream(stream), onPhase(phase, media), onLadder({step, proposal}).
 * Returns "kept" or "started".
 */
export function startCall({
  roomId,
  role,
  iceServers,
  iceTransportPolicy = "all",
  media = "video",
  send,
  hooks,
  reoffer = false,
}) {
  if (call && !call.ended && call.roomId === roomId && call.role === role) {
    call.hooks = hooks;
    call.send = send;
    call.iceServers = iceServers; // fresh TURN credentials for the next peer connection
    call.iceTransportPolicy = transportPolicy(iceTransportPolicy);
    if (media === "audio") applyAudioMode(call);
    if (reoffer && role === "caller") restartAsCaller(call);
    else renegotiate(roomId); // our socket came back: offers sent meanwhile may be lost
    publishLadder(call);
    return "kept";
  }
  const early = earlySignals.filter((msg) => msg.room_id === roomId);
  endCall({ keepMedia: true });
  const audioOnly = media === "audio" || audioRoomRemembered(roomId);
  const c = {
    roomId,
    role,
    iceServers,
    iceTransportPolicy: transportPolicy(iceTransportPolicy),
    mediaMode: audioOnly ? "audio" : "video",
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
    // no media at all still lets us receive
    media: startLocalMedia({ video: !audioOnly }).catch(() => null),
    startedAt: monotonicNow(),
    monitor: null, // interval of the quality monitor
    sampling: false,
    ladder: newLadder(audioOnly ? "audio" : "video"),
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
    iceTransportPolicy: c.iceTransportPolicy,
    ladder: c.ladder.step,
    proposal: null,
    quality: null,
  });
  c.hooks.onPhase("connecting", "");
  if (role === "caller") enqueue(c, () => makeOffer(c));
  for (const msg of early) enqueueSignal(c, msg);
  startMonitor(c);
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
    stopMonitor(call);
    closePeer(call);
    call = null;
  }
  tcState.proposal = null;
  earlySignals = [];
  testHook.pc = null;
  Object.assign(tcState, { roomId: null, phase: "closed", media: "", connectionState: "closed" });
  if (!keepMedia) stopLocalMedia();
}

// ---------------------------------------------------------------- quality and degradation ladder

function monotonicNow() {
  return typeof performance !== "undefined" && performance.now ? performance.now() : Date.now();
}

/**
 * One getStats() reading (PROTOCOL.md <StatsSample> without t_ms): inbound audio and video
 * summed, RTT (ms) of the selected (else nominated, succeeded) candidate pair or null.
 */
export async function readStatsSample(pc) {
  const report = await pc.getStats();
  let bytes = 0;
  let received = 0;
  let lost = 0;
  let selectedPairId = null;
  const pairs = new Map();
  report.forEach((stat) => {
    if (stat.type === "inbound-rtp" && (stat.kind === "audio" || stat.kind === "video")) {
      bytes += Number(stat.bytesReceived) || 0;
      received += Number(stat.packetsReceived) || 0;
      lost += Number(stat.packetsLost) || 0;
    } else if (stat.type === "transport" && stat.selectedCandidatePairId) {
      selectedPairId = stat.selectedCandidatePairId;
    } else if (stat.type === "candidate-pair") {
      pairs.set(stat.id, stat);
    }
  });
  let pair = selectedPairId ? pairs.get(selectedPairId) : null;
  if (!pair) {
    const all = [...pairs.values()];
    pair = all.find((p) => p.nominated && p.state === "succeeded") || all.find((p) => p.selected) || null;
  }
  const rtt = pair && typeof pair.currentRoundTripTime === "number" ? pair.currentRoundTripTime * 1000 : null;
  return {
    rtt_ms: rtt === null ? null : Math.round(rtt * 10) / 10,
    bytes_received: Math.round(bytes),
    packets_received: Math.round(received),
    packets_lost: Math.max(0, Math.round(lost)), // duplicates may make it negative
  };
}

function newLadder(step) {
  return {
    step, // "video" | "audio" | "phone"
    proposal: null, // {to, reason, cause}
    downSince: monotonicNow(), // media not flowing since (the call starts down)
    poorSince: null, // loss or RTT over the limits since
    goodSince: null, // media fine since (clears a proposal)
    last: null, // previous sample, with its peer connection
  };
}

function startMonitor(c) {
  stopMonitor(c);
  c.monitor = setInterval(() => {
    monitorTick(c).catch((err) => console.warn("quality monitor", err && err.name));
  }, LADDER_TICK_MS);
}

function stopMonitor(c) {
  if (c.monitor) clearInterval(c.monitor);
  c.monitor = null;
}

/** One second of the ladder: read the stats, update how long media has been down or poor. */
async function monitorTick(c) {
  if (c.ended || c.sampling) return;
  c.sampling = true;
  let sample = null;
  const pc = c.pc;
  try {
    if (pc && pc.connectionState !== "closed") sample = await readStatsSample(pc);
  } catch {
    sample = null;
  } finally {
    c.sampling = false;
  }
  if (c.ended) return;
  const now = monotonicNow();
  const L = c.ladder;
  const prev = L.last && L.last.pc === pc && pc ? L.last : null;
  const connected = Boolean(pc) && pc.connectionState === "connected";
  let loss = null;
  let bitrate = null;
  let flowing = connected && Boolean(sample);
  if (sample && prev) {
    const dBytes = sample.bytes_received - prev.sample.bytes_received;
    const dReceived = Math.max(0, sample.packets_received - prev.sample.packets_received);
    const dLost = Math.max(0, sample.packets_lost - prev.sample.packets_lost);
    const seconds = (now - prev.at) / 1000;
    if (dReceived + dLost > 0) loss = dLost / (dReceived + dLost);
    if (seconds > 0) bitrate = Math.max(0, (dBytes * 8) / 1000 / seconds);
    flowing = flowing && dBytes > 0;
  }
  const poor = flowing && ((loss !== null && loss > LOSS_LIMIT) || (sample.rtt_ms !== null && sample.rtt_ms > RTT_LIMIT_MS));
  L.downSince = flowing ? null : (L.downSince ?? now);
  L.poorSince = poor ? (L.poorSince ?? now) : null;
  L.goodSince = flowing && !poor ? (L.goodSince ?? now) : null;
  if (sample) L.last = { pc, sample, at: now };
  tcState.quality = {
    t_ms: Math.round(now - c.startedAt),
    rtt_ms: sample ? sample.rtt_ms : null,
    bytes_received: sample ? sample.bytes_received : 0,
    packets_received: sample ? sample.packets_received : 0,
    packets_lost: sample ? sample.packets_lost : 0,
    loss: loss === null ? null : Math.round(loss * 1000) / 1000,
    bitrate_kbps: bitrate === null ? null : Math.round(bitrate),
    connection_state: pc ? pc.connectionState : "none",
    media_up: flowing,
  };
  evaluateLadder(c, now, connected);
}

function evaluateLadder(c, now, connected) {
  const L = c.ladder;
  if (L.step === "phone") return;
  const down = L.downSince !== null && now - L.downSince >= MEDIA_DOWN_MS;
  const poor = L.poorSince !== null && now - L.poorSince >= POOR_QUALITY_MS;
  if (down || poor) {
    const to = L.step === "video" ? "audio" : "phone";
    const reason = down && !connected ? DEGRADE_ICE_FAILED : DEGRADE_QUALITY;
    const cause = down ? "down" : "poor";
    if (!L.proposal || L.proposal.to !== to || L.proposal.cause !== cause) {
      L.proposal = { to, reason, cause };
      publishLadder(c);
    }
  } else if (L.proposal && L.goodSince !== null && now - L.goodSince >= RECOVERED_MS) {
    L.proposal = null; // media came back and stayed good
    publishLadder(c);
  }
}

function publishLadder(c) {
  tcState.ladder = c.ladder.step;
  tcState.proposal = c.ladder.proposal ? { ...c.ladder.proposal } : null;
  if (c.hooks && typeof c.hooks.onLadder === "function") c.hooks.onLadder(ladderState());
}

function rememberAudioRoom(roomId) {
  try {
    window.sessionStorage.setItem(AUDIO_ROOM_KEY, roomId);
  } catch {
    // storage disabled: a reload goes back to video, the ladder proposes again if needed
  }
}

function audioRoomRemembered(roomId) {
  try {
    return window.sessionStorage.getItem(AUDIO_ROOM_KEY) === roomId;
  } catch {
    return false;
  }
}

/** Stop sending video (replaceTrack(null), camera off) and refuse it at the next negotiation. */
function applyAudioMode(c) {
  if (c.mediaMode === "audio" && c.ladder.step !== "video") return;
  c.mediaMode = "audio";
  rememberAudioRoom(c.roomId);
  const pc = c.pc;
  if (pc) {
    for (const transceiver of pc.getTransceivers()) {
      if (transceiverKind(transceiver) !== "video" || transceiver.stopped) continue;
      if (transceiver.sender && transceiver.sender.track) transceiver.sender.replaceTrack(null).catch(() => {});
    }
    refuseVideo(pc);
  }
  dropLocalVideo();
  const L = c.ladder;
  if (L.step === "video") {
    L.step = "audio";
    L.proposal = null;
    // The next step (phone) is proposed only if audio stays down or poor as long again.
    const now = monotonicNow();
    if (L.downSince !== null) L.downSince = now;
    if (L.poorSince !== null) L.poorSince = now;
  }
  if (tcState.phase === "connected") setPhase(c, "connected", "audio");
  publishLadder(c);
}

/**
 * Step down to audio only (the person chose it, or the other member did: call:degraded). Returns
 * false when there is no call. The page sends call:degrade itself.
 */
export function degradeToAudio() {
  const c = call;
  if (!c || c.ended) return false;
  applyAudioMode(c);
  return true;
}

/** The call goes on by phone (call:degrade to phone sent, or call:ended phone_callback). */
export function noteLadderPhone() {
  if (call && !call.ended) {
    call.ladder.step = "phone";
    call.ladder.proposal = null;
    publishLadder(call);
  } else {
    tcState.ladder = "phone";
    tcState.proposal = null;
  }
}

/** The ladder of the current call: {step, proposal} (step "" without a call). */
export function ladderState() {
  const c = call;
  if (!c || c.ended) return { step: tcState.ladder === "phone" ? "phone" : "", proposal: null };
  return { step: c.ladder.step, proposal: c.ladder.proposal ? { ...c.ladder.proposal } : null };
}
