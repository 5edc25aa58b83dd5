// The traces list: newest first, filtered by status and by text in run names, a page at a time.
import { api } from "./api.js";
import { badge, clear, clock, duration, h, number } from "./dom.js";

const STATUSES = [
  ["", "any status"],
  ["succeeded", "succeeded"],
  ["failed", "failed"],
  ["failures", "with a failed run"],
  ["canceled", "canceled"],
  ["skipped", "skipped"],
  ["running", "no status yet"],
];
const PAGE_SIZE = 50;
const MAX_PAGE = 200; // the collector's most traces per request

export function statusBadge(status) {
  return badge(status || "running", `status-${status || "running"}`);
}

export class TracesList {
  constructor(root, filters) {
    this.root = root;
    this.filters = { status: filters.status || "", text: filters.text || "" };
    this.traces = [];
    this.next = null;
    this.body = h("tbody");
    this.count = h("span", { class: "count" });
    this.moreButton = h("button", { class: "more", type: "button", hidden: true, onclick: () => this.load(true) }, "load more");
    this.problem = h("p", { class: "problem", hidden: true });
    this.render();
  }

  render() {
    const select = h(
      "select",
      { "aria-label": "status", name: "status" },
      STATUSES.map(([value, label]) => h("option", { value }, label)),
    );
    select.value = this.filters.status;
    select.addEventListener("change", () => {
      this.filters.status = select.value;
      this.changed();
    });
    const search = h("input", {
      type: "search",
      name: "q",
      placeholder: "filter by run name or trace id",
      "aria-label": "filter by name",
      autocomplete: "off",
    });
    search.value = this.filters.text;
    let pending = null;
    search.addEventListener("input", () => {
      clearTimeout(pending);
      pending = setTimeout(() => {
        this.filters.text = search.value.trim();
        this.changed();
      }, 250);
    });
    const table = h(
      "table",
      { class: "traces" },
      h(
        "thead",
        null,
        h("tr", null, ["Name", "Status", "Start", "Duration", "Runs", "Tokens"].map((title) => h("th", null, title))),
      ),
      this.body,
    );
    clear(this.root, h("div", { class: "filters" }, select, search, this.count), this.problem, table, this.moreButton);
  }

  changed() {
    const query = new URLSearchParams();
    if (this.filters.status) query.set("status", this.filters.status);
    if (this.filters.text) query.set("q", this.filters.text);
    const hash = `#/${query.toString() ? `?${query}` : ""}`;
    if (location.hash !== hash) history.replaceState(null, "", hash);
    this.load(false);
  }

  // Fresh: the first page; a live update: the first pages again, as many rows as are shown now; more: the next.
  async load(more, keep = 0) {
    const asked = JSON.stringify(this.filters);
    try {
      let traces = more ? this.traces : [];
      let after = more ? this.next : null;
      let next;
      do {
        const limit = more ? PAGE_SIZE : Math.min(MAX_PAGE, Math.max(PAGE_SIZE, keep - traces.length));
        const page = await api.traces({ ...this.filters, after, limit });
        if (asked !== JSON.stringify(this.filters)) return; // the filters changed meanwhile
        traces = traces.concat(page.traces);
        after = next = page.next;
      } while (!more && next && traces.length < keep);
      this.traces = traces;
      this.next = next;
      this.problem.hidden = true;
    } catch (error) {
      this.problem.textContent = `Could not load traces: ${error.message}`;
      this.problem.hidden = false;
      if (!more) this.moreButton.hidden = true; // nothing to continue from
      return;
    }
    this.fill();
  }

  fill() {
    const rows = this.traces.map((trace) => {
      const href = `#/trace/${encodeURIComponent(trace.trace_id)}`;
      const span = trace.end_ms !== null ? trace.end_ms - trace.start_ms : null;
      return h(
        "tr",
        {
          class: "trace-row",
          dataset: { traceId: trace.trace_id, status: trace.status || "running" },
          onclick: (event) => {
            if (!event.target.closest("a")) location.hash = href;
          },
        },
        h(
          "td",
          { class: "name" },
          h("a", { href }, trace.name || "(unnamed)"),
          h("span", { class: "id" }, trace.trace_id),
        ),
        h(
          "td",
          null,
          statusBadge(trace.status),
          trace.failures ? h("span", { class: "fail-count" }, ` ${trace.failures} failed`) : null,
        ),
        h("td", { class: "start" }, clock(trace.start_ms)),
        h("td", { class: "num" }, duration(span)),
        h("td", { class: "num runs" }, number.format(trace.run_count)),
        h("td", { class: "num tokens" }, trace.tokens === null ? "–" : number.format(trace.tokens)),
      );
    });
    if (rows.length === 0) {
      const filtered = this.filters.status || this.filters.text;
      rows.push(
        h(
          "tr",
          null,
          h(
            "td",
            { colspan: 6, class: "empty" },
            this.next
              ? "No match among the newest traces: load more to search further back."
              : filtered
              ? "No trace matches these filters."
              : `No traces yet. Send runs here: OTEL_EXPORTER_DYNAMIQ_ENDPOINT=${location.origin}`,
          ),
        ),
      );
    }
    clear(this.body, rows);
    this.count.textContent = `${number.format(this.traces.length)} shown${this.next ? ", more below" : ""}`;
    this.moreButton.hidden = !this.next;
  }

  refresh() {
    return this.load(false, this.traces.length);
  }
}
