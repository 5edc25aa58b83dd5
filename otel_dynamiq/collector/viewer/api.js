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
    throw new Error(detail);
  }
  return response.json();
}

const id = (value) => encodeURIComponent(value);

export const api = {
  version: () => getJSON("/viewer/api/version"),
  traces({ status, text, after, limit }) {
    const query = new URLSearchParams();
    if (status) query.set("status", status);
    if (text) query.set("q", text);
    if (after) query.set("after", after);
    if (limit) query.set("limit", String(limit));
    return getJSON(`/viewer/api/traces?${query}`);
  },
  trace: (traceId) => getJSON(`/viewer/api/traces/${id(traceId)}`),
  runPage(traceId, after) {
    const query = new URLSearchParams({ limit: "2000" });
    if (after) query.set("after", after);
    return getJSON(`/viewer/api/traces/${id(traceId)}/runs?${query}`);
  },
  run: (runId) => getJSON(`/viewer/api/runs/${id(runId)}`),
};
