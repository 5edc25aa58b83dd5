// The traces list: latest start first, a page at a time, filtered by status, start (a preset such as the last
// hour, or a custom from and to), model, provider, tag, session and user, and searched (ids, names, labels).
// A column's header button sorts by it (duration, runs, tokens, cost; highest first, then lowest first); the
// collector does the sorting, so "load more" goes on in the same order, and unknown values come last either way.
// Its address holds the filters, the sort and how many rows are loaded (#/?model=gpt-4o&range=1h&sort=cost&n=150),
// and its history entry the scroll position and the row last opened: Back from a trace shows the list as it was
// left. A new sort or filter is a new history entry: Back returns to the view before it, and a shared link opens
// the same view. A preset range counts back from when the list is built (opened, a filter changed, Back to it)
// and stays put while the list updates live: new traces still come in at the top, none drops off the bottom.
// The keyboard moves through the rows (the table keeps the focus and names the active row with
// aria-activedescendant, so live updates that draw the rows again never drop it); Enter opens a trace.
import { api } from "./api.js";
import { addressChanged, badge, clear, clock, cost, duration, h, number, shownName } from "./dom.js";
import { PRESETS, moment } from "./range.js";

const STATUSES = [
  ["", "any status"],
  ["succeeded", "succeeded"],
  ["failed", "failed"],
  ["failures", "with a failed run"],
  ["canceled", "canceled"],
  ["skipped", "skipped"],
  ["running", "no status yet"],
];
// Start presets (range.js's, but "all": no range is the list's default): kept relative in the address
// (range=1h), counted back from when the list is built.
const RANGES = Object.fromEntries(
  PRESETS.filter(([, , span]) => span !== null).map(([key, , span, label]) => [key, [label, span]]),
);
// The labels a list filters by, as the collector names them; session and user may have thousands of values,
// so they are typed (their commonest values offered), the others chosen.
const LABELS = [
  ["model", "any model", "select"],
  ["provider", "any provider", "select"],
  ["tag", "any tag", "select"],
  ["session", "session", "input"],
  ["user", "user", "input"],
];
const LABEL_VALUES = 200; // values offered per label: the collector's most
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

// The address's form of a moment: UTC to the minute when that is all it holds (from=2026-12-07T09:30Z).
function written(ms) {
  return new Date(ms).toISOString().replace(":00.000Z", "Z");
}

