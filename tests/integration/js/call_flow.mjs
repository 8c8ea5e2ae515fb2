// Drives one consultation with the official socket.io JavaScript client (npm socket.io-client),
// following docs/PROTOCOL.md only. Usage: node call_flow.mjs <base url> <web_client/package.json>
// Prints one JSON object with what it observed; exits non-zero on any failure.
import { createRequire } from "node:module";

const [base, packageJson] = process.argv.slice(2);
const require = createRequire(packageJson);
const { io } = require("socket.io-client");

const PASSWORD = "Demo-Password-2026!";

async function login(email) {
  const resp = await fetch(`${base}/api/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  if (resp.status !== 200) throw new Error(`login ${email}: ${resp.status}`);
  return (await resp.json()).access_token;
}

function connect(token) {
  const socket = io(base, { transports: ["websocket"], auth: { token }, reconnection: false });
  const seen = [];
  const waiters = [];
  socket.onAny((event, data) => {
    seen.push([event, data]);
    for (const w of [...waiters]) {
      if (w.event === event && w.pred(data)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(data);
      }
    }
  });
  const waitFor = (event, pred = () => true, ms = 5000) => {
    const old = seen.find(([e, d]) => e === event && pred(d));
    if (old) return Promise.resolve(old[1]);
    return new Promise((resolve, reject) => {
      waiters.push({ event, pred, resolve });
      setTimeout(() => reject(new Error(`timeout waiting for ${event}`)), ms);
    });
  };
  const call = (event, payload) => socket.timeout(5000).emitWithAck(event, payload);
  return new Promise((resolve, reject) => {
    socket.on("connect", () => resolve({ socket, waitFor, call }));
    socket.on("connect_error", reject);
  });
}

async function refusedCode() {
  const socket = io(base, { transports: ["websocket"], auth: { token: "forged" }, reconnection: false });
  return new Promise((resolve) => {
    socket.on("connect_error", (err) => { socket.close(); resolve(err.message); });
  });
}

const out = {};
const patient = await connect(await login("patient4@demo.test"));
const gp = await connect(await login("gp3@demo.test"));
out.initial_patient_state = await patient.waitFor("patient:state");
const requested = await patient.call("patient:request_video", {});
out.request_ack = requested;
out.gp_available = await gp.call("gp:available", {});
const offered = await gp.waitFor("gp:state", (s) => s.status === "offered");
out.offered_request = offered.offer.request_id;
const accepted = await gp.call("offer:accept", { request_id: offered.offer.request_id });
out.accept_ack = accepted;
out.patient_call_start = await patient.waitFor("call:start");
out.relay_ack = await gp.call("rtc:signal", { room_id: accepted.room_id, type: "offer", sdp: "v=0" });
out.relayed = await patient.waitFor("rtc:signal");
out.bad_ack = await patient.call("rtc:signal", { room_id: accepted.room_id, type: "offer" });
out.hangup_ack = await patient.call("call:hangup", { room_id: accepted.room_id });
out.gp_ended = await gp.waitFor("call:ended");
out.refused = await refusedCode();
patient.socket.close();
gp.socket.close();
console.log(JSON.stringify(out));
process.exit(0);
