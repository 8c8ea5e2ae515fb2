// Patient pre-call check (docs/PROTOCOL.md, "Pre-call check: network test against the server's
// echo peer"): which devices work, then a short WebRTC test against the server's echo peer, then
// the server's verdict (video, audio or phone). Nothing here blocks a consultation: any failure of
// the network test is sent as `network: null`, and a verdict the server cannot give is worked out
// here from the devices alone (the same rules as media/verdict.py).

import { apiRequest } from "./api.js";
import { readStatsSample, rtcConfiguration } from "./rtc.js";

const ICE_URL = "/api/ice";
const ECHO_OFFER_URL = "/api/echo/offer";
const ECHO_VERDICT_URL = "/api/echo/verdict";

const GATHER_TIMEOUT_MS = 3000; // the echo peer does not trickle: send the offer after gathering
const CONNECT_TIMEOUT_MS = 4000; // not connected by then: no ICE path, network null
const SAMPLE_INTERVAL_MS = 1000;
const SAMPLE_SPAN_MS = 5000; // getStats every second for about 5 s (6 samples)
const QUICK_SPAN_MS = 1000; // before a request (not asked for): two samples a second apart
const MIN_METER_MS = 1500; // the microphone meter runs at least that long (not in a quick check)
const LEVEL_INTERVAL_MS = 100;
/** Low resolution for the echo test (and the preview during the check). */
const CHECK_VIDEO = { width: { ideal: 320 }, height: { ideal: 240 }, frameRate: { ideal: 15, max: 15 } };

export const VERDICTS = new Set(["video", "audio", "phone"]);

let current = null; // the check under way: {aborted, tracks, pc, stopMeter}

function now() {
  return typeof performance !== "undefined" && performance.now ? performance.now() : Date.now();
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class Aborted extends Error {}

function checkAlive(run) {
  if (run.aborted) throw new Aborted("device check cancelled");
}

/** A getUserMedia failure as: denied (NotAllowedError), in_use (NotReadableError), absent, error. */
export function mediaErrorKind(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") return "denied";
  if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") return "in_use";
  if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") return "absent";
  return "error";
}

async function listDevices(md) {
  try {
    const devices = await md.enumerateDevices();
    return {
      audio: devices.some((d) => d.kind === "audioinput"),
      video: devices.some((d) => d.kind === "videoinput"),
    };
  } catch {
    return { audio: null, video: null }; // cannot tell: ask getUserMedia
  }
}

/** getUserMedia for one kind: {status: ok | denied | in_use | absent | error, stream}. */
async function openDevice(md, listed, constraints) {
  if (listed === false) return { status: "absent", stream: null };
  try {
    return { status: "ok", stream: await md.getUserMedia(constraints) };
  } catch (err) {
    if (err && err.name === "OverconstrainedError" && constraints.video) {
      try {
        return { status: "ok", stream: await md.getUserMedia({ video: true }) };
      } catch (retryErr) {
        return { status: mediaErrorKind(retryErr), stream: null };
      }
    }
    return { status: mediaErrorKind(err), stream: null };
  }
}

/**
 * The camera and the microphone, each asked for separately (so a refused camera does not hide a
 * working microphone). `facts`: {mic, cam} statuses; `device`: the verdict payload.
 */
async function checkDevices(run) {
  const md = typeof navigator !== "undefined" ? navigator.mediaDevices : null;
  if (!md || !md.getUserMedia) {
    return { facts: { mic: "absent", cam: "absent" }, device: deviceFrom({ mic: "absent", cam: "absent" }, {}), streams: [] };
  }
  const listed = await listDevices(md);
  checkAlive(run);
  const mic = await openDevice(md, listed.audio, { audio: true });
  if (mic.stream) run.tracks.push(...mic.stream.getTracks());
  checkAlive(run);
  const cam = await openDevice(md, listed.video, { video: CHECK_VIDEO });
  if (cam.stream) run.tracks.push(...cam.stream.getTracks());
  checkAlive(run);
  const facts = { mic: mic.status, cam: cam.status };
  return { facts, device: deviceFrom(facts, listed), streams: [mic.stream, cam.stream].filter(Boolean) };
}

/**
 * The `device` of POST /api/echo/verdict. `permission` is the microphone's (the one that decides
 * between a browser consultation and a phone call); a camera refused alone counts as no camera.
 * `in_use`: the camera is held by another application.
 */
export function deviceFrom(facts, listed) {
  const { mic, cam } = facts;
  const microphone = mic === "ok" || (mic === "denied" && listed.audio !== false);
  const bothDenied = mic === "denied" && cam === "denied";
  const camera = cam === "ok" || cam === "in_use" || (bothDenied && listed.video !== false);
  let permission = "prompt";
  if (mic === "ok") permission = "granted";
  else if (mic === "denied") permission = "denied";
  else if (cam === "ok") permission = "granted";
  else if (cam === "denied") permission = "denied";
  return { camera, microphone, permission, in_use: cam === "in_use" };
}

/** The verdict from the devices alone (network test impossible, or no server verdict). */
export function deviceVerdict(device) {
  if (!device.microphone || device.permission === "denied") return "phone";
  if (!device.camera || device.in_use) return "audio";
  return "video";
}

/** Why the verdict is below video, as a message key suffix: from what this browser saw. */
export function reasonKey(verdict, facts) {
  if (verdict === "phone") {
    if (facts.mic === "denied") return "permission_denied";
    if (facts.mic === "in_use") return "microphone_in_use";
    if (facts.mic !== "ok") return "no_microphone";
    return "network";
  }
  if (verdict === "audio") {
    if (facts.cam === "in_use") return "camera_in_use";
    if (facts.cam === "denied") return "camera_denied";
    if (facts.cam !== "ok") return "no_camera";
    return "network";
  }
  return "ok";
}

/** A level meter on the microphone (Web Audio AnalyserNode); returns stop(). */
function startMeter(stream, onLevel) {
  const Context = typeof window !== "undefined" ? window.AudioContext || window.webkitAudioContext : null;
  if (!Context || !stream || stream.getAudioTracks().length === 0) return () => {};
  let context;
  try {
    context = new Context();
  } catch {
    return () => {};
  }
  if (context.state === "suspended") context.resume().catch(() => {});
  const source = context.createMediaStreamSource(stream);
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  source.connect(analyser);
  const data = new Float32Array(analyser.fftSize);
  const timer = setInterval(() => {
    analyser.getFloatTimeDomainData(data);
    let sum = 0;
    for (const value of data) sum += value * value;
    const rms = Math.sqrt(sum / data.length);
    const db = rms > 0 ? 20 * Math.log10(rms) : -100;
    onLevel(Math.min(1, Math.max(0, (db + 60) / 60))); // -60 dBFS and below: 0; 0 dBFS: 1
  }, LEVEL_INTERVAL_MS);
  return () => {
    clearInterval(timer);
    try {
      source.disconnect();
    } catch {
      // already disconnected
    }
    context.close().catch(() => {});
  };
}

function gatheringComplete(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", onChange);
      resolve();
    };
    const onChange = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", onChange);
  });
}

