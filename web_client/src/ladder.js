// The degradation ladder on screen, the same on both pages (docs/PROTOCOL.md, "Degradation ladder
// during a call"): a small menu during every call (degrade-audio, degrade-phone) that turns into a
// banner when rtc.js proposes a step down (media down 15 s, or loss / RTT too high for 10 s).

import { CALL_DEGRADE, DEGRADE_USER } from "./events.js";
import { t } from "./i18n.js";
import { currentRoomId, degradeToAudio, ladderState, noteLadderPhone } from "./rtc.js";
import { byTestId, setText, show, whileBusy } from "./ui.js";

/**
 * Wire the panel. `side`: "patient" or "gp" (a few texts differ). `send(event, payload)`: emitAck.
 * `onChange()`: re-render the page. `onError(err)`: show a refusal.
 * Returns {render(inCall), onDegraded(payload)}.
 */
export function bindLadderPanel({ side, send, onChange, onError }) {
  const el = {
    panel: byTestId("degrade-panel"),
    proposal: document.querySelector("[data-role='degrade-proposal']"),
    status: document.querySelector("[data-role='degrade-status']"),
    audio: byTestId("degrade-audio"),
    phone: byTestId("degrade-phone"),
  };
  let audioBy = ""; // "self" or "peer": who stepped down to audio in this call
  let audioRoom = null;
  let phoneSent = null; // room of a call:degrade to phone sent, until the call ends

  /** The reason to send: the proposal's when one is shown, else the person's own choice. */
  function reasonFor() {
    const { proposal } = ladderState();
    return proposal ? proposal.reason : DEGRADE_USER;
  }

  async function toAudio() {
    const roomId = currentRoomId();
    if (!roomId) return;
    const reason = reasonFor();
    degradeToAudio(); // stop sending video at once; the other member is told through the server
    audioBy = "self";
    audioRoom = roomId;
    onChange();
    try {
      await send(CALL_DEGRADE, { room_id: roomId, to: "audio", reason });
    } catch (err) {
      onError(err);
    }
    onChange();
  }

  async function toPhone() {
    const roomId = currentRoomId();
    if (!roomId) return;
    const reason = reasonFor();
    try {
      await send(CALL_DEGRADE, { room_id: roomId, to: "phone", reason });
      // The server closes the room (call:ended phone_callback) and pushes the phone states.
      phoneSent = roomId;
      noteLadderPhone();
    } catch (err) {
      onError(err);
    }
    onChange();
  }

  el.audio.addEventListener("click", () => whileBusy(el.audio, toAudio));
  el.phone.addEventListener("click", () => whileBusy(el.phone, toPhone));

  /** call:degraded from the other member: drop video here too. */
  function onDegraded(payload) {
    if (!payload || payload.to !== "audio") return;
    const roomId = currentRoomId();
    if (!roomId || payload.room_id !== roomId) return;
    degradeToAudio();
    if (audioRoom !== roomId) {
      audioBy = "peer";
      audioRoom = roomId;
    }
    onChange();
  }

  function render(inCall) {
    const roomId = currentRoomId();
    const { step, proposal } = ladderState();
    const visible = Boolean(inCall && roomId) && step !== "phone" && phoneSent !== roomId;
    show(el.panel, visible);
    el.panel.dataset.step = visible ? step : "";
    el.panel.dataset.proposal = visible && proposal ? proposal.to : "";
    el.panel.classList.toggle("proposing", Boolean(visible && proposal));
    if (!visible) return;
    show(el.audio, step === "video");
    setText(el.audio, t("ladder.to_audio"));
    setText(el.phone, t("ladder.to_phone"));
    const proposalText = proposal ? `${t(`ladder.proposal.${proposal.to}.${proposal.cause}`)} ${t(`ladder.phone_hint.${side}`)}` : "";
    setText(el.proposal, proposalText);
    show(el.proposal, Boolean(proposal));
    let status = "";
    if (step === "audio") status = audioRoom === roomId && audioBy === "peer" ? t(`ladder.audio_by_peer.${side}`) : t("ladder.audio_now");
    setText(el.status, status || t("ladder.menu"));
    el.status.classList.toggle("audio", step === "audio");
  }

  return { render, onDegraded };
}
