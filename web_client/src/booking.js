// Patient booking panel (/patient): pick a day and a 15-minute slot, book it, move or cancel the
// upcoming appointment (docs/PROTOCOL.md, "Appointments (R7)"). Once the appointment has entered
// the queue, the waiting-room part of the page follows it through patient:state as any request.

import { apiRequest } from "./api.js";
import { serverNow } from "./clock.js";
import { hasMessage, onLangChange, t } from "./i18n.js";
import { addDays, parisClock, parisDate, parisDayAndTime } from "./paris.js";
import { errorText } from "./auth.js";
import { byTestId, setAlert, setText, show } from "./ui.js";

const SLOTS_URL = "/api/appointments/slots";
const APPOINTMENTS_URL = "/api/appointments";
export const MAX_DAYS_AHEAD = 14;
/** Request states during which a request is still going (same list as patient.js). */
const ACTIVE_REQUEST_STATES = new Set(["requested", "screened", "waiting", "offered", "accepted", "in_call"]);
/** Codes with their own booking message (booking.error.<code>); others use the generic texts. */
export const BOOKING_ERRORS = [
  "outside_hours",
  "too_far_ahead",
  "in_the_past",
  "not_a_slot",
  "slot_full",
  "already_booked",
  "consent_missing",
  "quota_exceeded",
  "not_found",
  "illegal_transition",
  "invalid_field",
];

const el = {
  panel: byTestId("booking"),
  date: byTestId("book-date"),
  slots: document.querySelector("[data-role='slots']"),
  slotsStatus: document.querySelector("[data-role='slots-status']"),
  error: byTestId("booking-error"),
  status: document.querySelector("[data-role='booking-status']"),
  appointment: byTestId("appointment"),
  appointmentText: document.querySelector("[data-role='appointment-text']"),
  move: byTestId("appointment-move"),
  cancel: byTestId("appointment-cancel"),
  moveHint: document.querySelector("[data-role='move-hint']"),
  moveAbort: document.querySelector("[data-role='move-abort']"),
};

const state = {
  active: false, // signed in: the panel may call the API
  appointments: [], // GET /api/appointments, newest slot first
  slots: null, // {date, slots: [{start, end, free, capacity}]} of the day shown, or null
  slotsLoading: false,
  slotsSeq: 0, // answers of an older date are dropped
  moving: false, // appointment-move clicked: the next slot moves the appointment
  busy: false, // a booking, move or cancel is under way
  notice: "", // key of the last success message
  request: null, // the patient's request from the last patient:state (null: none)
  endedRequestIds: new Set(), // requests seen over (their queued appointment is past)
  lastRequestKey: "", // id and state of the last patient:state request (refresh on change)
  mineStart: null, // slot_start of the upcoming appointment marked in the slot list
};

// ---------------------------------------------------------------- pure helpers

/** Is an appointment that entered the queue still under way, as far as this page can tell? */
function queuedStillGoing(appointment) {
  const request = state.request;
  if (request && request.id === appointment.request_id) return ACTIVE_REQUEST_STATES.has(request.state);
  if (appointment.request_id && state.endedRequestIds.has(appointment.request_id)) return false;
  // Its request is not the one patient:state shows (yet): still due, or just queued and the push
  // is on its way; long past its slot, it is an old one whose consultation is over.
  const end = Date.parse(appointment.slot_end || appointment.slot_start || "");
  return !Number.isFinite(end) || end > serverNow();
}

/** The upcoming appointment: the first (newest slot first) booked, or queued and still going. */
export function upcomingAppointment(appointments) {
  for (const appointment of appointments || []) {
    if (!appointment || typeof appointment !== "object") continue;
    if (appointment.state === "booked") return appointment;
    if (appointment.state === "queued" && queuedStillGoing(appointment)) return appointment;
  }
  return null;
}

/** A refusal for people: our booking text for the code when we have one, else the generic one. */
export function bookingErrorText(err) {
  const code = err && err.code;
  if (code && hasMessage(`booking.error.${code}`)) return t(`booking.error.${code}`);
  return errorText(err);
}

function todayParis() {
  return parisDate(serverNow());
}

// ---------------------------------------------------------------- rendering

let shownError = null; // the refusal in booking-error (translated again on a language change)

function showError(err) {
  shownError = err || null;
  setAlert(el.error, err ? bookingErrorText(err) : "", (err && err.code) || "");
}

function setNotice(key) {
  state.notice = key;
}

