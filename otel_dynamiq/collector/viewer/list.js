// The traces list: latest start first, filtered by status and by text in run names, a page at a time.
// A column's header button sorts by it (duration, runs, tokens, cost; highest first, then lowest first); the
// collector does the sorting, so "load more" goes on in the same order, and unknown values come last either way.
// Its address holds the filters, the sort and how many rows are loaded (#/?sort=cost&dir=asc&n=150), and its
// history entry the scroll position and the row last opened: Back from a trace shows the list as it was left.
// A new sort is a new history entry: Back returns to the order before it.
// The keyboard moves through the rows (the table keeps the focus and names the active row with
// aria-activedescendant, so live updates that draw the rows again never drop it); Enter opens a trace.
import { api } from "./api.js";
import { badge, clear, clock, cost, duration, h, number } from "./dom.js";

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
const MOST_RESTORED = 5000; // rows a hand-edited address may ask for again
const ROW_STEP = { ArrowDown: 1, ArrowUp: -1, PageDown: 10, PageUp: -10 };
// The collector's orders (its fixed list), each with what it reads as: highest first ("desc"), then lowest first.
const SORTS = {
  start: { desc: "latest start first", asc: "earliest start first" },
  duration: { desc: "longest first", asc: "shortest first" },
  runs: { desc: "most runs first", asc: "fewest runs first" },
  tokens: { desc: "most tokens first", asc: "fewest tokens first" },
  cost: { desc: "costliest first", asc: "cheapest first" },
};
const COLUMNS = [
  ["Name", null],
  ["Status", null],
  ["Start", "start"],
  ["Duration", "duration"],
  ["Runs", "runs"],
  ["Tokens", "tokens"],
  ["Cost", "cost"],
];

// Only these statuses become class names: any other text a run holds is its producer's, never a class.
const KNOWN_STATUSES = new Set(["succeeded", "failed", "skipped", "canceled"]);

export function statusBadge(status) {
  const kind = !status ? "running" : KNOWN_STATUSES.has(status) ? status : "other";
  return badge(status || "running", `status-${kind}`);
}

// How many rows the address asks for: a whole number, at least a page, at most what is worth loading again.
function restoredRows(text) {
  const rows = /^\d{1,6}$/.test(text || "") ? Number(text) : 0;
  return Math.min(MOST_RESTORED, Math.max(PAGE_SIZE, rows));
}

// What the address asks to see, with anything it does not know read as the default: latest start first.
function viewOf(asked) {
  const sort = Object.hasOwn(SORTS, asked.sort || "") ? asked.sort : "start";
  return { status: asked.status || "", text: asked.text || "", sort, dir: asked.dir === "asc" ? "asc" : "desc" };
}

export class TracesList {
  // asked: status, text, sort, dir and rows (the address's n); left: what the history entry kept (scroll, row).
  constructor(root, asked, left = null) {
    this.root = root;
    this.filters = viewOf(asked); // everything the collector is asked for but the page
    this.rows = restoredRows(asked.rows);
    this.left = left && Number.isFinite(left.scroll) ? left : null;
    this.traces = [];
    this.next = null;
    this.active = this.left && typeof this.left.active === "string" ? this.left.active : null;
    this.body = h("tbody");
    this.count = h("span", { class: "count" });
    this.moreButton = h("button", { class: "more", type: "button", hidden: true, onclick: () => this.loadMore() }, "load more");
    this.problem = h("p", { class: "problem", hidden: true });
    this.render();
    let pending = null;
    const scrolled = () => {
      if (!this.table.isConnected) {
        window.removeEventListener("scroll", scrolled);
        return;
      }
      clearTimeout(pending);
      pending = setTimeout(() => this.remember(), 150); // the browser limits how often an entry may change
    };
    window.addEventListener("scroll", scrolled, { passive: true });
  }

  // Fresh or restored: as many rows as the address names (a page, unless "load more" was used).
  start() {
    return this.load(false, this.rows);
  }

  async loadMore() {
    await this.load(true);
    this.remember();
  }

  // Whether this list is what an address asks for (Back to another sort builds the list again).
  shows(asked) {
    const view = viewOf(asked);
    return Object.keys(view).every((key) => view[key] === this.filters[key]);
  }

  hash(rows) {
    const query = new URLSearchParams();
    if (this.filters.status) query.set("status", this.filters.status);
    if (this.filters.text) query.set("q", this.filters.text);
    if (this.filters.sort !== "start" || this.filters.dir !== "desc") {
      query.set("sort", this.filters.sort);
      query.set("dir", this.filters.dir);
    }
    if (rows > PAGE_SIZE) query.set("n", String(rows));
    return `#/${query.toString() ? `?${query}` : ""}`;
  }

