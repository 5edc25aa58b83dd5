"""The trace viewer's server side: its access rule, its assets, and data that comes a page at a time.

What a person sees in the page is tested in a real browser (tests/collector/test_viewer_browser.py, ``make browser``).
"""

from __future__ import annotations

import base64
import http.client
import json
import sqlite3
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otel_dynamiq.collector import LocalCollector, RunStore, _store, _summary
from tests.support.common import FAKE_KEY
from tests.support.http import get, post
from tests.support.runs import sample_run


def fetch(url: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """A raw GET: the Host header and the path go out exactly as given."""
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()
    finally:
        connection.close()


def data(url: str, path: str, headers: dict[str, str] | None = None) -> Any:
    status, _, body = fetch(url, path, headers)
    assert status == 200, body
    return json.loads(body)


def run_id(number: int) -> str:
    return f"00000000-0000-4000-8000-{number:012d}"


def trace_id(number: int) -> str:
    return f"00000000-0000-4000-9000-{number:012d}"


def at(second: float) -> str:
    return f"2026-01-01T00:00:{second:06.3f}+00:00"


def llm_run(number: int, trace: int, parent: int | None, tokens: int | None, start: float = 1.0) -> dict[str, Any]:
    metadata: dict[str, Any] = {"node": {"group": "llms", "model": "gpt-4o-mini"}}
    if tokens is not None:
        metadata["usage"] = {"prompt_tokens": tokens - 1, "completion_tokens": 1, "total_tokens": tokens}
    return sample_run(
        id=run_id(number),
        trace_id=trace_id(trace),
        parent_run_id=run_id(parent) if parent is not None else None,
        name=f"llm {number}",
        start_time=at(start),
        end_time=at(start + 0.5),
        metadata=metadata,
    )


@pytest.fixture
def filled(collector: LocalCollector) -> Iterator[LocalCollector]:
    """Three traces: 1 succeeded with tokens, 2 failed in a child, 3 still running."""
    root = sample_run(id=run_id(1), trace_id=trace_id(1), name="Workflow", type="workflow", start_time=at(0))
    # The span of the LLM call and the node that made it: only the one carrying usage is counted.
    node = llm_run(2, 1, 1, None, start=1.0)
    call = llm_run(3, 1, 2, 100, start=1.1)
    second = llm_run(4, 1, 1, 20, start=2.0)
    assert post(collector.url, {"runs": [root, node, call, second]})[0] == 200
    failed_root = sample_run(id=run_id(10), trace_id=trace_id(2), name="Agent", start_time=at(0))
    failed_child = sample_run(
        id=run_id(11),
        trace_id=trace_id(2),
        parent_run_id=run_id(10),
        name="calculator",
        status="failed",
        error={"message": "division by zero", "traceback": "Traceback ..."},
        start_time=at(1),
    )
    assert post(collector.url, {"runs": [failed_root, failed_child]})[0] == 200
    running = sample_run(id=run_id(20), trace_id=trace_id(3), name="Pending", status=None, end_time=None)
    assert post(collector.url, {"runs": [running]})[0] == 200
    yield collector


def test_the_page_and_its_assets_come_from_the_package_with_a_strict_policy(collector: LocalCollector) -> None:
    status, headers, body = fetch(collector.url, "/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert b'<script type="module" src="/viewer/app.js">' in body
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    status, headers, body = fetch(collector.url, "/viewer/app.js")
    assert (status, headers["content-type"]) == (200, "text/javascript; charset=utf-8")
    assert body == (Path(__file__).parents[2] / "otel_dynamiq/collector/viewer/app.js").read_bytes()
    assert b"http://" not in body and b"https://" not in body  # nothing fetched from the network
    for path in ("/viewer/../_store.py", "/viewer/%2e%2e/_store.py", "/viewer/nope.js", "/viewer/"):
        assert fetch(collector.url, path)[0] == 404, path


def test_with_a_key_the_page_and_its_data_need_it_and_a_browser_can_give_it(keyed_collector: LocalCollector) -> None:
    url = keyed_collector.url
    basic = "Basic " + base64.b64encode(f"anyone:{FAKE_KEY}".encode()).decode()
    wrong = "Basic " + base64.b64encode(b"anyone:wrong").decode()
    for path in ("/", "/viewer/app.js", "/viewer/api/traces", "/viewer/api/version"):
        status, headers, _ = fetch(url, path)
        assert status == 401, path
        assert headers["www-authenticate"].startswith("Basic realm=")  # the browser asks for the key
        assert fetch(url, path, {"Authorization": wrong})[0] == 401
        assert fetch(url, path, {"Authorization": "Basic !!!"})[0] == 401
        assert fetch(url, path, {"Authorization": basic})[0] == 200
        assert fetch(url, path, {"Authorization": f"Bearer {FAKE_KEY}"})[0] == 200


def test_without_a_key_the_viewer_answers_to_loopback_names_only(collector: LocalCollector) -> None:
    port = urllib.parse.urlsplit(collector.url).port
    for host in ("localhost", f"localhost:{port}", f"127.0.0.1:{port}", "127.1.2.3", f"[::1]:{port}"):
        assert fetch(collector.url, "/viewer/api/version", {"Host": host})[0] == 200, host
    # A page whose name was rebound to 127.0.0.1 sends its own name: it reads nothing.
    for host in ("attacker.example", f"attacker.example:{port}", "127.0.0.1.attacker.example", ""):
        status, _, body = fetch(collector.url, "/viewer/api/traces", {"Host": host})
        assert status == 403, host
        assert b"localhost" in body
    assert fetch(collector.url, "/", {"Host": "attacker.example"})[0] == 403
    # The API's reads hold the same runs: the same rule.
    assert fetch(collector.url, "/v1/traces", {"Host": "attacker.example"})[0] == 403
    assert fetch(collector.url, "/v1/traces", {"Host": f"127.0.0.1:{port}"})[0] == 200


def test_traces_list_newest_first_with_totals_counting_each_llm_call_once(filled: LocalCollector) -> None:
    answer = data(filled.url, "/viewer/api/traces")
    assert [trace["trace_id"] for trace in answer["traces"]] == [trace_id(3), trace_id(2), trace_id(1)]
    assert answer["next"] is None
    by_id = {trace["trace_id"]: trace for trace in answer["traces"]}
    assert by_id[trace_id(1)] | {"start_ms": 0, "end_ms": 0} == {
        "trace_id": trace_id(1),
        "name": "Workflow",
        "status": "succeeded",
        "start_ms": 0,
        "end_ms": 0,
        "run_count": 4,
        "tokens": 120,  # 100 + 20: the node above the call carries no usage and adds nothing
        "cost_usd": None,
        "failures": 0,
        "session_id": "t",  # sample_run's
        "user_id": None,
        "version": 1,  # the first request stored it
    }
    first = by_id[trace_id(1)]
    assert first["end_ms"] - first["start_ms"] == pytest.approx(2500)
    assert by_id[trace_id(2)]["failures"] == 1
    assert by_id[trace_id(2)]["status"] == "succeeded"  # the root's; the failed run is counted
    assert by_id[trace_id(3)]["status"] is None
    assert by_id[trace_id(3)]["tokens"] is None


def test_a_run_sent_again_replaces_its_counts(filled: LocalCollector) -> None:
    again = llm_run(3, 1, 2, 7, start=1.1) | {"status": "failed", "error": {"message": "late"}}
    assert post(filled.url, {"runs": [again]})[0] == 200
    summary = data(filled.url, f"/viewer/api/traces/{trace_id(1)}")
    assert (summary["run_count"], summary["tokens"], summary["failures"]) == (4, 27, 1)


def test_traces_filter_by_status_and_by_text_in_any_run_name(filled: LocalCollector) -> None:
    def ids(query: str) -> list[str]:
        return [trace["trace_id"] for trace in data(filled.url, f"/viewer/api/traces?{query}")["traces"]]

    assert ids("status=failures") == [trace_id(2)]
    assert ids("status=running") == [trace_id(3)]
    assert ids("status=succeeded") == [trace_id(2), trace_id(1)]
    assert ids("q=CALCUL") == [trace_id(2)]  # a child's name, any case
    assert ids("q=llm%204") == [trace_id(1)]
    assert ids("q=%25") == []  # LIKE's wildcards are taken literally
    assert ids("q=_") == []
    assert ids(f"q={trace_id(3)[-6:]}") == [trace_id(3)]
    assert fetch(filled.url, "/viewer/api/traces?status=bogus")[0] == 400
    for limit in ("0", "201", "x", "-1"):
        assert fetch(filled.url, f"/viewer/api/traces?limit={limit}")[0] == 400
    assert fetch(filled.url, "/viewer/api/traces?after=nonsense")[0] == 400


def test_traces_filter_by_labels_and_start_and_offer_each_labels_values(filled: LocalCollector) -> None:
    def ids(query: str) -> list[str]:
        return [trace["trace_id"] for trace in data(filled.url, f"/viewer/api/traces?{query}")["traces"]]

    assert ids("model=gpt-4o-mini") == [trace_id(1)]
    assert ids("model=gpt-4o-mini&status=failures") == []
    assert ids("model=gpt") == []  # exact values only
    assert ids("session=t&model=") == [trace_id(3), trace_id(2), trace_id(1)]  # an empty filter is no filter
    first = data(filled.url, "/viewer/api/traces?model=gpt-4o-mini")["traces"][0]
    start = first["start_ms"]  # every trace of ``filled`` starts then
    assert ids(f"from={start}&to={start + 1}") == [trace_id(3), trace_id(2), trace_id(1)]
    assert ids(f"to={start}") == []
    assert ids(f"from={start + 1}") == []
    assert data(filled.url, "/viewer/api/labels/model") == {"values": [{"value": "gpt-4o-mini", "traces": 1}]}
    assert data(filled.url, "/viewer/api/labels/session?limit=1") == {"values": [{"value": "t", "traces": 3}]}
    for bad in ("labels/name", "labels/model?limit=0", "traces?from=nan", "traces?to=soon"):
        status, _, body = fetch(filled.url, f"/viewer/api/{bad}")
        assert status == 400, bad
        assert json.loads(body)["detail"]


def test_every_value_of_a_label_in_the_address_must_hold(collector: LocalCollector) -> None:
    both = sample_run(id=run_id(1), trace_id=trace_id(1), tags=["env:prod", "team:a"])
    one = sample_run(id=run_id(2), trace_id=trace_id(2), tags=["env:prod"])
    assert post(collector.url, {"runs": [both, one]})[0] == 200
    listed = data(collector.url, "/viewer/api/traces?tag=env:prod&tag=team:a")["traces"]
    assert [trace["trace_id"] for trace in listed] == [trace_id(1)]


def test_a_search_finds_models_and_ids_and_combines_with_every_filter(filled: LocalCollector) -> None:
    def ids(query: str) -> list[str]:
        return [trace["trace_id"] for trace in data(filled.url, f"/viewer/api/traces?{query}")["traces"]]

    assert ids("q=4o-MINI") == [trace_id(1)]  # a model: a label, found by any fragment in any case
    assert ids(f"q={run_id(11)}") == [trace_id(2)]  # a run's whole id
    assert ids(f"q={trace_id(3).replace('-', '')}") == [trace_id(3)]  # a trace id as OpenTelemetry prints it
    assert ids("q=%22Workflow%22%20OR%20x") == []  # the query's quotes and OR are text, not search syntax
    assert ids("q=4o-mini&status=failures") == []
    assert ids("q=4o-mini&model=gpt-4o-mini&session=t") == [trace_id(1)]
    start = data(filled.url, f"/viewer/api/traces/{trace_id(1)}")["start_ms"]
    assert ids(f"q=4o-mini&from={start}&to={start + 1}") == [trace_id(1)]
    assert ids(f"q=4o-mini&from={start + 1}") == []
    assert ids("q=4o-mini&sort=tokens&dir=asc") == [trace_id(1)]


def test_a_page_mark_is_only_taken_in_the_order_it_was_made_in(collector: LocalCollector) -> None:
    runs = [run for number in range(8) for run in sorted_trace(number)]  # 5 costs known, then 3 unknown
    assert post(collector.url, {"runs": runs})[0] == 200
    first = data(collector.url, "/viewer/api/traces?sort=cost&dir=asc&limit=2")
    assert first["next"].startswith("cost-asc:")
    mark = urllib.parse.quote(first["next"])
    rest = data(collector.url, f"/viewer/api/traces?sort=cost&dir=asc&limit=50&after={mark}")
    assert len(first["traces"]) + len(rest["traces"]) == 8
    for other in ("", "sort=cost&dir=desc&", "sort=start&dir=asc&", "sort=duration&"):
        status, _, body = fetch(collector.url, f"/viewer/api/traces?{other}after={mark}")
        assert status == 400, other
        assert "another order" in json.loads(body)["detail"]
    unknown = data(collector.url, "/viewer/api/traces?sort=cost&dir=asc&limit=6")["next"]  # past every known cost
    assert unknown.startswith("cost-asc:null~")
    for text in (unknown.replace("cost-asc", "start-asc"), "start-desc:null~x", "1.5~x", "start-desc:1.5"):
        assert fetch(collector.url, f"/viewer/api/traces?sort=start&dir=asc&after={urllib.parse.quote(text)}")[0] == 400


def test_the_api_lists_traces_latest_start_first_however_they_arrived(collector: LocalCollector) -> None:
    for number, start in ((1, 30), (2, 10), (3, 50), (4, 20)):
        run = sample_run(id=run_id(number), trace_id=trace_id(number), start_time=minute(start))
        assert post(collector.url, {"runs": [run]})[0] == 200
    status, listing = get(collector.url + "/v1/traces")
    assert status == 200
    assert [trace["trace_id"] for trace in listing["traces"]] == [trace_id(n) for n in (3, 1, 4, 2)]


def test_traces_come_a_page_at_a_time(collector: LocalCollector) -> None:
    for number in range(7):
        run = sample_run(id=run_id(number), trace_id=trace_id(number), name=f"trace {number}")
        assert post(collector.url, {"runs": [run]})[0] == 200
    seen: list[str] = []
    after = ""
    pages = 0
    while True:
        answer = data(collector.url, f"/viewer/api/traces?limit=3{after}")
        assert len(answer["traces"]) <= 3
        seen += [trace["name"] for trace in answer["traces"]]
        pages += 1
        if answer["next"] is None:
            break
        after = "&after=" + urllib.parse.quote(answer["next"])
    assert pages == 3
    assert seen == [f"trace {number}" for number in range(6, -1, -1)]


def minute(number: int) -> str:
    """Whole minutes after 2026-01-01T00:00Z: times far enough apart for a few hundred traces."""
    return f"2026-01-01T{number // 60:02d}:{number % 60:02d}:00+00:00"


def all_pages(url: str, query: str) -> list[dict[str, Any]]:
    """Every trace the list holds, following each page's ``next`` as the viewer's "load more" does."""
    traces: list[dict[str, Any]] = []
    after = ""
    while True:
        answer = data(url, f"/viewer/api/traces?{query}{after}")
        traces += answer["traces"]
        if answer["next"] is None:
            return traces
        after = "&after=" + urllib.parse.quote(answer["next"])


def test_traces_posted_in_one_batch_are_listed_by_start_newest_first(collector: LocalCollector) -> None:
    """One request's traces arrive at one moment: the order they were sent in must not be the list's."""
    starts = {number: (number * 37) % 200 for number in range(200)}  # a permutation of 0..199 minutes
    for number in range(190, 200):  # ten traces start together: a tie the pages must not split wrongly
        starts[number] = 100
    runs = [
        sample_run(id=run_id(number), trace_id=trace_id(number), name=f"trace {number}", start_time=minute(start))
        for number, start in starts.items()
    ]
    assert post(collector.url, {"runs": runs})[0] == 200
    expected = sorted(starts, key=lambda number: (starts[number], trace_id(number)), reverse=True)
    for query in ("limit=7", "limit=50", "limit=200", "limit=9&q=trace", "limit=9&status=succeeded"):
        listed = all_pages(collector.url, query)
        assert [trace["trace_id"] for trace in listed] == [trace_id(number) for number in expected], query
    starts_ms = [trace["start_ms"] for trace in all_pages(collector.url, "limit=50")]
    assert starts_ms == sorted(starts_ms, reverse=True)


def test_a_later_run_that_started_earlier_moves_its_trace_down_the_list(collector: LocalCollector) -> None:
    early = sample_run(id=run_id(1), trace_id=trace_id(1), name="early", start_time=minute(10))
    late = sample_run(id=run_id(2), trace_id=trace_id(2), name="late", start_time=minute(20))
    assert post(collector.url, {"runs": [early, late]})[0] == 200
    assert [trace["name"] for trace in all_pages(collector.url, "limit=1")] == ["late", "early"]
    # The root of the late trace arrives after its child, and started before the early trace did.
    root = sample_run(id=run_id(3), trace_id=trace_id(2), name="late's root", start_time=minute(5))
    assert post(collector.url, {"runs": [root | {"end_time": minute(30)}]})[0] == 200
    listed = all_pages(collector.url, "limit=1")
    assert [trace["trace_id"] for trace in listed] == [trace_id(1), trace_id(2)]
    assert listed[1]["start_ms"] == _summary.epoch_ms(minute(5))


def test_a_traces_runs_come_a_page_at_a_time_in_start_order_without_bodies(collector: LocalCollector) -> None:
    # Several runs start at the same moment: the page boundary must neither skip nor repeat them.
    runs = [
        llm_run(number, 5, None if number == 0 else 0, 10, start=float(number // 3)) | {"input": "x" * 1000}
        for number in range(10)
    ]
    assert post(collector.url, {"runs": list(reversed(runs))})[0] == 200
    seen: list[dict[str, Any]] = []
    after = ""
    while True:
        answer = data(collector.url, f"/viewer/api/traces/{trace_id(5)}/runs?limit=4{after}")
        assert len(answer["runs"]) <= 4
        seen += answer["runs"]
        if answer["next"] is None:
            break
        after = "&after=" + urllib.parse.quote(answer["next"])
    assert sorted(run["id"] for run in seen) == sorted(run["id"] for run in runs)
    assert [run["start_ms"] for run in seen] == sorted(run["start_ms"] for run in seen)
    assert seen[1] | {"start_ms": 0, "end_ms": 0, "size": 0} == {
        "id": run_id(1),
        "parent_run_id": run_id(0),
        "name": "llm 1",
        "type": "node",
        "grp": "llms",
        "status": "succeeded",
        "start_ms": 0,
        "end_ms": 0,
        "tokens": 10,
        "cost_usd": None,
        "error": None,
        "usage_counted_in": None,
        "usage_aggregate": False,
        "size": 0,
    }
    assert seen[1]["size"] > 1000  # the size is told; the input itself is not sent
    assert "input" not in seen[1]
    assert fetch(collector.url, f"/viewer/api/traces/{trace_id(5)}/runs?limit=2001")[0] == 400


def test_one_run_comes_whole_as_stored_with_its_delivery_count(filled: LocalCollector) -> None:
    answer = data(filled.url, f"/viewer/api/runs/{run_id(11)}")
    assert answer["deliveries"] == 1
    assert answer["run"] == filled.store.runs(trace_id(2))[1]
    assert answer["run"]["error"]["traceback"] == "Traceback ..."
    assert fetch(filled.url, f"/viewer/api/runs/{run_id(999)}")[0] == 404
    assert fetch(filled.url, f"/viewer/api/traces/{trace_id(999)}")[0] == 404
    assert fetch(filled.url, "/viewer/api/nothing")[0] == 404


def test_the_version_moves_with_every_stored_request(collector: LocalCollector) -> None:
    before = data(collector.url, "/viewer/api/version")["version"]
    assert post(collector.url, {"runs": [sample_run()]})[0] == 200
    assert data(collector.url, "/viewer/api/version")["version"] == before + 1
    # A collector started again counts from zero: a page tells it apart by its instance.
    with LocalCollector() as other:
        assert (
            data(other.url, "/viewer/api/version")["instance"] != data(collector.url, "/viewer/api/version")["instance"]
        )


def test_a_database_written_before_the_viewer_gains_its_facts(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE runs (id TEXT PRIMARY KEY, trace_id TEXT NOT NULL, start_time TEXT NOT NULL,"
        " received INTEGER NOT NULL, deliveries INTEGER NOT NULL DEFAULT 1, body TEXT NOT NULL);"
        "CREATE TABLE requests (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_count INTEGER NOT NULL,"
        " body_bytes INTEGER NOT NULL, content_encoding TEXT);"
    )
    runs = [llm_run(1, 1, None, 5), llm_run(2, 1, 1, 6)]
    with old:
        old.executemany(
            "INSERT INTO runs (id, trace_id, start_time, received, body) VALUES (?, ?, ?, 1, ?)",
            [(run["id"], run["trace_id"], run["start_time"], json.dumps(run)) for run in runs],
        )
    old.close()
    store = RunStore(path)
    try:
        (summary,) = store.trace_page(10)[0]
        assert (summary["name"], summary["run_count"], summary["tokens"]) == ("llm 1", 2, 11)
        assert [run["parent_run_id"] for run in store.run_page(trace_id(1), 10)[0]] == [None, run_id(1)]
    finally:
        store.close()
    RunStore(path).close()  # opening it again changes nothing


def test_a_database_listed_by_arrival_opens_listed_by_start_from_an_index(tmp_path: Path) -> None:
    path = str(tmp_path / "runs.db")
    first = RunStore(path)
    first.add([llm_run(1, 1, None, 5, start=3.0), llm_run(2, 2, None, 6, start=1.0)], 100, None)
    first.add([llm_run(3, 3, None, 7, start=2.0)], 100, None)
    first.close()
    with sqlite3.connect(path) as older:  # as the collectors that listed traces by arrival left their files
        older.execute("DROP INDEX traces_by_start")
        older.execute("CREATE INDEX traces_newest ON traces (received DESC, trace_id)")
        older.execute("UPDATE traces SET start_ms = NULL WHERE trace_id = ?", (trace_id(2),))
    older.close()
    store = RunStore(path)
    try:
        first_page, following = store.trace_page(1)
        listed = first_page + store.trace_page(5, following)[0]
        # Trace 2 has no start: it is listed last, and still listed.
        assert [trace["trace_id"] for trace in listed] == [trace_id(1), trace_id(3), trace_id(2)]
        connection = store._connection
        indexes = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "traces_by_start" in indexes and "traces_newest" not in indexes
        plan = page_plans(store, _store.NEWEST_FIRST, (1.0, "x"))
        assert "traces_by_start" in plan and "TEMP B-TREE" not in plan, plan  # a page reads 50 rows, never sorts all
    finally:
        store.close()


def page_plans(store: RunStore, sort: _store.TraceSort, after: tuple[float | None, str] | None = None) -> str:
    """SQLite's plan for each query a page of 50 traces makes: the statements are caught as they run."""
    statements: list[str] = []
    connection = store._connection
    connection.set_trace_callback(statements.append)
    try:
        store.trace_page(50, after, sort=sort)
    finally:
        connection.set_trace_callback(None)
    pages = [statement for statement in statements if "FROM traces" in statement and "ORDER BY" in statement]
    assert pages, statements
    # A Python whose trace gives the statement as written: its parameters, which the plan does not depend on.
    return " | ".join(
        " ".join(str(step[-1]) for step in connection.execute(f"EXPLAIN QUERY PLAN {page}", [0] * page.count("?")))
        for page in pages
    )


def test_summaries_a_stopped_process_left_behind_are_recounted_on_open(tmp_path: Path) -> None:
    path = str(tmp_path / "runs.db")
    first = RunStore(path)
    first.add([llm_run(1, 1, None, 5)], 100, None)
    first.add([llm_run(2, 2, None, 6)], 100, None)
    assert first.trace_summary(trace_id(2)) is not None  # read: both summaries are written
    first.add([llm_run(3, 1, 1, 7)], 100, None)  # trace 1 changes, and nobody reads it before a kill
    with sqlite3.connect(path) as other:  # the summary as a killed process would have left it
        assert other.execute("SELECT run_count FROM traces WHERE trace_id = ?", (trace_id(1),)).fetchone() == (1,)
    reopened = RunStore(path)
    try:
        summary = reopened.trace_summary(trace_id(1))
        assert summary is not None
        assert (summary["run_count"], summary["tokens"]) == (2, 12)
    finally:
        reopened.close()
        first.close()


def request(url: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    """Any method, the headers exactly as given; the status, the headers and the body read to its end."""
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()
    finally:
        connection.close()


def with_usage(number: int, trace: int, **usage: Any) -> dict[str, Any]:
    run = llm_run(number, trace, None, None, start=float(number))
    run["metadata"]["usage"] = usage
    return run


def test_huge_or_impossible_token_and_cost_values_are_ignored_and_reads_never_fail(tmp_path: Path) -> None:
    path = str(tmp_path / "runs.db")
    with LocalCollector(database=path) as collector:
        # One bad number beside good runs: the request is taken whole, the bad value counted as unknown.
        huge = with_usage(1, 1, total_tokens=1e300, total_tokens_cost_usd=1e300)
        fine = llm_run(2, 1, None, 7, start=2.0)
        assert post(collector.url, {"runs": [huge, fine]}) == (200, {"accepted": 2})
        # Two values that each fit SQLite's integer but whose sum would not; and a negative count.
        big = [with_usage(n, 2, total_tokens=5_000_000_000_000_000_000) for n in (3, 4)]
        below = with_usage(5, 2, total_tokens=-3, prompt_tokens_cost_usd=-1.0)
        assert post(collector.url, {"runs": [*big, below, llm_run(6, 2, None, 9, start=6.0)]})[0] == 200
        listed = {trace["trace_id"]: trace for trace in data(collector.url, "/viewer/api/traces")["traces"]}
        assert (listed[trace_id(1)]["tokens"], listed[trace_id(1)]["cost_usd"]) == (7, None)
        assert (listed[trace_id(2)]["tokens"], listed[trace_id(2)]["cost_usd"]) == (9, None)
        assert data(collector.url, f"/viewer/api/traces/{trace_id(2)}")["run_count"] == 4
        facts = data(collector.url, f"/viewer/api/traces/{trace_id(2)}/runs")["runs"]
        assert [run["tokens"] for run in facts] == [None, None, None, 9]
        # The runs themselves are kept as sent.
        assert data(collector.url, f"/viewer/api/runs/{run_id(1)}")["run"]["metadata"]["usage"]["total_tokens"] == 1e300
    with LocalCollector(database=path) as again:  # and the file opens again
        assert len(data(again.url, "/viewer/api/traces")["traces"]) == 2


def test_a_database_an_older_collector_filled_with_huge_counts_still_opens(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE runs (id TEXT PRIMARY KEY, trace_id TEXT NOT NULL, start_time TEXT NOT NULL,"
        " received INTEGER NOT NULL, deliveries INTEGER NOT NULL DEFAULT 1, body TEXT NOT NULL);"
    )
    runs = [with_usage(1, 1, total_tokens=10**19), with_usage(2, 1, total_tokens=3)]  # before the viewer: any number
    with old:
        old.executemany(
            "INSERT INTO runs (id, trace_id, start_time, received, body) VALUES (?, ?, ?, 1, ?)",
            [(run["id"], run["trace_id"], run["start_time"], json.dumps(run)) for run in runs],
        )
    old.close()
    store = RunStore(path)
    try:
        assert store.trace_summary(trace_id(1))["tokens"] == 3  # type: ignore[index]
    finally:
        store.close()
    # The first viewer stored counts unchecked in its fact columns: their sum overflowed SUM on every open.
    with sqlite3.connect(path) as first_viewer:
        first_viewer.execute("UPDATE runs SET tokens = 5000000000000000000, received = 2")
    store = RunStore(path)
    try:
        assert store.trace_summary(trace_id(1))["tokens"] is None  # type: ignore[index]
    finally:
        store.close()


def test_without_a_key_posts_from_other_web_sites_are_refused(collector: LocalCollector) -> None:
    """A page elsewhere can make a visitor's browser post here: by a rebound name, a form, or a no-cors fetch."""
    port = urllib.parse.urlsplit(collector.url).port
    body = json.dumps({"runs": [sample_run(name="sent by another site")]}).encode()
    json_type = {"Content-Type": "application/json"}
    refused = [
        ({"Host": "attacker.example", **json_type}, 403),  # DNS rebinding: the page's own name
        ({"Host": f"127.0.0.1:{port}", "Origin": "http://attacker.example", **json_type}, 403),
        ({"Host": f"127.0.0.1:{port}", "Origin": "null", **json_type}, 403),
        ({"Host": f"127.0.0.1:{port}", "Content-Type": "text/plain;charset=UTF-8"}, 415),  # a no-cors fetch
        ({"Host": f"127.0.0.1:{port}", "Content-Type": "application/x-www-form-urlencoded"}, 415),  # a form
    ]
    for headers, status in refused:
        answer = request(collector.url, "POST", "/v1/traces", body, headers)
        assert answer[0] == status, (headers, answer)
    assert collector.store.runs() == []
    # What the exporter, the gateway and Dynamiq's own client send is taken, and so is a page of this origin's.
    for headers in (json_type, {"Host": f"localhost:{port}", "Content-Type": "application/json; charset=utf-8"}):
        assert request(collector.url, "POST", "/v1/traces", body, headers)[0] == 200
    same = {"Host": f"127.0.0.1:{port}", "Origin": f"http://127.0.0.1:{port}", **json_type}
    assert request(collector.url, "POST", "/v1/traces", body, same)[0] == 200
    assert len(collector.store.runs()) == 1


def test_with_a_key_any_content_type_and_origin_may_post(keyed_collector: LocalCollector) -> None:
    body = json.dumps({"runs": [sample_run()]}).encode()
    headers = {"Authorization": f"Bearer {FAKE_KEY}", "Content-Type": "text/plain", "Origin": "http://elsewhere"}
    assert request(keyed_collector.url, "POST", "/v1/traces", body, headers)[0] == 200


def test_run_names_and_other_text_facts_are_cut_in_lists(collector: LocalCollector) -> None:
    name = "n" * 1_000_000
    run = sample_run(name=name, metadata={"node": {"group": "g" * 100_000}})
    assert post(collector.url, {"runs": [run]})[0] == 200
    status, _, body = fetch(collector.url, "/viewer/api/traces")
    assert status == 200 and len(body) < 2000
    assert json.loads(body)["traces"][0]["name"] == "n" * 200
    (fact,) = data(collector.url, f"/viewer/api/traces/{run['trace_id']}/runs")["runs"]
    assert (fact["name"], fact["grp"]) == ("n" * 200, "g" * 200)
    assert data(collector.url, f"/viewer/api/runs/{run['id']}")["run"]["name"] == name  # the run stays whole
    assert [trace["trace_id"] for trace in data(collector.url, "/viewer/api/traces?q=nnnn")["traces"]] == [
        run["trace_id"]
    ]


def test_a_cursor_or_a_version_that_is_no_page_mark_is_a_400(filled: LocalCollector) -> None:
    runs = f"/viewer/api/traces/{trace_id(1)}/runs"
    for path in (
        "/viewer/api/traces?after=nan~x",
        "/viewer/api/traces?after=1e999~x",
        "/viewer/api/traces?after=abc~x",
        "/viewer/api/traces?after=5~",
        f"{runs}?after=nan~x",
        f"{runs}?after=1e999~x",
        f"{runs}?after=abc~x",
        f"{runs}?since=99999999999999999999",
        f"{runs}?since=-1",
    ):
        status, _, body = fetch(filled.url, path)
        assert status == 400, (path, body)
        assert b"must be" in body


def test_runs_since_a_version_are_what_changed_after_it(collector: LocalCollector) -> None:
    assert post(collector.url, {"runs": [llm_run(1, 1, None, 5), llm_run(2, 1, 1, 6, start=2.0)]})[0] == 200
    version = data(collector.url, "/viewer/api/version")["version"]
    assert data(collector.url, f"/viewer/api/traces/{trace_id(1)}/runs?since={version}")["runs"] == []
    changed = llm_run(1, 1, None, 50)
    assert post(collector.url, {"runs": [changed, llm_run(3, 1, 1, 7, start=0.5)]})[0] == 200
    assert post(collector.url, {"runs": [llm_run(9, 2, None, 1)]})[0] == 200  # another trace
    since = data(collector.url, f"/viewer/api/traces/{trace_id(1)}/runs?since={version}")["runs"]
    assert [(run["id"], run["tokens"]) for run in since] == [(run_id(3), 7), (run_id(1), 50)]


def test_head_answers_like_get_without_a_body_and_options_is_refused(collector: LocalCollector) -> None:
    for path in ("/", "/viewer/app.js", "/viewer/api/version", "/v1/traces"):
        got = fetch(collector.url, path)
        status, headers, body = request(collector.url, "HEAD", path)
        assert (status, body) == (200, b""), path
        assert headers["content-length"] == str(len(got[2])) and headers["content-type"] == got[1]["content-type"]
    status, headers, _ = request(collector.url, "OPTIONS", "/v1/traces", headers={"Origin": "http://elsewhere"})
    assert status == 405 and "access-control-allow-origin" not in headers
    assert headers["allow"] == "GET, HEAD, POST"


def test_without_the_key_the_page_says_how_to_give_it(keyed_collector: LocalCollector) -> None:
    status, headers, body = fetch(keyed_collector.url, "/")
    assert status == 401 and headers["content-type"] == "text/plain; charset=utf-8"
    assert b"as the password" in body and FAKE_KEY.encode() not in body
    assert "password" in headers["www-authenticate"]


def test_an_ipv6_collector_url_has_brackets() -> None:
    try:
        collector = LocalCollector(host="::1")
    except OSError as unavailable:  # no IPv6 loopback on this machine
        pytest.skip(str(unavailable))
    with collector:
        port = collector._server.server_address[1]
        assert collector.url == f"http://[::1]:{port}"
        status, _ = get(collector.url + "/v1/traces")
        assert status == 200


def test_a_text_filter_scans_a_slice_at_a_time_and_its_pages_go_on_where_it_stopped(
    collector: LocalCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the search index (a SQLite without trigrams, or a query under three characters) a search scans
    every run's name, which holds the store: a request scans slices, and stops once its time is up."""
    monkeypatch.setattr(collector.store, "searchable", False)
    for number in range(9):
        name = f"needle {number}" if number % 3 == 0 else f"hay {number}"
        run = sample_run(id=run_id(number), trace_id=trace_id(number), name=name)
        assert post(collector.url, {"runs": [run]})[0] == 200
    monkeypatch.setattr(_store, "TEXT_SCAN_SLICE", 2)
    monkeypatch.setattr(_store, "TEXT_SCAN_SECONDS", 0.0)  # one slice per request
    seen: list[str] = []
    after = ""
    requests = 0
    while True:
        answer = data(collector.url, f"/viewer/api/traces?q=needle&limit=50{after}")
        seen += [trace["name"] for trace in answer["traces"]]
        requests += 1
        if answer["next"] is None:
            break
        after = "&after=" + urllib.parse.quote(answer["next"])
    assert seen == ["needle 6", "needle 3", "needle 0"]
    assert requests == 5  # nine traces, two a request
    monkeypatch.setattr(_store, "TEXT_SCAN_SECONDS", 60.0)
    first = data(collector.url, "/viewer/api/traces?q=needle&limit=2")
    assert [trace["name"] for trace in first["traces"]] == ["needle 6", "needle 3"]
    rest = data(collector.url, "/viewer/api/traces?q=needle&limit=2&after=" + urllib.parse.quote(first["next"]))
    assert ([trace["name"] for trace in rest["traces"]], rest["next"]) == (["needle 0"], None)


SORTED_TRACES = 23
"""Traces for the sort tests: each value below is shared by several (ties), and some are unknown (NULL)."""


def sorted_trace(number: int) -> list[dict[str, Any]]:
    """Trace ``number``: its start, duration, runs, tokens and cost each repeat over the traces, a few unknown."""
    start = minute(number * 7 % SORTED_TRACES)
    seconds = number % 4  # 0 to 3 s; every fifth trace is still running (no end: its duration is unknown)
    end = None if number % 5 == 0 else f"2026-01-01T{start[11:16]}:{seconds:02d}+00:00"
    usage = {"total_tokens": 10 * (number % 3), "total_tokens_cost_usd": 0.25 * (number % 4)}
    if number % 6 == 0:
        usage = {"total_tokens": 10 * (number % 3)}  # tokens known, cost unknown
    metadata: dict[str, Any] = {"node": {"group": "llms"}, "usage": usage}
    if number % 7 == 0:
        metadata = {}  # no usage at all: tokens and cost unknown
    root = sample_run(
        id=run_id(number * 10),
        trace_id=trace_id(number),
        name=f"sorted {number}",
        start_time=start,
        end_time=end,
        metadata=metadata,
        status="succeeded" if end else None,
    )
    children = [
        sample_run(
            id=run_id(number * 10 + child),
            trace_id=trace_id(number),
            parent_run_id=root["id"],
            name="child",
            start_time=start,
            end_time=end and start,  # a running trace's children are running too
        )
        for child in range(1, 1 + number % 3)
    ]
    return [root, *children]


def expected_order(traces: list[dict[str, Any]], key: str, descending: bool) -> list[str]:
    """The order the list must have: known values by (value, trace id), then unknown ones by trace id."""

    def value(trace: dict[str, Any]) -> float | None:
        if key == "duration":
            return None if trace["end_ms"] is None else trace["end_ms"] - trace["start_ms"]
        return trace[{"start": "start_ms", "runs": "run_count", "tokens": "tokens", "cost": "cost_usd"}[key]]

    known = sorted((t for t in traces if value(t) is not None), key=lambda t: (value(t), t["trace_id"]))
    unknown = sorted(t["trace_id"] for t in traces if value(t) is None)
    if descending:
        known.reverse()
        unknown.reverse()
    return [t["trace_id"] for t in known] + unknown


def test_traces_sort_by_each_column_either_way_over_pages_with_ties_and_unknowns_last(
    collector: LocalCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = [run for number in range(SORTED_TRACES) for run in sorted_trace(number)]
    assert post(collector.url, {"runs": runs})[0] == 200
    everything = data(collector.url, "/viewer/api/traces?limit=200")["traces"]
    assert len(everything) == SORTED_TRACES
    assert {trace["run_count"] for trace in everything} == {1, 2, 3}
    assert sum(trace["tokens"] is None for trace in everything) == 4
    assert sum(trace["cost_usd"] is None for trace in everything) == 7
    assert sum(trace["end_ms"] is None for trace in everything) == 5
    still_running = {trace_id(number) for number in range(0, SORTED_TRACES, 5)}
    monkeypatch.setattr(_store, "TEXT_SCAN_SLICE", 3)  # the text filter's scan crosses from known to unknown too
    for key in ("start", "duration", "runs", "tokens", "cost"):
        for direction in ("asc", "desc"):
            expected = expected_order(everything, key, direction == "desc")
            for extra in ("limit=4", "limit=1", "limit=200", "limit=5&q=sorted"):
                query = f"sort={key}&dir={direction}&{extra}"
                assert [trace["trace_id"] for trace in all_pages(collector.url, query)] == expected, query
            running = all_pages(collector.url, f"sort={key}&dir={direction}&limit=2&status=running")
            assert [trace["trace_id"] for trace in running] == [item for item in expected if item in still_running]
    default = [trace["trace_id"] for trace in all_pages(collector.url, "limit=3")]
    assert default == expected_order(everything, "start", descending=True)
    assert [trace["trace_id"] for trace in all_pages(collector.url, "sort=start&limit=3")] == default


def test_a_sort_or_direction_not_in_the_list_is_a_400_that_says_what_is(filled: LocalCollector) -> None:
    for query, says in (
        ("sort=name", b"sort must be one of start, duration, runs, tokens, cost"),
        ("sort=cost_usd", b"sort must be one of"),
        ("sort=start_ms%20DESC%3B%20DROP%20TABLE%20traces", b"sort must be one of"),
        ("sort=cost&dir=up", b"dir must be asc or desc"),
        ("dir=DESC", b"dir must be asc or desc"),
        ("sort=cost&after=null~", b"after must be"),
    ):
        status, _, body = fetch(filled.url, f"/viewer/api/traces?{query}")
        assert (status, says in body) == (400, True), (query, body)
    assert len(data(filled.url, "/viewer/api/traces")["traces"]) == 3  # and nothing happened to the table


def test_with_100000_traces_every_sort_reads_its_first_page_from_an_index_without_sorting() -> None:
    store = RunStore()
    try:
        with store._connection:
            store._connection.executemany(
                "INSERT INTO traces (trace_id, start_ms, end_ms, run_count, tokens, cost_usd, failures, received)"
                " VALUES (?, ?, ?, ?, ?, ?, 0, 1)",
                (
                    (
                        f"{number:032x}",
                        float(number % 5000),
                        None if number % 11 == 0 else float(number % 5000 + number % 97),
                        1 + number % 40,
                        None if number % 13 == 0 else number % 1000,
                        None if number % 17 == 0 else (number % 300) / 1000,
                    )
                    for number in range(100_000)
                ),
            )
        for key, sort in _store.TRACE_SORTS.items():
            for descending in (True, False):
                chosen = _store.TraceSort(sort.key, sort.nullable, descending)
                for after in (None, (1.0, "5"), (None, "5")) if sort.nullable else (None, (1.0, "5")):
                    plan = page_plans(store, chosen, after)
                    assert f"traces_by_{key}" in plan and "TEMP B-TREE" not in plan, (key, descending, after, plan)
    finally:
        store.close()
