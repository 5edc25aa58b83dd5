// The collector's viewer data: every list comes a page at a time.

async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      detail = (await response.json()).detail || detail;
    } catch (ignored) {
      // not JSON: keep the status line
    }
    const error = new Error(detail);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

const id = (value) => encodeURIComponent(value);
const LABEL_KINDS = ["model", "provider", "tag", "session", "user"];

export const api = {
  version: () => getJSON("/viewer/api/version"),
  // sort and dir: one of the collector's orders (start, duration, runs, tokens, cost) and asc or desc;
  // from and to: epoch milliseconds (to excluded); model, provider, tag, session, user: exact values.
  traces({ status, text, sort, dir, after, limit, from = null, to = null, ...labels }) {
    const query = new URLSearchParams();
    if (status) query.set("status", status);
    if (text) query.set("q", text);
    if (from !== null) query.set("from", String(from));
    if (to !== null) query.set("to", String(to));
    for (const kind of LABEL_KINDS) if (labels[kind]) query.set(kind, labels[kind]);
    if (sort) query.set("sort", sort);
    if (dir) query.set("dir", dir);
    if (after) query.set("after", after);
    if (limit) query.set("limit", String(limit));
    return getJSON(`/viewer/api/traces?${query}`);
  },
  // The commonest values of one label, each with how many traces carry it.
  labels: (kind, limit) => getJSON(`/viewer/api/labels/${id(kind)}?limit=${limit}`),
  trace: (traceId) => getJSON(`/viewer/api/traces/${id(traceId)}`),
  // since: a version; only the runs stored after it (what a live update needs).
  runPage(traceId, after, since = null) {
    const query = new URLSearchParams({ limit: "2000" });
    if (after) query.set("after", after);
    if (since !== null) query.set("since", String(since));
    return getJSON(`/viewer/api/traces/${id(traceId)}/runs?${query}`);
  },
  run: (runId) => getJSON(`/viewer/api/runs/${id(runId)}`),
  // An address, not a fetch: the browser saves the answer as a file (with the page's credentials, as a link).
  downloadURL: (traceId) => `/viewer/api/traces/${id(traceId)}/download`,
  // A label's commonest values (kind: model, provider, tag, session or user).
  labels: (kind, limit) => getJSON(`/viewer/api/labels/${id(kind)}?limit=${limit}`),
  // Sessions with a turn started in [from, to) (epoch ms, either open), the latest activity first.
  sessions({ from, to, user, after, limit }) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (from !== null && from !== undefined) query.set("from", String(from));
    if (to !== null && to !== undefined) query.set("to", String(to));
    if (user) query.set("user", user);
    if (after) query.set("after", after);
    return getJSON(`/viewer/api/sessions?${query}`);
  },
  // A session's totals and a page of its turns, oldest first.
  session(sessionId, after, limit) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (after) query.set("after", after);
    return getJSON(`/viewer/api/sessions/${id(sessionId)}?${query}`);
  },
  overview({ from, to, buckets }) {
    const query = new URLSearchParams({ buckets: String(buckets) });
    if (from !== null && from !== undefined) query.set("from", String(Math.floor(from)));
    if (to !== null && to !== undefined) query.set("to", String(Math.ceil(to)));
    return getJSON(`/viewer/api/overview?${query}`);
  },
};
