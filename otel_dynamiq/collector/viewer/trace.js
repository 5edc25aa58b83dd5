// One trace: its totals, and a waterfall of its runs nested as the tree, durations to scale.
// The waterfall draws only the rows in view, so a trace of many thousands of runs scrolls like a short one.
// Its rows are drawn again whenever the view moves, so none of them ever holds the focus: the waterfall does,
// for good, and names the selected row with aria-activedescendant (a click, a fold, Enter or a live update
// would otherwise drop the focus with the row it was on, and the keys with it).
import { api } from "./api.js";
import { badge, clear, copyButton, cost, duration, h, number, shownName } from "./dom.js";
import { statusBadge } from "./list.js";
import { RunPanel } from "./run.js";

const ROW_HEIGHT = 26;
const OVERSCAN = 12;
const MAX_RUNS = 100000;

function buildTree(runs) {
  const byId = new Map(runs.map((run) => [run.id, run]));
  const children = new Map();
  const roots = [];
  for (const run of runs) {
    const parent = run.parent_run_id;
    if (parent && parent !== run.id && byId.has(parent)) {
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(run);
    } else roots.push(run);
  }
  return { byId, children, roots }; // runs arrive in start order, so every list is in start order too
}

function flatten(tree, collapsed) {
  const rows = [];
  const seen = new Set();
  const stack = tree.roots
    .slice()
    .reverse()
    .map((run) => [run, 0]);
  while (stack.length) {
    const [run, depth] = stack.pop();
    if (seen.has(run.id)) continue; // a parent cycle is drawn once
    seen.add(run.id);
    rows.push({ run, depth });
    const below = tree.children.get(run.id);
    if (below && !collapsed.has(run.id)) {
      for (let index = below.length - 1; index >= 0; index -= 1) stack.push([below[index], depth + 1]);
    }
  }
  return rows;
}

// The bar's colour by what the run is. Only these names become class names: a run's group is its
// producer's text ("llms kind-failed" would paint a succeeded run red).
const BAR_KINDS = new Set(["llms", "tools", "agents", "retrievers", "embedders", "rankers", "workflow", "flow", "node"]);

function barKind(run) {
  if (run.status === "failed") return "failed";
  if (run.status === "skipped") return "skipped";
  const kind = run.grp || run.type;
  return BAR_KINDS.has(kind) ? kind : "node";
}

export class TraceView {
  constructor(root, traceId) {
    this.root = root;
    this.traceId = traceId;
    this.runs = [];
    this.collapsed = new Set();
    this.selected = null;
    this.summary = null;
    this.totals = h("section", { class: "totals" }, "Loading…");
    this.axis = h("div", { class: "wf-axis" });
    this.spacer = h("div", { class: "wf-spacer" });
    this.scroller = h("div", { class: "wf-scroll", tabindex: "0", role: "tree", "aria-label": "runs" }, this.spacer);
    this.scroller.addEventListener("scroll", () => this.schedule());
    this.scroller.addEventListener("keydown", (event) => this.key(event));
    this.note = h("p", { class: "note", hidden: true });
    this.panel = new RunPanel(h("section", { class: "panel" }), (runId) => this.runName(runId));
    clear(
      root,
      this.totals,
      h(
        "div",
        { class: "split" },
        h("section", { class: "waterfall" }, h("div", { class: "wf-head" }, h("span", null, "Run"), this.axis), this.scroller, this.note),
        this.panel.root,
      ),
    );
    new ResizeObserver(() => this.schedule()).observe(this.scroller);
  }

  async load() {
    this.loading = true;
    try {
      await this.loadAll();
    } finally {
      this.loading = false;
    }
  }

  // Behind the collector: a live update has something to fetch (checked at every poll, so runs stored
  // while the trace was loading are fetched too).
  behind({ version, instance }) {
    return !this.loading && this.version !== undefined && (version !== this.version || instance !== this.instance);
  }

