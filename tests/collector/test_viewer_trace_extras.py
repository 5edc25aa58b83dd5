"""The viewer's trace extras: a trace's runs as a file to download, its session, and the runs whose usage is
counted elsewhere."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
from typing import Any

from otel_dynamiq.collector import LocalCollector, _viewer
from tests.collector.test_viewer import at, data, fetch, request, run_id, trace_id
from tests.support.common import FAKE_KEY
from tests.support.http import post
from tests.support.runs import sample_run


def shuffled_trace(count: int) -> list[dict[str, Any]]:
    """``count`` runs of trace 7 posted out of start order (run n starts n/10 s in)."""
    order = [(number * 7) % count for number in range(count)]
    return [
        sample_run(id=run_id(number), trace_id=trace_id(7), name=f"run {number}", start_time=at(number / 10))
        for number in order
    ]


def test_a_trace_downloads_as_its_runs_in_start_order_as_stored(collector: LocalCollector) -> None:
    count = _viewer.DOWNLOAD_PAGE * 2 + 3  # three pages: the list goes on across them
    runs = shuffled_trace(count)
    for start in range(0, count, 150):
        assert post(collector.url, {"runs": runs[start : start + 150]})[0] == 200
    status, headers, body = fetch(collector.url, f"/viewer/api/traces/{trace_id(7)}/download")
    assert status == 200
    assert headers["content-disposition"] == f'attachment; filename="trace-{trace_id(7)}.json"'
    assert headers["content-type"] == "application/json" and headers["transfer-encoding"] == "chunked"
    assert headers["x-content-type-options"] == "nosniff" and headers["cache-control"] == "no-store"
    downloaded = json.loads(body)
    assert [run["id"] for run in downloaded] == [run_id(number) for number in range(count)]
    assert downloaded == sorted(runs, key=lambda run: run["start_time"])  # each run whole, as it was posted


def test_a_download_answers_http_1_0_by_closing_and_head_without_a_body(collector: LocalCollector) -> None:
    assert post(collector.url, {"runs": shuffled_trace(3)})[0] == 200
    parsed = urllib.parse.urlsplit(collector.url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as raw:
        path = f"/viewer/api/traces/{trace_id(7)}/download"
        raw.sendall(f"GET {path} HTTP/1.0\r\nHost: {parsed.netloc}\r\n\r\n".encode())
        answer = b""
        while chunk := raw.recv(65536):  # the server closes: that is where the body ends
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Transfer-Encoding" not in head
    assert [run["name"] for run in json.loads(body)] == ["run 0", "run 1", "run 2"]
    status, headers, body = request(collector.url, "HEAD", f"/viewer/api/traces/{trace_id(7)}/download")
    assert (status, body) == (200, b"") and headers["content-disposition"].startswith("attachment")


def test_a_download_of_no_trace_is_a_404_and_an_odd_id_makes_a_safe_file_name(collector: LocalCollector) -> None:
    status, _, _ = fetch(collector.url, f"/viewer/api/traces/{trace_id(8)}/download")
    assert status == 404
    odd = 'a"b\r\nSet-Cookie: x;/..'
    assert post(collector.url, {"runs": [sample_run(trace_id=odd)]})[0] == 200
    status, headers, body = fetch(collector.url, f"/viewer/api/traces/{urllib.parse.quote(odd, safe='')}/download")
    assert status == 200 and "set-cookie" not in headers
    assert headers["content-disposition"] == 'attachment; filename="trace-a_b__Set-Cookie__x__...json"'
    assert [run["trace_id"] for run in json.loads(body)] == [odd]


def test_a_download_needs_the_key_like_every_viewer_route(keyed_collector: LocalCollector) -> None:
    key = {"Authorization": f"Bearer {FAKE_KEY}"}
    assert post(keyed_collector.url, {"runs": shuffled_trace(2)}, key)[0] == 200
    path = f"/viewer/api/traces/{trace_id(7)}/download"
    assert fetch(keyed_collector.url, path)[0] == 401
    assert fetch(keyed_collector.url, path, key)[0] == 200


def usage_runs() -> list[dict[str, Any]]:
    """An LLM node counting a call's usage, the client's span inside it, an agent's total, a plain run."""
    usage = {"total_tokens": 30, "prompt_tokens": 20, "completion_tokens": 10}
    root = sample_run(id=run_id(1), trace_id=trace_id(5), name="root", session_id="user-3")
    child = {"trace_id": trace_id(5), "parent_run_id": run_id(1), "session_id": "user-3"}
    return [
        root,
        sample_run(id=run_id(2), name="node", start_time=at(1), metadata={"usage": usage}, **child),
        sample_run(
            id=run_id(3),
            name="client",
            start_time=at(2),
            metadata={"otel": {"usage": usage, "usage_counted_in": run_id(2)}},
            **child,
        ),
        sample_run(
            id=run_id(4),
            name="agent",
            start_time=at(3),
            metadata={"otel": {"usage": usage, "usage_aggregate": True}},
            **child,
        ),
        # Only the text of an input says these words: nothing to note.
        sample_run(
            id=run_id(5), name="talk", start_time=at(4), input={'"usage_counted_in"': "usage_aggregate"}, **child
        ),
    ]