function connected(pc, timeoutMs) {
  if (pc.connectionState === "connected") return Promise.resolve(true);
  return new Promise((resolve) => {
    const finish = (ok) => {
      clearTimeout(timer);
      pc.removeEventListener("connectionstatechange", onChange);
      resolve(ok);
    };
    const onChange = () => {
      if (pc.connectionState === "connected") finish(true);
      else if (pc.connectionState === "failed" || pc.connectionState === "closed") finish(false);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    pc.addEventListener("connectionstatechange", onChange);
  });
}

/**
 * The network test: our tracks (low resolution) to the server's echo peer and back. Resolves to
 * {connect_ms, samples} or null (echo_busy, no route, no ICE path within 4 s, any failure).
 */
async function networkTest(run, tracks, spanMs) {
  let pc = null;
  try {
    const ice = await apiRequest("GET", ICE_URL);
    checkAlive(run);
    pc = new RTCPeerConnection(rtcConfiguration(ice && ice.ice_servers, ice && ice.ice_transport_policy));
    run.pc = pc;
    const stream = new MediaStream(tracks);
    for (const track of tracks) pc.addTrack(track, stream);
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc, GATHER_TIMEOUT_MS);
    checkAlive(run);
    const postedAt = now();
    const answer = await apiRequest("POST", ECHO_OFFER_URL, { type: "offer", sdp: pc.localDescription.sdp });
    checkAlive(run);
    if (!answer || answer.type !== "answer" || typeof answer.sdp !== "string") return null;
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    const connectFrom = now();
    if (!(await connected(pc, CONNECT_TIMEOUT_MS))) return null;
    const connectMs = now() - connectFrom;
    checkAlive(run);
    // Sample within the echo peer's lifetime (max_seconds after the offer), about 5 s.
    const maxSeconds = Number(answer.max_seconds);
    const left = Number.isFinite(maxSeconds) && maxSeconds > 0 ? maxSeconds * 1000 - (now() - postedAt) - 500 : SAMPLE_SPAN_MS;
    const span = Math.max(SAMPLE_INTERVAL_MS, Math.min(spanMs, left));
    const samples = [];
    const start = now();
    for (;;) {
      const sample = await readStatsSample(pc);
      checkAlive(run);
      samples.push({ t_ms: Math.round(now() - start), ...sample });
      if (now() - start >= span - 100 || pc.connectionState === "closed") break;
      await sleep(SAMPLE_INTERVAL_MS);
      checkAlive(run);
    }
    return samples.length >= 2 ? { connect_ms: Math.round(connectMs), samples } : null;
  } catch (err) {
    if (err instanceof Aborted) throw err;
    return null; // echo_busy, a 404 from an older server, no network: the device check decides
  } finally {
    if (pc) pc.close();
    run.pc = null;
  }
}

