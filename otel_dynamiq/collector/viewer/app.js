// The viewer's router and its live updates: #/ is the traces list, #/trace/<id>[/run/<run id>] one trace,
// #/sessions the sessions, #/session/<id> one session's turns, #/overview the trends over a time range.
import { api } from "./api.js";
import { ADDRESS_CHANGED } from "./dom.js";
import { TracesList } from "./list.js";
import { Overview, overviewAsked } from "./overview.js";
import { SessionView, SessionsList, sessionsAsked } from "./sessions.js";
import { TraceView } from "./trace.js";

const POLL_MS = 1500;
const view = document.getElementById("view");
const live = document.getElementById("live");
let current = null;
let version = null;

// The address after "#": its path and its query (either may be empty).
function address() {
  return (location.hash.replace(/^#/, "") || "/").split("?");
}

function route() {
  const [path, written] = address();
  let query = written;
  let parts;
  try {
    parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  } catch (malformed) {
    parts = []; // a hand-edited link that is not valid percent-encoding: show the list
    history.replaceState(null, "", "#/");
  }
  if (["trace", "session"].includes(parts[0]) && !parts[1]) {
    [parts, query] = [[], ""]; // "#/trace/" or "#/session/" names nothing: the list, at its own address
    history.replaceState(null, "", "#/");
  }
  showNav(parts[0] || "", query);
  if (routeInsights(parts, new URLSearchParams(query || ""))) return;
  if (parts[0] === "trace" && parts[1]) {
    const runId = parts[2] === "run" ? parts[3] : null;
    if (!(current instanceof TraceView) || current.traceId !== parts[1]) {
      current = new TraceView(view, parts[1]);
      const opened = current;
      opened.load().then(() => {
        if (!runId) return;
        opened.select(runId, true);
        opened.reveal(); // on a phone, the run a link names: its panel, not the top of the timeline
      });
    } else if (runId && runId !== current.selected) {
      current.select(runId, true);
      current.reveal();
    }
    document.title = `trace ${parts[1].slice(0, 8)} · otel-dynamiq`;
    return;
  }
  const params = new URLSearchParams(query || "");
  const asked = { ...Object.fromEntries(params), text: params.get("q"), rows: params.get("n") };
  // Back or Forward between two views of the list, or a link to another: the list as that address has it.
  if (!(current instanceof TracesList) || !current.shows(asked)) {
    current = new TracesList(view, asked, history.state);
    current.start();
    document.title = "traces · otel-dynamiq";
  }
}

// The header's links: the page shown is aria-current, and a time range in the address goes along to the
// pages that take one.
const SECTIONS = { "": "traces", trace: "traces", sessions: "sessions", session: "sessions", overview: "overview" };

function showNav(page, query) {
  const section = SECTIONS[page] || "traces";
  const kept = new URLSearchParams();
  for (const [key, value] of new URLSearchParams(query || "")) if (["range", "from", "to"].includes(key)) kept.set(key, value);
  for (const link of document.querySelectorAll("nav.views a[data-view]")) {
    const view = link.dataset.view;
    if (view !== section) link.removeAttribute("aria-current");
    else link.setAttribute("aria-current", page === "trace" || page === "session" ? "true" : "page"); // "true": within it
    if (view !== "traces") link.setAttribute("href", `#/${view}${kept.toString() ? `?${kept}` : ""}`);
  }
}

// The address as a view rewrote it (no hashchange): the header's links follow it all the same.
function followAddress() {
  const [path, query] = address();
  showNav(path.split("/").filter(Boolean)[0] || "", query);
}

// The sessions list, a session and the overview: true when the address names one of them.
function routeInsights(parts, params) {
  let wanted = null;
  if (parts[0] === "sessions") {
    const asked = sessionsAsked(params);
    if (!(current instanceof SessionsList) || !current.shows(asked)) wanted = () => new SessionsList(view, asked);
    document.title = "sessions · otel-dynamiq";
  } else if (parts[0] === "session" && parts[1]) {
    if (!(current instanceof SessionView) || current.sessionId !== parts[1]) wanted = () => new SessionView(view, parts[1]);
    document.title = `session ${parts[1].slice(0, 24)} · otel-dynamiq`;
  } else if (parts[0] === "overview") {
    const asked = overviewAsked(params);
    if (!(current instanceof Overview) || !current.shows(asked)) wanted = () => new Overview(view, asked);
    document.title = "overview · otel-dynamiq";
  } else return false;
  if (wanted) {
    current = wanted();
    window.scrollTo(0, 0);
    current.start();
  }
  return true;
}

// The collector counts what it stored; the page fetches again only when that count moved.
async function poll() {
  if (!document.hidden) {
    try {
      const answer = await api.version();
      live.classList.remove("offline");
      live.textContent = "live";
      // A collector started again counts from zero: its instance tells it apart.
      const now = `${answer.instance}:${answer.version}`;
      const moved = version !== null && now !== version;
      if (current && (moved || (current.behind && current.behind(answer)))) await current.refresh(answer);
      version = now;
    } catch (error) {
      live.classList.add("offline");
      live.textContent = "offline";
    }
  }
  setTimeout(poll, POLL_MS);
}

// The list puts its scroll position back itself, once its rows are drawn: the browser's would come too early.
history.scrollRestoration = "manual";
window.addEventListener("hashchange", route);
window.addEventListener(ADDRESS_CHANGED, followAddress);
route();
poll();
