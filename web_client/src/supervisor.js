// Supervisor board (/supervisor): sign in (role supervisor), then a live view of the queue, the
// 30-minute promise, the GPs, the SLA alerts, the appointments of the next hours and the staffing
// hint, all from the board:state pushes (docs/PROTOCOL.md, "Supervisor board").

import { currentAccessToken, refreshSession } from "./auth.js";
import { monotonicNow } from "./clock.js";
import { BOARD_STATE, SESSION_SYNC, SLA_ALERT } from "./events.js";
import { getLang, onLangChange, t } from "./i18n.js";
import { parisClock } from "./paris.js";
import { bootPage } from "./session.js";
import { closeSocket, emitAck, openSocket } from "./signaling.js";
import { byTestId, setConnectionBanner, setText, show } from "./ui.js";

const TICK_MS = 1000; // the oldest wait keeps counting between pushes
const FLASH_MS = 3000; // the alerts block flashes this long on sla:alert
const NEWS_MS = 15000; // the "new alert" line stays this long
const DEFAULT_TARGET_SHARE = 0.95;
const HOUR_MS = 3600 * 1000;

/** gps fields of board:state and the test id of their count. */
const GP_FIELDS = [
  ["available", "board-gps-available"],
  ["offered", "board-gps-offered"],
  ["in_call", "board-gps-in-call"],
  ["wrap_up", "board-gps-wrap-up"],
  ["paused", "board-gps-paused"],
  ["unavailable", "board-gps-unavailable"],
];

const el = {
  updated: byTestId("board-updated"),
  queueSize: byTestId("board-queue-size"),
  oldestWait: byTestId("board-oldest-wait"),
  atRisk: byTestId("board-at-risk"),
  overdue: byTestId("board-overdue"),
  servedHour: byTestId("board-served-hour"),
  servedDay: byTestId("board-served-day"),
  servedHourDetail: document.querySelector("[data-role='served-hour-detail']"),
  servedDayDetail: document.querySelector("[data-role='served-day-detail']"),
  breaches: byTestId("board-breaches"),
  gps: Object.fromEntries(GP_FIELDS.map(([field, id]) => [field, byTestId(id)])),
  staffingCard: document.querySelector("[data-role='staffing-card']"),
  staffingNeeded: byTestId("board-staffing-needed"),
  staffingArrivals: byTestId("board-staffing-arrivals"),
  staffingTarget: document.querySelector("[data-role='staffing-target']"),
  alertsCard: document.querySelector("[data-role='alerts-card']"),
  alertsNews: null, // created below
  alertsEmpty: document.querySelector("[data-role='alerts-empty']"),
  alerts: byTestId("board-alerts"),
  appointments: byTestId("board-appointments"),
  appointmentsBody: document.querySelector("[data-role='appointments-body']"),
  appointmentsEmpty: document.querySelector("[data-role='appointments-empty']"),
  banner: byTestId("connection-status"),
};

// A live line in the alerts block for the latest sla:alert (announced to screen readers).
el.alertsNews = document.createElement("p");
el.alertsNews.className = "alerts-news";
el.alertsNews.setAttribute("role", "alert");
el.alertsNews.dataset.role = "alerts-news";
el.alertsNews.hidden = true;
el.alertsEmpty.before(el.alertsNews);

/** What the page knows; render() derives everything visible from it. */
const view = {
  board: null, // last board:state
  boardAt: 0, // monotonic time it arrived
  pushes: 0, // board:state pushes received (a session:sync answer older than a push is dropped)
  news: null, // {count, until} after an sla:alert
  online: true,
};
let flashTimer = null;
let alertsKey = null; // what the alert list was built from (rebuilt only when it changes)
let appointmentsKey = null;

// ---------------------------------------------------------------- formatting

/** A whole number >= 0 from the payload, or null. */
function count(value) {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? Math.round(value) : null;
}