/** Build the slot buttons of the day shown (only when the slots change, not on every render). */
function renderSlots() {
  const slots = state.slots ? state.slots.slots : [];
  const upcoming = upcomingAppointment(state.appointments);
  state.mineStart = upcoming ? upcoming.slot_start : null;
  const mine = upcoming ? Date.parse(upcoming.slot_start) : NaN;
  el.slots.replaceChildren();
  for (const slot of slots) {
    if (!slot || typeof slot.start !== "string") continue;
    const time = parisClock(slot.start);
    const free = Number(slot.free) || 0;
    let item;
    if (free > 0) {
      item = document.createElement("button");
      item.type = "button";
      item.className = "slot";
      item.dataset.testid = "book-slot";
      item.dataset.start = slot.start; // exactly as the server gave it
      item.dataset.free = String(free);
      item.textContent = time;
      item.title = t(free === 1 ? "booking.slot_free_one" : "booking.slot_free_many", { n: free });
      item.disabled = state.busy;
    } else {
      // A full slot is shown for orientation but cannot be picked (no test id, no button).
      item = document.createElement("span");
      item.className = "slot full";
      item.textContent = time;
      item.title = t("booking.slot_full");
      item.setAttribute("aria-disabled", "true");
    }
    if (Date.parse(slot.start) === mine) {
      item.classList.add("mine");
      item.setAttribute("aria-current", "true");
    }
    el.slots.append(item);
  }
  renderSlotsStatus();
}

function renderSlotsStatus() {
  const slots = state.slots ? state.slots.slots : null;
  let text = "";
  if (state.slotsLoading && !slots) text = t("booking.loading");
  else if (slots && !slots.some((slot) => slot && Number(slot.free) > 0)) text = t("booking.no_slots");
  else if (slots) text = t(state.moving ? "booking.pick_new" : "booking.pick");
  setText(el.slotsStatus, text);
  show(el.slotsStatus, Boolean(text));
}

/** Everything but the slot buttons themselves. */
export function renderBooking() {
  const upcoming = upcomingAppointment(state.appointments);
  if (state.moving && (!upcoming || upcoming.state !== "booked")) state.moving = false;
  show(el.appointment, Boolean(upcoming));
  if (upcoming) {
    el.appointment.dataset.state = upcoming.state;
    el.appointment.dataset.start = upcoming.slot_start || "";
    el.appointment.dataset.id = upcoming.id || "";
    const when = parisDayAndTime(upcoming.slot_start);
    setText(el.appointmentText, t(upcoming.state === "queued" ? "booking.appointment.queued" : "booking.appointment.booked", { when }));
  } else {
    el.appointment.dataset.state = "";
    el.appointment.dataset.start = "";
    el.appointment.dataset.id = "";
    setText(el.appointmentText, "");
  }
  const booked = Boolean(upcoming && upcoming.state === "booked");
  show(el.move, booked); // clicking it again while moving changes nothing
  el.move.setAttribute("aria-pressed", String(state.moving));
  show(el.cancel, booked);
  el.move.disabled = state.busy;
  el.cancel.disabled = state.busy;
  show(el.moveHint, state.moving);
  el.panel.classList.toggle("moving", state.moving);

  const notice = state.notice ? t(state.notice) : "";
  setText(el.status, notice);
  show(el.status, Boolean(notice));

  if ((upcoming ? upcoming.slot_start : null) !== state.mineStart) {
    renderSlots(); // the appointment marked in the slot list changed
  } else {
    for (const button of el.slots.querySelectorAll("button.slot")) button.disabled = state.busy;
    renderSlotsStatus();
  }
}

// ---------------------------------------------------------------- server calls

let listInFlight = null;
let listAgain = false;

/** GET /api/appointments (one at a time; a call during one asks for one more after it). */
export function refreshAppointments() {
  if (!state.active) return Promise.resolve();
  if (listInFlight) {
    listAgain = true;
    return listInFlight;
  }
  listInFlight = (async () => {
    do {
      listAgain = false;
      try {
        const body = await apiRequest("GET", APPOINTMENTS_URL);
        if (!state.active) return;
        state.appointments = Array.isArray(body && body.appointments) ? body.appointments : [];
        renderBooking();
      } catch (err) {
        // A background refresh: keep what is shown; the next change or push tries again.
        console.warn("appointments refresh failed", err && err.code);
      }
    } while (listAgain && state.active);
  })().finally(() => {
    listInFlight = null;
  });
  return listInFlight;
}

/** How many days the default day may move forward when the server's date is ahead of ours. */
const MAX_DEFAULT_SHIFT_DAYS = 2;

/**
 * GET the slots of the day in book-date; a refusal (too_far_ahead, in_the_past...) is shown.
 * `defaultDay`: the day was not chosen by the patient (sign-in): when the server says it is past
 * (its clock is already on the next day), move on to the next day quietly instead.
 */
export async function loadSlots({ defaultDay = false, shifted = 0 } = {}) {
  if (!state.active) return;
  const date = el.date.value;
  const seq = ++state.slotsSeq;
  if (!date) {
    state.slots = null;
    state.slotsLoading = false;
    renderSlots();
    return;
  }
  state.slotsLoading = true;
  if (state.slots && state.slots.date !== date) state.slots = null;
  renderSlotsStatus();
  try {
    const body = await apiRequest("GET", `${SLOTS_URL}?date=${encodeURIComponent(date)}`);
    if (!state.active || seq !== state.slotsSeq) return;
    state.slots = { date, slots: Array.isArray(body && body.slots) ? body.slots : [] };
  } catch (err) {
    if (!state.active || seq !== state.slotsSeq) return;
    if (defaultDay && err && err.code === "in_the_past" && shifted < MAX_DEFAULT_SHIFT_DAYS) {
      state.slotsLoading = false;
      setBookableDays(addDays(date, 1));
      return loadSlots({ defaultDay, shifted: shifted + 1 });
    }
    state.slots = null;
    showError(err);
  } finally {
    if (seq === state.slotsSeq) state.slotsLoading = false;
  }
  renderSlots();
}

