// The time range the sessions list and the overview cover: a preset reaching back from now (its end moves
// with the clock, so a live page keeps showing the last 24 hours), or a fixed from/to the address names, as
// the traces list's may. It lives in the address (#/overview?range=7d, #/sessions?from=…&to=…).
import { h } from "./dom.js";

// The presets of every page that takes a range: [key, button label, span, the traces list's option label].
// One table, so a range carried from one page to another means the same; "all" is the list with no range.
export const PRESETS = [
  ["15m", "15 min", 15 * 60000, "last 15 min"],
  ["1h", "1 h", 3600000, "last hour"],
  ["24h", "24 h", 86400000, "last 24 h"],
  ["7d", "7 d", 7 * 86400000, "last 7 days"],
  ["30d", "30 d", 30 * 86400000, "last 30 days"],
  ["all", "all", null, null],
];
const SPANS = new Map(PRESETS.map(([key, , span]) => [key, span]));

// A moment in the address: epoch milliseconds, or a date and time Date.parse reads (2026-12-07T09:30Z), as
// the traces list writes it; anything else is none.
export function moment(text) {
  if (!text) return null;
  const ms = /^\d{1,15}(\.\d+)?$/.test(text) ? Number(text) : Date.parse(text);
  return Number.isFinite(ms) && ms >= 0 && ms < 253402300800000 ? ms : null;
}

// What the address asks for: its from/to if it names either, else its preset, else the page's own default.
export function rangeOf(params, fallback) {
  const from = moment(params.get("from"));
  const to = moment(params.get("to"));
  if (from !== null || to !== null) return { preset: null, from, to };
  const preset = params.get("range");
  return { preset: SPANS.has(preset) ? preset : fallback, from: null, to: null };
}

export function sameRange(one, other) {
  return one.preset === other.preset && one.from === other.from && one.to === other.to;
}

// The range in milliseconds now; a preset's end is left open unless asked for (the overview's axis ends now).
export function boundsOf(range, closeAtNow = false) {
  if (range.preset === null) return { from: range.from, to: range.to };
  const span = SPANS.get(range.preset);
  if (span === null) return { from: null, to: null };
  const now = Date.now();
  return { from: now - span, to: closeAtNow ? now : null };
}

// The range as address parameters: what a link to another page keeps.
export function rangeParams(range, fallback) {
  const query = new URLSearchParams();
  if (range.preset === null) {
    if (range.from !== null) query.set("from", String(range.from));
    if (range.to !== null) query.set("to", String(range.to));
  } else if (range.preset !== fallback) query.set("range", range.preset);
  return query;
}

// A button per preset (the chosen one pressed); a fixed range the address named shows as pressed too.
export function rangePicker(range, choose) {
  const buttons = PRESETS.map(([key, label]) =>
    h("button", { type: "button", class: "preset", "aria-pressed": String(range.preset === key), onclick: () => choose(key) }, label),
  );
  if (range.preset === null) {
    const from = range.from === null ? "…" : new Date(range.from).toLocaleString();
    const to = range.to === null ? "now" : new Date(range.to).toLocaleString();
    buttons.push(h("button", { type: "button", class: "preset", "aria-pressed": "true", disabled: true }, `${from} – ${to}`));
  }
  return h("div", { class: "range", role: "group", "aria-label": "time range" }, buttons);
}