function cleanUp(run) {
  if (run.stopMeter) run.stopMeter();
  run.stopMeter = null;
  for (const track of run.tracks) track.stop();
  run.tracks = [];
  if (run.pc) {
    try {
      run.pc.close();
    } catch {
      // closed already
    }
    run.pc = null;
  }
}

/**
 * Run the whole check. `hooks`: onPreview(stream | null) (the local preview), onLevel(0..1) (the
 * microphone meter), onPhase("devices" | "network" | "verdict"). `quick`: the check that runs by
 * itself before a first request, which must not keep the patient waiting: two samples a second
 * apart instead of about five seconds of them, no minimum time for the meter. Resolves to
 * {verdict, source: "server" | "local", reasons, measurements, device, network, facts, reason,
 * microphoneUsable}, or null when cancelled (cancelPrecallCheck).
 */
export async function runPrecallCheck(hooks = {}, { quick = false } = {}) {
  cancelPrecallCheck();
  const run = { aborted: false, tracks: [], pc: null, stopMeter: null };
  current = run;
  const onPhase = hooks.onPhase || (() => {});
  const onPreview = hooks.onPreview || (() => {});
  try {
    onPhase("devices");
    const { facts, device, streams } = await checkDevices(run);
    const preview = new MediaStream(run.tracks);
    if (run.tracks.length) onPreview(preview);
    const micStream = streams.find((s) => s.getAudioTracks().length > 0) || null;
    run.stopMeter = startMeter(micStream, hooks.onLevel || (() => {}));
    const meterFrom = now();

    let network = null;
    // Without a usable microphone the verdict is phone whatever the network: no test.
    if (facts.mic === "ok" && typeof RTCPeerConnection !== "undefined") {
      onPhase("network");
      network = await networkTest(run, run.tracks.slice(), quick ? QUICK_SPAN_MS : SAMPLE_SPAN_MS);
    }
    const meterLeft = (quick ? 0 : MIN_METER_MS) - (now() - meterFrom);
    if (micStream && meterLeft > 0) await sleep(meterLeft);
    checkAlive(run);
    if (run.stopMeter) run.stopMeter();
    run.stopMeter = null;
    onPhase("verdict");

    let verdict = null;
    let reasons = [];
    let measurements = null;
    let source = "server";
    try {
      const body = await apiRequest("POST", ECHO_VERDICT_URL, { device, network });
      if (body && VERDICTS.has(body.verdict)) {
        verdict = body.verdict;
        reasons = Array.isArray(body.reasons) ? body.reasons.map(String) : [];
        measurements = body.measurements || null;
      }
    } catch {
      // no verdict from the server: the devices decide, as the server would without a network test
    }
    checkAlive(run);
    if (!verdict) {
      verdict = deviceVerdict(device);
      source = "local";
    }
    return {
      verdict,
      source,
      reasons,
      measurements,
      device,
      network,
      facts,
      reason: reasonKey(verdict, facts),
      microphoneUsable: facts.mic === "ok",
    };
  } catch (err) {
    if (err instanceof Aborted) return null;
    throw err;
  } finally {
    cleanUp(run);
    onPreview(null);
    if (current === run) current = null;
  }
}

/** Stop a check under way (sign-out): tracks, meter and echo connection; it resolves to null. */
export function cancelPrecallCheck() {
  if (!current) return;
  current.aborted = true;
  cleanUp(current);
  current = null;
}