function finite(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** A wait in minutes:seconds, "2:05" (minutes are not capped at 59: "75:30"). */
export function formatWait(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** A share (0..1) as a percent with one decimal, the first number of the text; "—" when null. */
export function percentText(share) {
  const value = finite(share);
  if (value === null) return "—";
  const percent = (value * 100).toFixed(1);
  return getLang() === "fr" ? `${percent}\u00a0%` : `${percent}%`;
}

/** One decimal, the same in both languages (a dot, like the percents). */
function oneDecimal(value) {
  const v = finite(value);
  return v === null ? "?" : v.toFixed(1);
}

function countText(value) {
  const n = count(value);
  return n === null ? "—" : String(n);
}

/** The staffing line: GPs needed as its first number, then those on duty. */
export function staffingText(needed, onDuty) {
  if (needed === null) return "—";
  const on = onDuty === null ? "?" : onDuty;
  return t(needed <= 1 ? "board.staffing.needed_one" : "board.staffing.needed_many", { n: needed, on });
}

function minutesBetween(fromIso, toIso) {
  const from = Date.parse(fromIso || "");
  const to = Date.parse(toIso || "");
  return Number.isFinite(from) && Number.isFinite(to) ? Math.round((to - from) / 60000) : null;
}

function hourEndIso(iso) {
  const start = Date.parse(iso || "");
  return Number.isFinite(start) ? new Date(start + HOUR_MS).toISOString() : "";
}

// ---------------------------------------------------------------- rendering

function setValue(node, value) {
  const n = count(value);
  setText(node, n === null ? "—" : String(n));
  node.dataset.value = n === null ? "" : String(n);
  return n;
}

function flag(node, on, className = "warn") {
  if (node) node.classList.toggle(className, Boolean(on));
}

function renderOldestWait() {
  const board = view.board;
  const queue = (board && board.queue) || {};
  const oldest = finite(queue.oldest_wait_seconds);
  if (oldest === null) {
    setText(el.oldestWait, "—");
    el.oldestWait.dataset.seconds = "";
    return;
  }
  // The wait keeps growing between pushes while someone is queued.
  const elapsed = count(queue.size) ? (monotonicNow() - view.boardAt) / 1000 : 0;
  const seconds = Math.floor(oldest + Math.max(0, elapsed));
  setText(el.oldestWait, formatWait(seconds));
  el.oldestWait.dataset.seconds = String(seconds);
}

function renderServed(node, detail, window, target) {
  const served = window && typeof window === "object" ? window : {};
  const onTime = count(served.on_time);
  const total = count(served.total);
  const share = finite(served.share);
  setText(node, percentText(share));
  node.dataset.onTime = onTime === null ? "" : String(onTime);
  node.dataset.total = total === null ? "" : String(total);
  node.dataset.share = share === null ? "" : String(share);
  setText(detail, total ? t("board.served.detail", { on_time: onTime ?? "?", total }) : t("board.served.none"));
  flag(node.closest(".stat"), share !== null && share < target);
}

function renderAlerts(alerts) {
  const list = Array.isArray(alerts) ? alerts.filter((a) => a && typeof a === "object") : [];
  const key = `${getLang()}|${JSON.stringify(list)}`;
  if (key !== alertsKey) {
    alertsKey = key;
    el.alerts.replaceChildren(
      ...list.map((alert) => {
        const item = document.createElement("li");
        item.className = "board-alert";
        item.dataset.testid = "board-alert";
        item.dataset.requestId = alert.request_id || "";
        item.dataset.raisedAt = alert.raised_at || "";
        item.dataset.deadline = alert.deadline || "";
        item.dataset.predictedStart = alert.predicted_start || "";
        const raised = document.createElement("span");
        raised.className = "alert-raised";
        raised.textContent = t("board.alert.raised", { time: parisClock(alert.raised_at, { seconds: true }) });
        const deadline = document.createElement("span");
        deadline.className = "alert-deadline";
        deadline.textContent = t("board.alert.deadline", { time: parisClock(alert.deadline) });
        const start = document.createElement("span");
        start.className = "alert-start";
        if (alert.predicted_start) {
          const late = minutesBetween(alert.deadline, alert.predicted_start);
          start.textContent =
            late !== null && late > 0
              ? t("board.alert.start_late", { time: parisClock(alert.predicted_start), n: late })
              : t("board.alert.start", { time: parisClock(alert.predicted_start) });
        } else {
          start.textContent = t("board.alert.no_start");
          item.classList.add("no-gp");
        }
        const id = document.createElement("span");
        id.className = "alert-id";
        id.textContent = t("board.alert.request", { id: String(alert.request_id || "").slice(-6) || "?" });
        item.append(raised, deadline, start, id);
        return item;
      }),
    );
  }
  el.alerts.dataset.count = String(list.length);
  show(el.alertsEmpty, view.board !== null && list.length === 0);
}

function renderAppointments(hours) {
  const list = Array.isArray(hours) ? hours.filter((h) => h && typeof h === "object") : [];
  const key = `${getLang()}|${JSON.stringify(list)}`;
  if (key !== appointmentsKey) {
    appointmentsKey = key;
    el.appointmentsBody.replaceChildren(
      ...list.map((hour) => {
        const booked = count(hour.booked);
        const capacity = count(hour.capacity);
        const rostered = count(hour.rostered_gps);
        const row = document.createElement("tr");
        row.dataset.testid = "board-appointment-hour";
        row.dataset.hourStart = hour.hour_start || "";
        row.dataset.booked = booked === null ? "" : String(booked);
        row.dataset.capacity = capacity === null ? "" : String(capacity);
        row.dataset.rosteredGps = rostered === null ? "" : String(rostered);
        const full = booked !== null && capacity !== null && capacity > 0 && booked >= capacity;
        row.classList.toggle("full", full);
        row.classList.toggle("none", rostered === 0);
        const when = document.createElement("th");
        when.scope = "row";
        when.textContent = t("board.appointments.range", {
          from: parisClock(hour.hour_start),
          to: parisClock(hourEndIso(hour.hour_start)),
        });
        const load = document.createElement("td");
        load.textContent = t("board.appointments.load", { booked: countText(booked), capacity: countText(capacity) });
        if (full) load.textContent += ` · ${t("board.appointments.full")}`;
        const gps = document.createElement("td");
        gps.textContent = countText(rostered);
        row.append(when, load, gps);
        return row;
      }),
    );
  }
  show(el.appointmentsEmpty, view.board !== null && list.length === 0);
}

function render() {
  setConnectionBanner(el.banner, view.online);
  const board = view.board;
  if (!board) {
    setText(el.updated, t("board.waiting"));
    el.updated.dataset.at = "";
    renderAlerts([]);
    renderAppointments([]);
    renderNews();
    return;
  }

  setText(el.updated, t("board.updated", { time: parisClock(board.at, { seconds: true }) }));
  el.updated.dataset.at = board.at || "";

  const queue = board.queue && typeof board.queue === "object" ? board.queue : {};
  setValue(el.queueSize, queue.size);
  renderOldestWait();
  const atRisk = setValue(el.atRisk, queue.at_risk);
  flag(el.atRisk.closest(".stat"), atRisk !== null && atRisk > 0);
  const overdue = setValue(el.overdue, queue.overdue);
  flag(el.overdue.closest(".stat"), overdue !== null && overdue > 0);

  const staffing = board.staffing && typeof board.staffing === "object" ? board.staffing : {};
  const target = finite(staffing.target_share) ?? DEFAULT_TARGET_SHARE;
  const served = board.served_within_30 && typeof board.served_within_30 === "object" ? board.served_within_30 : {};
  renderServed(el.servedHour, el.servedHourDetail, served.hour, target);
  renderServed(el.servedDay, el.servedDayDetail, served.day, target);

  const breaches = board.breaches && typeof board.breaches === "object" ? board.breaches : {};
  const breachHour = count(breaches.hour);
  const breachDay = count(breaches.day);
  setText(el.breaches, t("board.breaches", { hour: countText(breachHour), day: countText(breachDay) }));
  el.breaches.dataset.hour = breachHour === null ? "" : String(breachHour);
  el.breaches.dataset.day = breachDay === null ? "" : String(breachDay);
  flag(el.breaches, breachHour !== null && breachHour > 0);

  const gps = board.gps && typeof board.gps === "object" ? board.gps : {};
  for (const [field] of GP_FIELDS) setValue(el.gps[field], gps[field]);

  const needed = count(staffing.gps_needed);
  const onDuty = count(staffing.gps_on_duty);
  setText(el.staffingNeeded, staffingText(needed, onDuty));
  el.staffingNeeded.dataset.needed = needed === null ? "" : String(needed);
  el.staffingNeeded.dataset.onDuty = onDuty === null ? "" : String(onDuty);
  flag(el.staffingCard, needed !== null && onDuty !== null && needed > onDuty);
  setText(
    el.staffingArrivals,
    t("board.staffing.arrivals", { rate: oneDecimal(staffing.arrivals_per_hour), minutes: oneDecimal(staffing.service_minutes) }),
  );
  el.staffingArrivals.dataset.rate = finite(staffing.arrivals_per_hour) === null ? "" : String(staffing.arrivals_per_hour);
  const within = finite(staffing.within_seconds);
  setText(
    el.staffingTarget,
    t("board.staffing.target", {
      share: Math.round(target * 100),
      minutes: within === null ? 30 : Math.round(within / 60),
    }),
  );

  renderAlerts(board.alerts);
  renderAppointments(board.appointments);
  renderNews();
}

function renderNews() {
  const news = view.news && monotonicNow() < view.news.until ? view.news : null;
  if (!news) view.news = null;
  setText(el.alertsNews, news ? t(news.count === 1 ? "board.news.one" : "board.news.many", { n: news.count }) : "");
  show(el.alertsNews, Boolean(news));
}

// ---------------------------------------------------------------- server events

function applyBoard(board) {
  if (!board || typeof board !== "object") return;
  view.board = board;
  view.boardAt = monotonicNow();
  render();
}

function onBoardState(payload) {
  view.pushes += 1;
  applyBoard(payload);
}

/** sla:alert: flash the alerts block (the board brings the alerts themselves within seconds). */
function onSlaAlert(payload) {
  const alerts = payload && Array.isArray(payload.alerts) ? payload.alerts : [];
  const n = count(payload && payload.count) || alerts.length || 1;
  view.news = { count: n, until: monotonicNow() + NEWS_MS };
  el.alertsCard.classList.remove("flash");
  void el.alertsCard.offsetWidth; // restart the animation
  el.alertsCard.classList.add("flash");
  el.alertsCard.dataset.flash = "on";
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => {
    el.alertsCard.classList.remove("flash");
    el.alertsCard.dataset.flash = "";
  }, FLASH_MS);
  renderNews();
}

/** After (re)connecting: the server pushes the board; session:sync asks for it too, in case. */
async function syncBoard() {
  const pushesBefore = view.pushes;
  try {
    const ack = await emitAck(SESSION_SYNC, {});
    if (view.pushes === pushesBefore && ack && ack.board) applyBoard(ack.board);
  } catch {
    // the push on connect is what counts; nothing to show for a failed sync
  }
}

onLangChange(render);

setInterval(() => {
  if (view.board && count(view.board.queue && view.board.queue.size)) renderOldestWait();
  if (view.news && monotonicNow() >= view.news.until) renderNews();
}, TICK_MS);

// ---------------------------------------------------------------- session

function enter() {
  Object.assign(view, { board: null, boardAt: 0, pushes: 0, news: null, online: true });
  alertsKey = null;
  appointmentsKey = null;
  render();
  openSocket({
    getToken: currentAccessToken,
    refreshToken: refreshSession,
    onSessionLost: () => app.signOut(t("error.session_lost"), "session_lost"),
    onStatus: (status) => {
      view.online = status === "online";
      render();
      if (view.online) syncBoard();
    },
    handlers: {
      [BOARD_STATE]: onBoardState,
      [SLA_ALERT]: onSlaAlert,
    },
  });
}

function leave() {
  closeSocket();
  view.board = null;
  view.news = null;
  render();
}

const app = bootPage({ requiredRole: "supervisor", wrongRoleKey: "error.wrong_role_supervisor", enter, leave });