// A datetime-local input holds local time without a zone: "2026-12-07T10:30".
function localInput(ms) {
  if (ms === null) return "";
  const local = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

function fromInput(value) {
  const ms = value ? new Date(value).getTime() : NaN; // no zone: the browser reads it as local time
  return Number.isFinite(ms) ? ms : null;
}

// What the address asks to see, with anything it does not know read as the default: latest start first, all.
function viewOf(asked) {
  const sort = Object.hasOwn(SORTS, asked.sort || "") ? asked.sort : "start";
  const range = Object.hasOwn(RANGES, asked.range || "") ? asked.range : "";
  const from = range ? null : moment(asked.from);
  const to = range ? null : moment(asked.to);
  // A status the list does not offer (a hand-edited address) is no filter, as an unknown sort is the default.
  const status = STATUSES.some(([value]) => value === asked.status) ? asked.status : "";
  const view = { status, text: asked.text || "", sort, dir: asked.dir === "asc" ? "asc" : "desc" };
  Object.assign(view, { range: range || (from !== null || to !== null ? "custom" : ""), from, to });
  for (const [kind] of LABELS) view[kind] = asked[kind] || "";
  return view;
}

// Whether a view narrows the list (the sort does not): what "clear filters" undoes.
function narrows(view) {
  return Boolean(view.status || view.text || view.from !== null || view.to !== null || RANGES[view.range]) ||
    LABELS.some(([kind]) => view[kind]);
}

export class TracesList {
  // asked: the address's filters (status, text, range, from, to, a value per label), sort, dir and rows (its n);
  // left: what the history entry kept (scroll, row).
  constructor(root, asked, left = null) {
    this.root = root;
    this.filters = viewOf(asked); // everything the collector is asked for but the page
    this.builtAt = Date.now(); // what a preset range counts back from
    this.offered = new Map(); // each label's commonest values, once fetched
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

  // Fresh or restored: as many rows as the address names (a page, unless "load more" was used); then the values
  // each label filter offers, which wait for the rows (they read more of the collector).
  async start() {
    await this.load(false, this.rows);
    await this.offerLabels();
  }

  async offerLabels() {
    const answers = await Promise.all(
      LABELS.map(([kind]) => api.labels(kind, LABEL_VALUES).then((answer) => answer.values, () => null)),
    );
    LABELS.forEach(([kind], index) => {
      if (answers[index]) this.offered.set(kind, answers[index]);
    });
    if (this.table.isConnected) this.showOffered();
  }

  // A select lists the values (the one chosen even when it is not among them); a typed label suggests them.
  showOffered() {
    for (const [kind, any, shape] of LABELS) {
      const { control, list } = this.labelControls.get(kind);
      const values = this.offered.get(kind) || [];
      const chosen = this.filters[kind];
      if (shape === "input") {
        clear(list, values.map(({ value, traces }) => h("option", { value }, `${number.format(traces)} traces`)));
        continue;
      }
      const options = values.map(({ value, traces }) => h("option", { value }, `${value} (${number.format(traces)})`));
      if (chosen && !values.some(({ value }) => value === chosen)) options.unshift(h("option", { value: chosen }, chosen));
      clear(control, h("option", { value: "" }, any), options);
      control.value = chosen;
    }
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
    const { range, from, to } = this.filters;
    if (this.filters.status) query.set("status", this.filters.status);
    if (this.filters.text) query.set("q", this.filters.text);
    if (RANGES[range]) query.set("range", range);
    if (from !== null) query.set("from", written(from));
    if (to !== null) query.set("to", written(to));
    for (const [kind] of LABELS) if (this.filters[kind]) query.set(kind, this.filters[kind]);
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
    addressChanged();
  }

  // The start range the collector is asked for: a preset counts back from when the list was built.
  span() {
    const { range, from, to } = this.filters;
    return RANGES[range] ? { from: this.builtAt - RANGES[range][1], to: null } : { from, to };
  }

  render() {
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
    this.bar = this.filterBar();
    clear(this.root, this.bar, this.problem, this.table, this.moreButton);
  }

  filterBar() {
    const status = h(
      "select",
      { "aria-label": "status", name: "status" },
      STATUSES.map(([value, label]) => h("option", { value }, label)),
    );
    status.value = this.filters.status;
    status.addEventListener("change", () => this.change(() => (this.filters.status = status.value)));
    const search = h("input", {
      type: "search",
      name: "q",
      placeholder: "search ids, names, models, tags, sessions, users",
      "aria-label": "search",
      autocomplete: "off",
    });
    search.value = this.filters.text;
    let pending = null;
    let typing = false; // the first change of a search is a history entry, the next keystrokes amend it
    search.addEventListener("focus", () => (typing = false));
    search.addEventListener("input", () => {
      clearTimeout(pending);
      pending = setTimeout(() => {
        this.change(() => (this.filters.text = search.value.trim()), !typing);
        typing = true;
      }, 250);
    });
    const range = h(
      "select",
      { "aria-label": "start", name: "range" },
      h("option", { value: "" }, "any time"),
      Object.entries(RANGES).map(([value, [label]]) => h("option", { value }, label)),
      h("option", { value: "custom" }, "custom…"),
    );
    range.value = this.filters.range;
    const from = h("input", { type: "datetime-local", name: "from", "aria-label": "started from" });
    const to = h("input", { type: "datetime-local", name: "to", "aria-label": "started before" });
    from.value = localInput(this.filters.from);
    to.value = localInput(this.filters.to);
    const custom = h("span", { class: "custom-range", hidden: this.filters.range !== "custom" }, from, " – ", to);
    range.addEventListener("change", () => {
      custom.hidden = range.value !== "custom";
      if (range.value !== "custom") {
        this.change(() => Object.assign(this.filters, { range: range.value, from: null, to: null }));
        return;
      }
      const since = this.span().from; // a preset in force becomes its custom range: the list stays as it is
      from.value = localInput(since);
      this.change(() => Object.assign(this.filters, { range: "custom", from: since, to: null }), since !== null);
    });
    for (const [input, edge] of [[from, "from"], [to, "to"]]) {
      input.addEventListener("change", () => this.change(() => (this.filters[edge] = fromInput(input.value))));
    }
    this.labelControls = new Map();
    const labels = LABELS.map(([kind, any, shape]) => {
      if (shape === "select") {
        const control = h("select", { name: kind, "aria-label": kind }, h("option", { value: "" }, any));
        control.addEventListener("change", () => this.change(() => (this.filters[kind] = control.value)));
        this.labelControls.set(kind, { control, list: null });
        return control;
      }
      const list = h("datalist", { id: `${kind}-values` });
      const control = h("input", {
        type: "text",
        name: kind,
        class: "label",
        list: list.id,
        placeholder: kind,
        "aria-label": kind,
        autocomplete: "off",
      });
      control.value = this.filters[kind];
      control.addEventListener("change", () => this.change(() => (this.filters[kind] = control.value.trim())));
      this.labelControls.set(kind, { control, list });
      return [control, list];
    });
    this.clearButton = h(
      "button",
      { type: "button", class: "clear-filters", hidden: !narrows(this.filters), onclick: () => this.clearFilters() },
      "clear filters",
    );
    // The search box last: Tab goes on from it to the table (its rows are one stop), past "clear filters".
    const bar = h("div", { class: "filters" }, status, range, custom, labels, search, this.clearButton, this.count);
    this.showOffered();
    return bar;
  }

  // Every filter off, the sort kept: a history entry, so Back brings them back.
  clearFilters() {
    this.change(() => Object.assign(this.filters, viewOf({ sort: this.filters.sort, dir: this.filters.dir })));
    const bar = this.filterBar();
    this.bar.replaceWith(bar);
    this.bar = bar;
    bar.querySelector("input[name=q]").focus();
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
    this.change(() => Object.assign(this.filters, { sort, dir }));
    this.showSort();
  }

  // A new view of the list: a new history entry (push), or the same one amended (a search being typed).
  change(apply, push = true) {
    if (push) this.remember(); // first: the entry left keeps its own address, rows, scroll and row
    apply();
    this.builtAt = Date.now();
    this.active = null;
    history[push ? "pushState" : "replaceState"](null, "", this.hash(0));
    addressChanged();
    this.clearButton.hidden = !narrows(this.filters);
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
        const page = await api.traces({ ...this.filters, ...this.span(), after, limit });
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
          h("a", { href, tabindex: "-1" }, shownName(trace.name)),
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
      const filtered = narrows(this.filters);
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
    if (!this.drawn) performance.mark("viewer:list-rows"); // the first rows: what a benchmark waits for
    this.drawn = true;
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
