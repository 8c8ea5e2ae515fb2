// Dates and clock times of the service, always in Europe/Paris (appointments are booked in Paris
// time, whatever the time zone of the computer showing them).

import { getLang, t } from "./i18n.js";

export const PARIS = "Europe/Paris";

const formatters = new Map();

function formatter(locale, options) {
  const key = `${locale}|${JSON.stringify(options)}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, { timeZone: PARIS, ...options });
    formatters.set(key, f);
  }
  return f;
}

function locale() {
  return getLang() === "fr" ? "fr-FR" : "en-GB";
}

function parse(iso) {
  const at = typeof iso === "string" ? Date.parse(iso) : NaN;
  return Number.isFinite(at) ? new Date(at) : null;
}

/** The Paris calendar date ("YYYY-MM-DD") at epoch milliseconds `ms`. */
export function parisDate(ms) {
  const parts = {};
  for (const part of formatter("en-CA", { year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(new Date(ms))) {
    parts[part.type] = part.value;
  }
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/** "YYYY-MM-DD" plus `days` calendar days. */
export function addDays(ymd, days) {
  const [y, m, d] = ymd.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** The Paris date of a server time (ISO 8601), or "" when unreadable. */
export function parisDateOf(iso) {
  const at = parse(iso);
  return at ? parisDate(at.getTime()) : "";
}

/** A server time as a Paris clock time "10:15" (with seconds "10:15:42" when asked), or "?". */
export function parisClock(iso, { seconds = false } = {}) {
  const at = parse(iso);
  if (!at) return t("time.unknown");
  const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (seconds) options.second = "2-digit";
  return formatter("en-GB", options).format(at);
}

/** "samedi 28 novembre à 10:15" / "Saturday 28 November at 10:15" (Paris time), or "?". */
export function parisDayAndTime(iso) {
  const at = parse(iso);
  if (!at) return t("time.unknown");
  const day = formatter(locale(), { weekday: "long", day: "numeric", month: "long" }).format(at);
  return t("when.day_at_time", { day, time: parisClock(iso) });
}
