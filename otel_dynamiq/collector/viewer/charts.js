// Small charts drawn as SVG: bars and lines over time buckets, and bars by name.
// No chart library: the viewer has no build step and fetches nothing (a library would be a vendored file
// to keep current, or a download), and its policy runs only its own scripts and styles, which many chart
// libraries break by writing style attributes. Every element is made with createElementNS and
// setAttribute, every label is a text node, and every colour comes from a class in style.css, so a theme
// (dark mode) restyles the charts with the rest of the page.
// Each chart is an image with a title and a summary for a screen reader, and its numbers are a table one
// click away ("numbers"): what a reader who cannot see the bars gets, and what the tests read.
import { h, number, plainDigits, visible } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 200;
const LEFT = 64;
const RIGHT = 12;
const TOP = 12;
const BOTTOM = 26;
let charts = 0; // ids for aria-labelledby, unique in the page

function svg(tag, attributes, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value !== null && value !== undefined) element.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) element.append(typeof child === "string" ? visible(child) : child);
  }
  return element;
}

// The axis's top: the largest value rounded up to 1, 2 or 5 times a power of ten.
export function niceCeiling(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

// A bucket's start, as precise as its width needs: a date for days, a time (and the date once) for hours.
export function bucketLabel(ms, widthMs) {
  const options = widthMs >= 86400000 ? { month: "short", day: "numeric" } : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
  if (widthMs < 60000) options.second = "2-digit";
  return new Date(ms).toLocaleString(undefined, options);
}

function frame(title, summary) {
  charts += 1;
  const titleId = `chart-${charts}-title`;
  const descId = `chart-${charts}-desc`;
  const image = svg(
    "svg",
    { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-labelledby": `${titleId} ${descId}`, class: "plot" },
    svg("title", { id: titleId }, title),
    svg("desc", { id: descId }, summary),
  );
  return image;
}

// Gridlines and labels at 0, half and the top of the value axis.
function valueAxis(image, top, format) {
  const plotHeight = HEIGHT - TOP - BOTTOM;
  for (const share of [0, 0.5, 1]) {
    const y = TOP + plotHeight * (1 - share);
    image.append(
      svg("line", { class: "grid", x1: LEFT, x2: WIDTH - RIGHT, y1: y, y2: y }),
      svg("text", { class: "axis", x: LEFT - 6, y: y + 4, "text-anchor": "end" }, format(top * share)),
    );
  }
}

// Labels under the first, middle and last bucket.
function timeAxis(image, buckets, widthMs, slot) {
  const picks = [...new Set([0, Math.floor((buckets.length - 1) / 2), buckets.length - 1])];
  for (const index of picks) {
    const anchor = index === 0 ? "start" : index === buckets.length - 1 ? "end" : "middle";
    const x = anchor === "start" ? LEFT + index * slot : anchor === "end" ? LEFT + (index + 1) * slot : LEFT + (index + 0.5) * slot;
    image.append(svg("text", { class: "axis", x, y: HEIGHT - 8, "text-anchor": anchor }, bucketLabel(buckets[index].start, widthMs)));
  }
}

function numbersTable(caption, buckets, widthMs, series) {
  const rows = buckets.map((bucket) =>
    h(
      "tr",
      { dataset: { start: String(bucket.start) } },
      h("th", { scope: "row" }, bucketLabel(bucket.start, widthMs)),
      series.map((line) => h("td", { class: `num ${line.key}` }, line.format(bucket[line.key]))),
    ),
  );
  return h(
    "details",
    { class: "numbers" },
    h("summary", null, "numbers"),
    h(
      "table",
      null,
      h("caption", null, caption),
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "from"), series.map((line) => h("th", { scope: "col", class: "num" }, line.label)))),
      h("tbody", null, rows),
    ),
  );
}

function legend(series) {
  return h(
    "ul",
    { class: "legend", "aria-hidden": "true" }, // the table and the image's title say the same in words
    series.map((line) => h("li", null, h("span", { class: `swatch series-${line.key}` }), line.label)),
  );
}

function figure(title, image, series, table) {
  return h("figure", { class: "chart" }, h("figcaption", null, h("h2", null, title), legend(series)), image, table);
}

// The busiest bucket, in words: what the image's summary says beside its range.
function peak(buckets, key, widthMs, format) {
  let best = null;
  for (const bucket of buckets) if (bucket[key] !== null && (best === null || bucket[key] > best[key])) best = bucket;
  return best && best[key] > 0 ? `; most ${format(best[key])} from ${bucketLabel(best.start, widthMs)}` : "; none";
}

function describe(buckets, widthMs, series) {
  const span = `${buckets.length} buckets from ${bucketLabel(buckets[0].start, widthMs)}`;
  return span + series.map((line) => ` ${line.label}${peak(buckets, line.key, widthMs, line.format)}.`).join("");
}