  // The list's own history entry: its rows in the address, its scroll position and active row in the state.
  remember() {
    if (!this.table.isConnected || location.hash.startsWith("#/trace/")) return; // a trace is shown now
    history.replaceState({ scroll: window.scrollY, active: this.active }, "", this.hash(this.traces.length));
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
    // A sortable column's header holds a button (Tab reaches it, Enter or Space sorts); the sorted one has aria-sort.
    this.headers = new Map();
    const headers = COLUMNS.map(([title, sort]) => {
      if (!sort) return h("th", { scope: "col" }, title);
      const button = h("button", { type: "button", class: "sort", onclick: () => this.sortBy(sort) }, title);
      const header = h("th", { scope: "col", class: sort === "start" ? null : "num", dataset: { sort } }, button);
      this.headers.set(sort, header);
      return header;
    });
    this.table = h(
      "table",
      { class: "traces", role: "grid", "aria-readonly": "true", tabindex: "0" },
      h("thead", null, h("tr", null, headers)),
      this.body,
    );
    this.showSort();
    this.table.addEventListener("keydown", (event) => this.key(event));
    clear(this.root, h("div", { class: "filters" }, select, search, this.count), this.problem, this.table, this.moreButton);
  }

  showSort() {
    const { sort, dir } = this.filters;
    for (const [key, header] of this.headers) {
      if (key === sort) header.setAttribute("aria-sort", dir === "asc" ? "ascending" : "descending");
      else header.removeAttribute("aria-sort");
      const next = key === sort && dir === "desc" ? "asc" : "desc";
      header.firstChild.title = `sort ${SORTS[key][next]}`;
    }
    this.table.setAttribute("aria-label", `traces, ${SORTS[sort][dir]}`);
  }

  // The first click on a column sorts it highest first, the next lowest first, and so on.
  sortBy(sort) {
    const dir = this.filters.sort === sort && this.filters.dir === "desc" ? "asc" : "desc";
    this.remember(); // the entry left keeps its rows, scroll and row: Back shows them again
    this.filters.sort = sort;
    this.filters.dir = dir;
    this.active = null;
    history.pushState(null, "", this.hash(0));
    this.showSort();
    this.load(false);
  }

  changed() {
    this.active = null;
    history.replaceState(null, "", this.hash(0));
    this.load(false);
  }

  // Up and down move a row, Page Up and Page Down ten, Home and End to the first and last; Enter opens.
  key(event) {
    if (event.target.closest("thead")) return; // a header's button takes its own keys (Enter sorts, not opens)
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (this.traces.length === 0) return;
    const index = this.traces.findIndex((trace) => trace.trace_id === this.active);
    let next;
    if (event.key in ROW_STEP) next = index === -1 ? 0 : index + ROW_STEP[event.key];
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = this.traces.length - 1;
    else if (event.key === "Enter" && index !== -1) {
      event.preventDefault();
      this.open(this.traces[index]);
      return;
    } else return;
    event.preventDefault();
    this.activate(this.traces[Math.max(0, Math.min(this.traces.length - 1, next))].trace_id, true);
  }

  activate(traceId, scroll) {
    this.active = traceId;
    let shown = null;
    for (const row of this.body.querySelectorAll("tr.trace-row")) {
      const isActive = row.dataset.traceId === traceId;
      row.classList.toggle("active", isActive);
      row.setAttribute("aria-selected", String(isActive));
      if (isActive) shown = row;
    }
    if (shown) this.table.setAttribute("aria-activedescendant", shown.id);
    else this.table.removeAttribute("aria-activedescendant");
    if (shown && scroll) shown.scrollIntoView({ block: "nearest" });
  }

  open(trace) {
    this.active = trace.trace_id;
    this.remember(); // before the trace's entry is pushed: Back comes here, scrolled as now
    location.hash = `#/trace/${encodeURIComponent(trace.trace_id)}`;
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
    const rows = this.traces.map((trace, index) => {
      const href = `#/trace/${encodeURIComponent(trace.trace_id)}`;
      const span = trace.end_ms !== null ? trace.end_ms - trace.start_ms : null;
      return h(
        "tr",
        {
          class: "trace-row",
          id: `trace-row-${index}`,
          "aria-selected": "false",
          dataset: { traceId: trace.trace_id, status: trace.status || "running" },
          onclick: (event) => {
            if (event.target.closest("a")) {
              this.active = trace.trace_id;
              this.remember(); // the link goes on to the trace by itself
            } else this.open(trace);
          },
        },
        h(
          "td",
          { class: "name" },
          // One stop for Tab, the table: its rows are reached with the arrow keys.
          h("a", { href, tabindex: "-1" }, trace.name || "(unnamed)"),
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
        h("td", { class: "num cost" }, cost(trace.cost_usd)), // empty when no run said what it cost
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
            { colspan: COLUMNS.length, class: "empty" },
            this.next
              ? "No match among the traces searched so far: load more to search further."
              : filtered
              ? "No trace matches these filters."
              : `No traces yet. Send runs here: OTEL_EXPORTER_DYNAMIQ_ENDPOINT=${location.origin}`,
          ),
        ),
      );
    }
    clear(this.body, rows);
    this.activate(this.traces.some((trace) => trace.trace_id === this.active) ? this.active : null, false);
    this.count.textContent = `${number.format(this.traces.length)} shown${this.next ? ", more below" : ""}`;
    this.moreButton.hidden = !this.next;
    if (this.left) this.restore();
  }

  // Back from a trace: the rows are drawn, so the page is tall enough to scroll where it was.
  restore() {
    const { scroll } = this.left;
    this.left = null;
    window.scrollTo(0, scroll);
    if (this.active !== null) {
      this.table.focus({ preventScroll: true });
      this.activate(this.active, false);
    }
  }

  refresh() {
    return this.load(false, this.traces.length);
  }
}
