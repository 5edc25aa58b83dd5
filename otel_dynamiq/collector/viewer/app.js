// The viewer's router and its live updates: #/ is the traces list, #/trace/<id>[/run/<run id>] one trace.
import { api } from "./api.js";
import { TracesList } from "./list.js";
import { TraceView } from "./trace.js";

const POLL_MS = 1500;
const view = document.getElementById("view");
const live = document.getElementById("live");
let current = null;
let version = null;

function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  let parts;
  try {
    parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  } catch (malformed) {
    parts = []; // a hand-edited link that is not valid percent-encoding: show the list
    history.replaceState(null, "", "#/");
  }
  if (parts[0] === "trace" && parts[1]) {
    const runId = parts[2] === "run" ? parts[3] : null;
    if (!(current instanceof TraceView) || current.traceId !== parts[1]) {
      current = new TraceView(view, parts[1]);
      current.load().then(() => {
        if (runId) current.select(runId, true);
      });
    } else if (runId && runId !== current.selected) current.select(runId, true);
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
route();
poll();