// A chart over the buckets: its frame, its value axis from 0 to a round number over the largest value, and
// its time axis; draw(image, place) adds the marks, place(index, value) giving a bucket's x (its left edge),
// its slot's width and the value's y.
function timeChart({ title, buckets, widthMs, series, axisFormat }, draw) {
  if (buckets.length === 0) {
    return h("figure", { class: "chart empty" }, h("figcaption", null, h("h2", null, title)), h("p", { class: "note" }, "Nothing in this range."));
  }
  const image = frame(title, describe(buckets, widthMs, series));
  const top = niceCeiling(Math.max(0, ...buckets.flatMap((bucket) => series.map((line) => bucket[line.key] || 0))));
  valueAxis(image, top, axisFormat || series[0].format);
  const slot = (WIDTH - LEFT - RIGHT) / buckets.length;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const place = (index, value) => ({ x: LEFT + index * slot, slot, y: TOP + plotHeight * (1 - Math.min(1, Math.max(0, value) / top)) });
  draw(image, place);
  timeAxis(image, buckets, widthMs, slot);
  return figure(title, image, series, numbersTable(title, buckets, widthMs, series));
}

// Bars per bucket; later series are drawn over earlier ones from the same baseline (errors over traces).
// series: [{ key, label, format }], each key a number in every bucket.
export function barChart(chart) {
  const { buckets, widthMs, series } = chart;
  return timeChart(chart, (image, place) => {
    const baseline = place(0, 0).y;
    buckets.forEach((bucket, index) => {
      for (const line of series) {
        const value = bucket[line.key] || 0;
        if (value <= 0) continue;
        const { x, slot, y } = place(index, value);
        const height = Math.max(1, baseline - y);
        image.append(
          svg(
            "rect",
            { class: `bar series-${line.key}`, x: x + slot * 0.1, width: Math.max(1, slot * 0.8), y: baseline - height, height },
            svg("title", null, `${bucketLabel(bucket.start, widthMs)}: ${line.format(value)} ${line.label}`),
          ),
        );
      }
    });
  });
}

// Lines through the buckets' values; a bucket without one (null) breaks the line.
export function lineChart(chart) {
  const { buckets, widthMs, series } = chart;
  return timeChart(chart, (image, place) => {
    for (const line of series) {
      let path = "";
      let joined = false;
      buckets.forEach((bucket, index) => {
        const value = bucket[line.key];
        if (value === null || value === undefined) {
          joined = false;
          return;
        }
        const { x: left, slot, y } = place(index, value);
        const x = left + slot / 2;
        path += `${joined ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`;
        joined = true;
        image.append(svg("circle", { class: `point series-${line.key}`, cx: x, cy: y, r: 2.5 }, svg("title", null, `${bucketLabel(bucket.start, widthMs)}: ${line.label} ${line.format(value)}`)));
      });
      if (path) image.append(svg("path", { class: `line series-${line.key}`, d: path }));
    }
  });
}

// One horizontal bar per row, longest first as given: rows [{ label, value }].
export function namedBars({ title, rows, key, label, format }) {
  const height = 22 * rows.length + 8;
  charts += 1;
  const titleId = `chart-${charts}-title`;
  const image = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, role: "img", "aria-labelledby": titleId, class: `plot named` }, svg("title", { id: titleId }, title));
  const most = Math.max(0, ...rows.map((row) => row.value)) || 1;
  const left = 180;
  rows.forEach((row, index) => {
    const y = 4 + index * 22;
    const width = Math.max(row.value > 0 ? 1 : 0, ((WIDTH - left - 90) * row.value) / most);
    image.append(
      svg("text", { class: "axis name", x: left - 8, y: y + 14, "text-anchor": "end" }, row.label.length > 28 ? `${row.label.slice(0, 27)}…` : row.label),
      svg("rect", { class: `bar series-${key}`, x: left, y: y + 3, width, height: 14 }, svg("title", null, `${row.label}: ${format(row.value)} ${label}`)),
      svg("text", { class: "axis", x: left + width + 6, y: y + 14 }, format(row.value)),
    );
  });
  return image;
}

export const formats = {
  count: (value) => number.format(value || 0),
  ms: (value) => (value === null || value === undefined ? "–" : value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(value < 10000 ? 2 : 1)} s`),
  usd: (value) => {
    if (!value) return "$0";
    const shown = Number(value.toPrecision(2)); // 0.00999 rounds to 0.010, and is written as a cent is
    return shown < 0.01 ? `$${plainDigits(shown, 2)}` : `$${shown.toFixed(2)}`;
  },
};
