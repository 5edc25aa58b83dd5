// The overview (#/overview): over a time range, traces and those with a failed run, the p50 and p95 of
// their durations, their tokens and cost, per bucket of about 60 across the range, and model calls by model.
// The collector counts it all; the page draws it (charts.js).
import { api } from "./api.js";
import { clear, cost, h, number } from "./dom.js";
import { barChart, formats, lineChart, namedBars } from "./charts.js";
import { boundsOf, rangeOf, rangeParams, rangePicker, sameRange } from "./range.js";

const BUCKETS = 60;
const DEFAULT_RANGE = "24h";

export function overviewAsked(params) {
  return { range: rangeOf(params, DEFAULT_RANGE) };
}

function fact(label, value, kind) {
  return h("div", { class: `fact ${kind || ""}` }, h("span", { class: "label" }, label), h("span", { class: "value" }, value));
}

export class Overview {
  constructor(root, asked) {
    this.root = root;
    this.asked = asked;
    this.facts = h("div", { class: "facts" });
    this.charts = h("div", { class: "charts" }, h("p", { class: "empty" }, "Loading…"));
    this.problem = h("p", { class: "problem", hidden: true });
    clear(
      root,
      h(
        "section",
        { class: "totals" },
        h("div", { class: "title" }, h("h1", null, "Overview"), rangePicker(asked.range, (preset) => this.go(preset))),
        this.facts,
      ),
      this.problem,
      this.charts,
    );
  }

  shows(asked) {
    return sameRange(asked.range, this.asked.range);
  }

  go(preset) {
    const query = rangeParams({ preset, from: null, to: null }, DEFAULT_RANGE);
    location.hash = `#/overview${query.toString() ? `?${query}` : ""}`;
  }

  start() {
    return this.load();
  }

  refresh() {
    return this.load();
  }

  async load() {
    const { from, to } = boundsOf(this.asked.range, true);
    let answer;
    try {
      answer = await api.overview({ from, to, buckets: BUCKETS });
      this.problem.hidden = true;
    } catch (error) {
      this.problem.textContent = `Could not load the overview: ${error.message}`;
      this.problem.hidden = false;
      return;
    }
    this.draw(answer);
    performance.mark("viewer:overview-shown");
    document.body.dataset.loadedView = "overview";
  }

  draw(answer) {
    const { totals, buckets, models } = answer;
    const widthMs = answer.bucket_ms;
    clear(
      this.facts,
      fact("Traces", number.format(totals.traces), "traces"),
      fact("With a failed run", number.format(totals.errors), totals.errors ? "errors bad" : "errors"),
      fact("p50 duration", formats.ms(totals.p50_ms), "p50"),
      fact("p95 duration", formats.ms(totals.p95_ms), "p95"),
      fact("Tokens", number.format(totals.tokens), "tokens"),
      fact("Cost", cost(totals.cost_usd) || "$0", "cost"),
    );
    const traces = { key: "traces", label: "traces", format: formats.count };
    const errors = { key: "errors", label: "with a failed run", format: formats.count };
    const charts = [
      barChart({ title: "Traces and failures", buckets, widthMs, series: [traces, errors] }),
      lineChart({
        title: "Duration, p50 and p95",
        buckets,
        widthMs,
        series: [
          { key: "p50_ms", label: "p50", format: formats.ms },
          { key: "p95_ms", label: "p95", format: formats.ms },
        ],
      }),
      barChart({ title: "Tokens", buckets, widthMs, series: [{ key: "tokens", label: "tokens", format: formats.count }] }),
      barChart({ title: "Cost", buckets, widthMs, series: [{ key: "cost_usd", label: "cost", format: formats.usd }] }),
    ];
    clear(this.charts, charts, this.modelsSection(models));
  }

  modelsSection(models) {
    const title = "Model calls by model";
    if (models.length === 0) {
      return h("figure", { class: "chart models" }, h("figcaption", null, h("h2", null, title)), h("p", { class: "note" }, "No model call reported usage in this range."));
    }
    const name = (line) => (line.model === null ? "(other models)" : line.model);
    const rows = models.map((line) =>
      h(
        "tr",
        { class: "model-row" },
        h("th", { scope: "row", class: "model" }, name(line)),
        h("td", { class: "num calls" }, number.format(line.calls)),
        h("td", { class: "num tokens" }, number.format(line.tokens)),
        h("td", { class: "num cost" }, cost(line.cost_usd) || "$0"),
      ),
    );
    return h(
      "figure",
      { class: "chart models" },
      h("figcaption", null, h("h2", null, title)),
      namedBars({ title: `${title}: calls`, rows: models.map((line) => ({ label: name(line), value: line.calls })), key: "calls", label: "calls", format: formats.count }),
      h(
        "table",
        { class: "models" },
        h("caption", null, "Calls: runs naming a model that carry usage, each call once"),
        h("thead", null, h("tr", null, h("th", { scope: "col" }, "Model"), ["Calls", "Tokens", "Cost"].map((label) => h("th", { scope: "col", class: "num" }, label)))),
        h("tbody", null, rows),
      ),
    );
  }
}