  async loadAll() {
    delete document.body.dataset.loadedTrace;
    let summary, page, version, instance;
    try {
      // The version first: runs stored while the pages load come again in the next update, never not at all.
      ({ version, instance } = await api.version());
      [summary, page] = await Promise.all([api.trace(this.traceId), api.runPage(this.traceId, null)]);
    } catch (error) {
      clear(this.totals, h("p", { class: "problem" }, `Could not load trace ${this.traceId}: ${error.message}`));
      return;
    }
    this.version = version;
    this.instance = instance;
    this.summary = summary;
    this.showTotals();
    const runs = page.runs;
    this.setRuns(runs);
    performance.mark("viewer:first-rows");
    let after = page.next;
    while (after && runs.length < MAX_RUNS) {
      page = await api.runPage(this.traceId, after);
      runs.push(...page.runs);
      after = page.next;
      this.setRuns(runs);
    }
    this.note.hidden = !after;
    this.note.textContent = after ? `Showing the first ${number.format(runs.length)} runs.` : "";
    performance.mark("viewer:trace-complete");
    document.body.dataset.loadedTrace = this.traceId; // what tests and benchmarks wait for
  }

  // A live update: when the trace changed, fetch only the runs stored since the last look and merge them in,
  // keeping the scroll position, the selection and the folded rows.
  async refresh({ version, instance }) {
    if (this.loading || this.version === undefined || !this.tree) return;
    let summary;
    try {
      summary = await api.trace(this.traceId);
    } catch (error) {
      if (error.status === 404) this.gone(); // a collector started again with an empty store
      return;
    }
    if (instance !== this.instance) {
      await this.load(); // the collector started again (with its file): everything may differ
      return;
    }
    const since = this.version;
    if (JSON.stringify(summary) === JSON.stringify(this.summary)) {
      this.version = version;
      return;
    }
    const changed = [];
    try {
      let after = null;
      do {
        const page = await api.runPage(this.traceId, after, since);
        changed.push(...page.runs);
        after = page.next;
      } while (after);
    } catch (error) {
      return; // the next poll tries again from the same version
    }
    this.version = version;
    this.summary = summary;
    this.showTotals();
    if (changed.length === 0) return;
    const byId = new Map(this.runs.map((run, index) => [run.id, index]));
    const runs = this.runs.slice();
    let added = false;
    for (const run of changed) {
      const index = byId.get(run.id);
      if (index === undefined) {
        byId.set(run.id, runs.length);
        runs.push(run);
        added = true;
      } else runs[index] = run;
    }
    if (added || changed.some((run) => run.start_ms !== this.tree.byId.get(run.id)?.start_ms)) {
      runs.sort((a, b) => a.start_ms - b.start_ms || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }
    this.setRuns(runs);
    if (this.selected && changed.some((run) => run.id === this.selected)) this.panel.show(this.selected);
  }

  gone() {
    this.runs = [];
    this.rows = [];
    this.tree = buildTree([]);
    this.spacer.style.height = "0px";
    clear(this.spacer);
    clear(this.totals, h("p", { class: "problem" }, `The collector no longer holds trace ${this.traceId}.`), h("a", { href: "#/", class: "back" }, "← traces"));
  }

  runName(runId) {
    const run = this.tree ? this.tree.byId.get(runId) : undefined;
    return run ? run.name : undefined;
  }

  // The sessions view lives at #/session/<id>: the trace's session (its root run's) links there.
  sessionLink() {
    const session = this.summary.session_id;
    if (!session) return null;
    return h("a", { class: "session", href: `#/session/${encodeURIComponent(session)}`, title: `session ${session}: its turns` }, "session ", h("span", { class: "id" }, session));
  }

  // Drawn again at each live update: a control that had the focus (the download, a copy button, the session
  // link) has it again in the new header, so the keyboard never falls back to the top of the page.
  showTotals() {
    const focused = this.totals.contains(document.activeElement) ? controlKey(document.activeElement) : null;
    this.drawTotals();
    if (focused) [...this.totals.querySelectorAll("a, button")].find((control) => controlKey(control) === focused)?.focus();
  }

  drawTotals() {
    const s = this.summary;
    const span = s.end_ms !== null ? s.end_ms - s.start_ms : null;
    const fact = (label, value, kind) => h("div", { class: `fact ${kind || ""}` }, h("span", { class: "label" }, label), h("span", { class: "value" }, value));
    clear(
      this.totals,
      h(
        "div",
        { class: "title" },
        h("a", { href: "#/", class: "back" }, "← traces"),
        h("h1", null, shownName(s.name)),
        statusBadge(s.status),
        this.sessionLink(),
        // The server names the file too (Content-Disposition): this name is for a browser that asks the link.
        h("a", { class: "download", href: api.downloadURL(s.trace_id), download: `trace-${s.trace_id}.json` }, "Download JSON"),
      ),
      h(
        "div",
        { class: "facts" },
        fact("duration", duration(span), "duration"),
        fact("runs", number.format(s.run_count), "runs"),
        fact("tokens", s.tokens === null ? "–" : number.format(s.tokens), "tokens"),
        cost(s.cost_usd) ? fact("cost", cost(s.cost_usd), "cost") : null,
        fact("failed runs", number.format(s.failures), s.failures ? "failures bad" : "failures"),
        fact("trace id", [h("span", { class: "id-text" }, s.trace_id), copyButton(s.trace_id, "trace id")], "trace-id"),
      ),
    );
    this.totals.querySelector(".tokens").title = "Sum of metadata.usage over the runs that carry it: each LLM call once";
  }

  setRuns(runs) {
    this.runs = runs;
    this.tree = buildTree(runs);
    this.start = Math.min(...runs.slice(0, 1).map((run) => run.start_ms), this.summary.start_ms ?? Infinity);
    let end = this.start;
    for (const run of runs) end = Math.max(end, run.end_ms ?? run.start_ms);
    this.span = Math.max(end - this.start, 0.001);
    this.rebuild();
    this.drawAxis();
  }

  rebuild() {
    this.rows = flatten(this.tree, this.collapsed);
    this.spacer.style.height = `${this.rows.length * ROW_HEIGHT}px`;
    this.drawn = null;
    this.draw();
  }

  drawAxis() {
    clear(
      this.axis,
      [0, 0.25, 0.5, 0.75, 1].map((share) =>
        h("span", { class: "tick", style: { left: `${share * 100}%` } }, duration(share * this.span)),
      ),
    );
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.draw();
    });
  }

  draw() {
    if (!this.rows) return;
    const top = this.scroller.scrollTop;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.rows.length, Math.ceil((top + this.scroller.clientHeight) / ROW_HEIGHT) + OVERSCAN);
    const key = `${first}:${last}:${this.selected}`;
    if (this.drawn === key) return;
    this.drawn = key;
    const rows = [];
    for (let index = first; index < last; index += 1) rows.push(this.row(this.rows[index], index));
    clear(this.spacer, rows);
    const selected = rows.find((row) => row.dataset.runId === this.selected);
    if (selected) this.scroller.setAttribute("aria-activedescendant", selected.id);
    else this.scroller.removeAttribute("aria-activedescendant");
  }

  fold(runId) {
    if (this.collapsed.has(runId)) this.collapsed.delete(runId);
    else this.collapsed.add(runId);
    this.rebuild();
  }

  row({ run, depth }, index) {
    const hasChildren = this.tree.children.has(run.id);
    const open = !this.collapsed.has(run.id);
    const startShare = ((run.start_ms - this.start) / this.span) * 100;
    const length = run.end_ms === null ? null : run.end_ms - run.start_ms;
    const widthShare = length === null ? 100 - startShare : (length / this.span) * 100;
    // Not a button: a click on it leaves the focus with the waterfall (the keys fold with Left and Right, and
    // the row says whether it is open).
    const toggle = hasChildren
      ? h("span", { class: "toggle folds", "aria-hidden": "true", title: open ? "fold" : "unfold", onclick: (event) => {
          event.stopPropagation();
          this.fold(run.id);
          this.scroller.focus({ preventScroll: true });
        } }, open ? "▾" : "▸")
      : h("span", { class: "toggle", "aria-hidden": "true" });
    const tip = `${shownName(run.name)} · ${duration(length)}${run.tokens !== null ? ` · ${number.format(run.tokens)} tokens` : ""}${run.error ? ` · ${run.error}` : ""}`;
    return h(
      "div",
      {
        class: `wf-row${run.id === this.selected ? " selected" : ""}${run.status === "failed" ? " failed" : ""}${run.status === "skipped" ? " skipped" : ""}`,
        style: { top: `${index * ROW_HEIGHT}px` },
        dataset: { runId: run.id },
        id: `wf-row-${index}`,
        role: "treeitem",
        "aria-level": String(depth + 1),
        "aria-selected": String(run.id === this.selected),
        "aria-expanded": hasChildren ? String(open) : null,
        title: tip,
        onclick: () => {
          this.select(run.id);
          this.scroller.focus({ preventScroll: true }); // a tap need not have focused it: the keys go here next
          this.reveal();
        },
      },
      h(
        "div",
        { class: "wf-name", style: { paddingLeft: `${depth * 14 + 4}px` } },
        toggle,
        h("span", { class: "run-name" }, shownName(run.name)),
        run.status === "skipped" ? badge("skipped", "status-skipped") : null,
        run.grp ? badge(run.grp, "group") : badge(run.type, "group"),
        run.tokens !== null ? h("span", { class: "row-tokens" }, `${number.format(run.tokens)} tok`) : null,
        this.usageMarker(run),
      ),
      h(
        "div",
        { class: "wf-track" },
        h("div", {
          class: `wf-bar kind-${barKind(run)}${length === null ? " open-ended" : ""}`,
          style: { left: `${Math.max(0, startShare)}%`, width: `max(2px, ${Math.max(0, widthShare)}%)` },
        }),
        h("span", { class: "wf-dur", style: { left: `${Math.min(100, Math.max(0, startShare + widthShare))}%` } }, duration(length)),
      ),
    );
  }

  // A run whose tokens are counted in another run (the node that made the call) or that only adds up the calls
  // below it says so in place of a count: its tokens are never shown as if they were added to the trace's.
  usageMarker(run) {
    if (run.usage_aggregate) {
      return h("span", { class: "usage-note aggregate", title: "usage: the total of the calls below, each counted in its own run" }, "usage of calls below");
    }
    if (!run.usage_counted_in) return null;
    const where = this.runName(run.usage_counted_in) ?? "another run";
    const text = run.usage_counted_in === run.parent_run_id ? "usage in parent" : "usage elsewhere";
    return h("span", { class: "usage-note", title: `usage counted in ${where}` }, text);
  }

  // A narrow window shows the panel below the timeline: bring it into view once it is drawn (the page may be too
  // short to scroll until then). After a click or tap on a row, and for a run named in the address.
  reveal() {
    if (!matchMedia("(max-width: 760px)").matches) return;
    Promise.resolve(this.panel.shown).then(() => this.panel.root.scrollIntoView({ block: "start" }));
  }

  select(runId, scroll = false) {
    if (runId !== this.selected) {
      history.replaceState(null, "", `#/trace/${encodeURIComponent(this.traceId)}/run/${encodeURIComponent(runId)}`);
      this.selected = runId;
      this.panel.show(runId);
    }
    if (scroll) {
      const index = this.rows ? this.rows.findIndex((row) => row.run.id === runId) : -1;
      if (index >= 0) this.scroller.scrollTop = Math.max(0, index * ROW_HEIGHT - this.scroller.clientHeight / 3);
    }
    this.drawn = null;
    this.draw();
  }

  // Up and down move the selection, Home and End to the first and last row; left folds the selected run
  // (or goes to its parent), right unfolds it; Enter or Space selects the first row when none is.
  key(event) {
    if (!this.rows || this.rows.length === 0 || event.altKey || event.ctrlKey || event.metaKey) return;
    const index = this.rows.findIndex((row) => row.run.id === this.selected);
    const selected = index >= 0 ? this.rows[index].run : null;
    let next = null;
    if (event.key === "Enter" || event.key === " ") next = Math.max(0, index);
    else if (event.key === "ArrowDown") next = Math.min(this.rows.length - 1, index + 1);
    else if (event.key === "ArrowUp") next = Math.max(0, index - 1);
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = this.rows.length - 1;
    else if ((event.key === "ArrowLeft" || event.key === "ArrowRight") && selected) {
      const folds = this.tree.children.has(selected.id);
      if (folds && this.collapsed.has(selected.id) === (event.key === "ArrowRight")) this.fold(selected.id);
      else if (event.key === "ArrowLeft" && this.tree.byId.has(selected.parent_run_id)) {
        this.select(selected.parent_run_id, true);
      }
      event.preventDefault();
      return;
    } else return;
    event.preventDefault();
    this.select(this.rows[next].run.id, true);
  }
}

// What tells a header control from the others across a redraw: its kind, its class and its label.
function controlKey(element) {
  return `${element.tagName}|${element.classList[0] || ""}|${element.getAttribute("aria-label") || ""}`;
}