def notes(url: str, query: str = "") -> dict[str, tuple[str | None, bool]]:
    """The runs of trace 5 whose rows say their usage is counted elsewhere, as the waterfall reads them."""
    rows = data(url, f"/viewer/api/traces/{trace_id(5)}/runs{query}")["runs"]
    return {
        row["id"]: (row["usage_counted_in"], row["usage_aggregate"])
        for row in rows
        if row["usage_counted_in"] or row["usage_aggregate"]
    }


def test_a_trace_s_rows_say_whose_usage_is_counted_elsewhere_and_its_summary_names_its_session(
    collector: LocalCollector,
) -> None:
    assert post(collector.url, {"runs": usage_runs()})[0] == 200
    version = data(collector.url, "/viewer/api/version")["version"]
    assert notes(collector.url) == {run_id(3): (run_id(2), False), run_id(4): (None, True)}
    assert data(collector.url, f"/viewer/api/traces/{trace_id(5)}")["session_id"] == "user-3"
    # The agent sent again without its total: the rows stored since the version no longer note it.
    again = usage_runs()[3] | {"metadata": {}}
    assert post(collector.url, {"runs": [again]})[0] == 200
    assert notes(collector.url, f"?since={version}") == {}
    assert notes(collector.url) == {run_id(3): (run_id(2), False)}


def test_a_trace_without_a_session_on_its_root_names_the_first_run_s_or_none(collector: LocalCollector) -> None:
    orphan = sample_run(id=run_id(6), trace_id=trace_id(6), parent_run_id=run_id(99), session_id="later-one")
    first = sample_run(id=run_id(7), trace_id=trace_id(6), parent_run_id=run_id(99), start_time="2025-01-01T00:00:00Z")
    collector.store.add([first | {"session_id": ""}, orphan], 0, None)  # a store another program filled
    assert data(collector.url, f"/viewer/api/traces/{trace_id(6)}")["session_id"] == "later-one"
    bare = sample_run(id=run_id(8), trace_id=trace_id(9))
    del bare["session_id"]
    collector.store.add([bare], 0, None)
    assert data(collector.url, f"/viewer/api/traces/{trace_id(9)}")["session_id"] is None


def test_a_run_sent_again_during_a_download_is_in_the_file_once(collector: LocalCollector) -> None:
    count = _viewer.DOWNLOAD_PAGE * 2
    runs = shuffled_trace(count)
    assert post(collector.url, {"runs": runs})[0] == 200
    store = collector.store
    read_marks = store.run_marks
    first = min(runs, key=lambda run: run["start_time"])

    def marks_then_a_run_moves(*arguments: Any) -> Any:
        page = read_marks(*arguments)
        if len(arguments) == 2:  # after the first page: its first run comes again, now starting last
            store.add([first | {"start_time": "2026-01-01T01:00:00+00:00", "name": "moved"}], 0, None)
        return page

    store.run_marks = marks_then_a_run_moves  # type: ignore[method-assign]
    try:
        status, _, body = fetch(collector.url, f"/viewer/api/traces/{trace_id(7)}/download")
    finally:
        del store.run_marks
    downloaded = [run["id"] for run in json.loads(body)]
    assert status == 200 and len(downloaded) == count == len(set(downloaded))


def test_the_download_is_served_over_one_kept_alive_connection_with_other_requests(collector: LocalCollector) -> None:
    assert post(collector.url, {"runs": shuffled_trace(5)})[0] == 200
    parsed = urllib.parse.urlsplit(collector.url)
    connection = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=10)
    try:
        for path in (f"/viewer/api/traces/{trace_id(7)}/download", "/viewer/api/version"):
            connection.request("GET", path)
            response = connection.getresponse()
            assert response.status == 200 and json.loads(response.read())
    finally:
        connection.close()
