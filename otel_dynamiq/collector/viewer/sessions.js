// Sessions: the list (#/sessions), the latest activity first, and one session's turns (#/session/<id>), oldest
// first and numbered, each with what its root was asked and answered. Both come a page at a time from the
// collector, which keeps each session's totals as its traces arrive: neither page adds anything up itself.
import { api } from "./api.js";
import { clear, clock, cost, duration, h, number, shownName } from "./dom.js";
import { statusBadge } from "./list.js";
import { boundsOf, rangeOf, rangeParams, rangePicker, sameRange } from "./range.js";

const PAGE_SIZE = 50;
const MAX_PAGE = 200; // the collector's most sessions per request
const TURNS_PAGE = 50;
const MAX_TURNS_PAGE = 100; // the collector's most turns per request

const sessionHref = (sessionId) => `#/session/${encodeURIComponent(sessionId)}`;
const traceHref = (traceId) => `#/trace/${encodeURIComponent(traceId)}`;
const tokens = (value) => (value === null || value === undefined ? "–" : number.format(value));

// Fresh: the first page; a live update: pages again until as many rows as are shown (keep); more: the next.
// fetchPage(after, limit) answers { items, next, ... }; the last page's answer comes back with the items.
async function pages(fetchPage, { shown, next, more, keep, size, most }) {
  let items = more ? shown : [];
  let after = more ? next : null;
  let last;
  do {
    const limit = more ? size : Math.min(most, Math.max(size, keep - items.length));
    last = await fetchPage(after, limit);
    items = items.concat(last.items);
    after = last.next;
  } while (!more && after && items.length < keep);
  return { items, next: after, last };
}

function fact(label, value, kind) {
  return h("div", { class: `fact ${kind || ""}` }, h("span", { class: "label" }, label), h("span", { class: "value" }, value));
}

// What the address asks of the list: a range (all by default) and maybe a user.
export function sessionsAsked(params) {
  return { range: rangeOf(params, "all"), user: params.get("user") || "" };
}

export class SessionsList {
  constructor(root, asked) {
    this.root = root;
    this.asked = asked;
    this.sessions = [];
    this.next = null;
    this.body = h("tbody");
    this.count = h("span", { class: "count" });
    this.problem = h("p", { class: "problem", hidden: true });
    this.moreButton = h("button", { class: "more", type: "button", hidden: true, onclick: () => this.load(true) }, "load more");
    this.users = h("select", { name: "user", "aria-label": "user" }, h("option", { value: "" }, "any user"));
    if (asked.user) this.users.append(h("option", { value: asked.user }, asked.user));
    this.users.value = asked.user;
    this.users.addEventListener("change", () => this.go({ user: this.users.value }));
    const headers = [
      ["Session", null],
      ["Turns", "num"],
      ["First start", null],
      ["Last start", null],
      ["Duration", "num", "the turns' durations added up"],
      ["Runs", "num"],
      ["Tokens", "num"],
      ["Cost", "num"],
      ["Failed turns", "num", "turns with a failed run"],
    ];
    this.table = h(
      "table",
      { class: "sessions", "aria-label": "sessions, latest activity first" },
      h("thead", null, h("tr", null, headers.map(([title, kind, says]) => h("th", { scope: "col", class: kind, title: says }, title)))),
      this.body,
    );
    clear(
      root,
      h("div", { class: "filters" }, rangePicker(asked.range, (preset) => this.go({ range: { preset, from: null, to: null } })), this.users, this.count),
      this.problem,
      this.table,
      this.moreButton,
    );
    this.offerUsers();
  }

  shows(asked) {
    return sameRange(asked.range, this.asked.range) && asked.user === this.asked.user;
  }

  // Another range or user is another address: Back returns to this one.
  go(change) {
    const next = { ...this.asked, ...change };
    const query = rangeParams(next.range, "all");
    if (next.user) query.set("user", next.user);
    location.hash = `#/sessions${query.toString() ? `?${query}` : ""}`;
  }

  async offerUsers() {
    try {
      const { values } = await api.labels("user", 100);
      for (const { value } of values) if (value !== this.asked.user) this.users.append(h("option", { value }, value));
    } catch (error) {
      // the list works without the choice of user
    }
  }

  start() {
    return this.load(false);
  }

  refresh() {
    return this.load(false, this.sessions.length);
  }

  // Fresh: the first page; a live update: as many rows as are shown again; more: the next page.
  async load(more, keep = 0) {
    const { from, to } = boundsOf(this.asked.range);
    const fetchPage = async (after, limit) => {
      const page = await api.sessions({ from, to, user: this.asked.user, after, limit });
      return { items: page.sessions, next: page.next };
    };
    try {
      const loaded = await pages(fetchPage, { shown: this.sessions, next: this.next, more, keep, size: PAGE_SIZE, most: MAX_PAGE });
      this.sessions = loaded.items;
      this.next = loaded.next;
      this.problem.hidden = true;
    } catch (error) {
      this.problem.textContent = `Could not load sessions: ${error.message}`;
      this.problem.hidden = false;
      return;
    }
    this.fill();
    performance.mark("viewer:sessions-shown");
    document.body.dataset.loadedView = "sessions"; // what tests and the benchmark wait for
  }