/** Remember an appointment the server just answered with, before the list comes back. */
function keepAppointment(appointment) {
  if (!appointment || !appointment.id) return;
  state.appointments = [appointment, ...state.appointments.filter((a) => a && a.id !== appointment.id)];
}

async function runAction(task) {
  if (state.busy) return;
  state.busy = true;
  showError(null);
  setNotice("");
  renderBooking();
  try {
    await task();
  } finally {
    state.busy = false;
    renderBooking();
  }
  await Promise.all([refreshAppointments(), loadSlots()]);
}

/** A slot button: book it, or move the upcoming appointment there after appointment-move. */
function pickSlot(start) {
  return runAction(async () => {
    const upcoming = upcomingAppointment(state.appointments);
    const moving = state.moving && upcoming && upcoming.state === "booked";
    try {
      let body;
      if (moving) {
        body = await apiRequest("PATCH", `${APPOINTMENTS_URL}/${encodeURIComponent(upcoming.id)}`, { slot_start: start });
        setNotice("booking.moved");
      } else {
        body = await apiRequest("POST", APPOINTMENTS_URL, { slot_start: start });
        setNotice("booking.booked");
      }
      keepAppointment(body && body.appointment);
      state.moving = false;
    } catch (err) {
      showError(err);
      if (err && (err.code === "not_found" || err.code === "illegal_transition")) state.moving = false;
    }
  });
}

function cancelAppointment() {
  return runAction(async () => {
    const upcoming = upcomingAppointment(state.appointments);
    if (!upcoming) return;
    state.moving = false;
    try {
      const body = await apiRequest("DELETE", `${APPOINTMENTS_URL}/${encodeURIComponent(upcoming.id)}`);
      keepAppointment(body && body.appointment);
      setNotice("booking.cancelled");
    } catch (err) {
      showError(err);
    }
  });
}

// ---------------------------------------------------------------- wiring

el.slots.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("button[data-testid='book-slot']") : null;
  if (!button || button.disabled || state.busy) return;
  pickSlot(button.dataset.start);
});

el.date.addEventListener("change", () => {
  showError(null);
  setNotice("");
  renderBooking();
  loadSlots();
});

el.move.addEventListener("click", () => {
  showError(null);
  setNotice("");
  state.moving = true;
  renderBooking();
  el.date.focus(); // the day shown stays; the patient picks the new slot (another day if need be)
});

el.moveAbort.addEventListener("click", () => {
  state.moving = false;
  renderBooking();
  el.move.focus({ preventScroll: true });
});

el.cancel.addEventListener("click", () => cancelAppointment());

onLangChange(() => {
  if (shownError) showError(shownError);
  renderSlots();
  renderBooking();
});

/**
 * A patient:state push: an appointment may have entered the queue (a new request) or its
 * consultation may be over. The list is fetched again when the request or its state changed, and
 * on every push while a request is going and the appointment shown is still `booked` (it may have
 * entered the queue, or been superseded, after the list was read). The steady pushes of a queued
 * patient (place, estimate) do not cause a fetch each.
 */
export function bookingOnPatientState(request) {
  state.request = request || null;
  const active = Boolean(request && ACTIVE_REQUEST_STATES.has(request.state));
  if (request && request.id && !active) state.endedRequestIds.add(request.id);
  const key = request ? `${request.id}:${request.state}` : "none";
  const changed = key !== state.lastRequestKey;
  if (changed) {
    if (state.lastRequestKey !== "") setNotice(""); // "appointment confirmed" is old news by now
    state.lastRequestKey = key;
  }
  const upcoming = upcomingAppointment(state.appointments);
  if (changed || (active && upcoming && upcoming.state === "booked")) refreshAppointments();
  renderBooking();
}

/** Signed in: today's slots (Paris date) and the patient's appointments. */
export function enterBooking() {
  const today = todayParis();
  Object.assign(state, {
    active: true,
    appointments: [],
    slots: null,
    slotsLoading: false,
    moving: false,
    busy: false,
    notice: "",
    request: null,
    endedRequestIds: new Set(),
    lastRequestKey: "",
  });
  setBookableDays(today);
  showError(null);
  renderSlots();
  renderBooking();
  refreshAppointments();
  loadSlots({ defaultDay: true });
}

/** book-date: from `today` (Paris) to 14 days later, showing `today`. */
function setBookableDays(today) {
  el.date.min = today;
  el.date.max = addDays(today, MAX_DAYS_AHEAD);
  el.date.value = today;
}

/** Signed out: forget everything shown. */
export function leaveBooking() {
  state.active = false;
  state.slotsSeq += 1;
  state.appointments = [];
  state.slots = null;
  state.moving = false;
  state.busy = false;
  state.notice = "";
  state.request = null;
  showError(null);
  renderSlots();
  renderBooking();
}

/** Show or hide the whole panel (hidden during a call). */
export function showBooking(visible) {
  show(el.panel, visible);
}