  fill() {
    const rows = this.sessions.map((session) =>
      h(
        "tr",
        { class: "session-row", dataset: { sessionId: session.session_id } },
        h("td", { class: "name" }, h("a", { href: sessionHref(session.session_id) }, session.session_id)),
        h("td", { class: "num turns" }, number.format(session.turns)),
        h("td", { class: "start first" }, clock(session.first_start_ms)),
        h("td", { class: "start last" }, clock(session.last_start_ms)),
        h("td", { class: "num duration" }, duration(session.duration_ms)),
        h("td", { class: "num runs" }, number.format(session.runs)),
        h("td", { class: "num tokens" }, tokens(session.tokens)),
        h("td", { class: "num cost" }, cost(session.cost_usd)),
        h("td", { class: `num failures${session.failures ? " bad" : ""}` }, number.format(session.failures)),
      ),
    );
    if (rows.length === 0) {
      const { user, range } = this.asked;
      const why = user ? `No session has a turn of ${user} in this range.` : range.preset !== "all" ? "No session has a turn in this range." : "No sessions yet: runs name theirs in session_id.";
      rows.push(h("tr", null, h("td", { colspan: 9, class: "empty" }, why)));
    }
    clear(this.body, rows);
    this.count.textContent = `${number.format(this.sessions.length)} shown${this.next ? ", more below" : ""}`;
    this.moreButton.hidden = !this.next;
  }
}

export class SessionView {
  constructor(root, sessionId) {
    this.root = root;
    this.sessionId = sessionId;
    this.turns = [];
    this.next = null;
    this.totals = h("section", { class: "totals" }, "Loading…");
    this.body = h("tbody");
    this.problem = h("p", { class: "problem", hidden: true });
    this.moreButton = h("button", { class: "more", type: "button", hidden: true, onclick: () => this.load(true) }, "load more");
    const headers = [["#", "num"], ["Turn", null], ["Status", null], ["Start", null], ["Duration", "num"], ["Runs", "num"], ["Tokens", "num"], ["Cost", "num"]];
    this.table = h(
      "table",
      { class: "turns", "aria-label": "turns, oldest first" },
      h("thead", null, h("tr", null, headers.map(([title, kind]) => h("th", { scope: "col", class: kind }, title)))),
      this.body,
    );
    clear(root, this.totals, this.problem, this.table, this.moreButton);
  }

  start() {
    return this.load(false);
  }

  refresh() {
    return this.load(false, this.turns.length);
  }

  async load(more, keep = 0) {
    const fetchPage = async (after, limit) => {
      const page = await api.session(this.sessionId, after, limit);
      return { items: page.turns, next: page.next, session: page.session };
    };
    let session;
    try {
      const loaded = await pages(fetchPage, { shown: this.turns, next: this.next, more, keep, size: TURNS_PAGE, most: MAX_TURNS_PAGE });
      session = loaded.last.session;
      this.turns = loaded.items;
      this.next = loaded.next;
      this.problem.hidden = true;
    } catch (error) {
      const why = error.status === 404 ? `The collector holds no session ${this.sessionId}.` : `Could not load session ${this.sessionId}: ${error.message}`;
      clear(this.totals, h("p", { class: "problem" }, why), h("a", { href: "#/sessions", class: "back" }, "← sessions"));
      return;
    }
    this.showTotals(session);
    this.fill();
    performance.mark("viewer:session-shown");
    document.body.dataset.loadedView = `session:${this.sessionId}`;
  }

  showTotals(session) {
    clear(
      this.totals,
      h("div", { class: "title" }, h("a", { href: "#/sessions", class: "back" }, "← sessions"), h("h1", null, "Session ", h("span", { class: "id" }, session.session_id))),
      h(
        "div",
        { class: "facts" },
        fact("Turns", number.format(session.turns), "turns"),
        fact("First start", clock(session.first_start_ms), "first"),
        fact("Last start", clock(session.last_start_ms), "last"),
        fact("Duration", duration(session.duration_ms), "duration"),
        fact("Runs", number.format(session.runs), "runs"),
        fact("Tokens", tokens(session.tokens), "tokens"),
        fact("Cost", cost(session.cost_usd) || "–", "cost"),
        fact("Failed turns", number.format(session.failures), session.failures ? "failures bad" : "failures"),
        session.users.length ? fact(session.users.length > 1 ? "Users" : "User", session.users.join(", "), "users") : null,
      ),
    );
  }

  fill() {
    const rows = this.turns.map((turn, index) => {
      const span = turn.end_ms !== null ? turn.end_ms - turn.start_ms : null;
      return h(
        "tr",
        { class: "turn-row", dataset: { traceId: turn.trace_id } },
        h("td", { class: "num number" }, String(index + 1)),
        h(
          "td",
          { class: "name" },
          h("a", { href: traceHref(turn.trace_id) }, shownName(turn.name)),
          turn.input ? h("div", { class: "brief input" }, h("span", { class: "label" }, "in"), h("span", { class: "text" }, turn.input)) : null,
          turn.output ? h("div", { class: "brief output" }, h("span", { class: "label" }, "out"), h("span", { class: "text" }, turn.output)) : null,
        ),
        h("td", null, statusBadge(turn.status), turn.failures ? h("span", { class: "fail-count" }, ` ${turn.failures} failed`) : null),
        h("td", { class: "start" }, clock(turn.start_ms)),
        h("td", { class: "num duration" }, duration(span)),
        h("td", { class: "num runs" }, number.format(turn.run_count)),
        h("td", { class: "num tokens" }, tokens(turn.tokens)),
        h("td", { class: "num cost" }, cost(turn.cost_usd)),
      );
    });
    clear(this.body, rows);
    this.moreButton.hidden = !this.next;
  }
}
