"""The local collector: the contract it enforces, what it stores, and its command line."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
import time
from typing import Any

import pytest

from otel_dynamiq.collector import LocalCollector, render_tree
from tests.support.common import FAKE_KEY
from tests.support.http import get, post
from tests.support.processes import ROOT, clean_env
from tests.support.runs import sample_run


def test_accepts_valid_runs_and_serves_them_back(collector: LocalCollector) -> None:
    root = sample_run(id="00000000-0000-4000-8000-000000000001", name="root")
    child = sample_run(id="00000000-0000-4000-8000-000000000002", name="child", parent_run_id=root["id"])
    assert post(collector.url, {"runs": [child, root]}) == (200, {"accepted": 2})
    status, listing = get(collector.url + "/v1/traces")
    assert status == 200
    assert listing["traces"] == [{"trace_id": root["trace_id"], "run_count": 2, "start_time": root["start_time"]}]
    status, trace = get(f"{collector.url}/v1/traces/{root['trace_id']}")
    assert status == 200 and {run["name"] for run in trace["runs"]} == {"root", "child"}
    assert get(collector.url + "/v1/traces/nope")[0] == 404


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"id": "not-a-uuid"}, "'id' must be a UUID string"),
        ({"type": "agent"}, "'type' must be one of workflow, flow, node"),
        ({"status": "done"}, "'status' must be one of"),
        ({"start_time": "2026-01-01T00:00:00"}, "'start_time' must be an ISO 8601 time with a UTC offset"),
        ({"metadata": []}, "'metadata' must be an object"),
        ({"error": {"msg": "x"}}, "'error' must be an object with a string \"message\""),
        ({"tags": [1]}, "'tags' must be a list of strings"),
        ({"trace_id": "t" * 257}, "'trace_id' must be a non-empty string of at most 256 characters"),
        ({"executions": [{"start_time": "2026-01-01T00:00:00+00:00"}]}, "executions[0] lacks required field 'id'"),
    ],
)
def test_invalid_run_gets_a_400_naming_the_field(collector: LocalCollector, change: dict[str, Any], named: str) -> None:
    status, answer = post(collector.url, {"runs": [sample_run(**change)]})
    assert status == 400
    assert any(named in problem for problem in answer["detail"]), answer
    assert collector.store.runs() == []


def test_missing_field_is_named(collector: LocalCollector) -> None:
    run = sample_run()
    del run["session_id"]
    status, answer = post(collector.url, {"runs": [run]})
    assert status == 400
    assert answer["detail"] == [f"runs[0] (id {run['id']}) lacks required field 'session_id'"]


def test_body_must_be_json_with_runs(collector: LocalCollector) -> None:
    assert post(collector.url, None, raw=b"{nope")[0] == 400
    assert post(collector.url, {"spans": []})[0] == 400


def test_gzip_bodies_are_accepted(collector: LocalCollector) -> None:
    raw = gzip.compress(json.dumps({"runs": [sample_run()]}).encode())
    assert post(collector.url, None, headers={"Content-Encoding": "gzip"}, raw=raw)[0] == 200
    assert collector.store.requests()[0]["content_encoding"] == "gzip"


def test_a_stored_run_id_is_updated_not_duplicated(collector: LocalCollector) -> None:
    post(collector.url, {"runs": [sample_run(status=None, end_time=None)]})
    post(collector.url, {"runs": [sample_run(status="failed", error={"message": "late"})]})
    (run,) = collector.store.runs()
    assert run["status"] == "failed"
    assert collector.store.delivery_counts() == {run["id"]: 2}


def test_bearer_key_is_checked_when_configured(keyed_collector: LocalCollector) -> None:
    assert post(keyed_collector.url, {"runs": [sample_run()]})[0] == 401
    assert post(keyed_collector.url, {"runs": [sample_run()]}, {"Authorization": "Bearer wrong"})[0] == 401
    assert post(keyed_collector.url, {"runs": [sample_run()]}, {"Authorization": f"Bearer {FAKE_KEY}"})[0] == 200


def test_tree_rendering_shows_nesting_durations_usage_and_errors() -> None:
    root = sample_run(id="00000000-0000-4000-8000-000000000001", name="Workflow", type="workflow")
    llm = sample_run(
        id="00000000-0000-4000-8000-000000000002",
        name="LLM",
        parent_run_id=root["id"],
        start_time="2026-01-01T00:00:00.100000+00:00",
        end_time="2026-01-01T00:00:00.350000+00:00",
        metadata={"usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}},
    )
    tool = sample_run(
        id="00000000-0000-4000-8000-000000000003",
        name="Tool",
        parent_run_id=root["id"],
        status="failed",
        start_time="2026-01-01T00:00:00.400000+00:00",
        error={"message": "tool exploded\nTraceback ..."},
    )
    assert render_tree([tool, llm, root]).splitlines() == [
        "Workflow [workflow]  succeeded  1000.0 ms",
        "├─ LLM [node]  succeeded  250.0 ms  tokens 10+5=15",
        "└─ Tool [node]  failed  600.0 ms  error: tool exploded",
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_command_line_serves_and_shows_a_trace(tmp_path: Any) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = tmp_path / "runs.sqlite3"
    command = [sys.executable, "-m", "otel_dynamiq.cli"]
    server = subprocess.Popen(
        [*command, "collector", "--port", str(port), "--db", str(database)],
        env=clean_env(),
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None
        assert f"listening on {url}" in server.stdout.readline()
        deadline = time.monotonic() + 10
        while post(url, {"runs": [sample_run(name="from-cli-test")]})[0] != 200:
            assert time.monotonic() < deadline
        shown = subprocess.run([*command, "show", "--url", url], env=clean_env(), capture_output=True, text=True)
        assert shown.returncode == 0, shown.stderr
        assert "from-cli-test [node]  succeeded" in shown.stdout
        missing = subprocess.run(
            [*command, "show", "ffffffff", "--url", url], env=clean_env(), capture_output=True, text=True
        )
        assert missing.returncode == 1 and "no runs for trace ffffffff" in missing.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert database.exists()


@pytest.mark.parametrize(
    ("variable", "flags", "indexed"),
    [
        ("true", [], True),
        ("true", ["--no-index-content"], False),
        ("false", ["--index-content"], True),
        ("", [], False),
    ],
)
def test_the_command_line_indexes_inputs_and_outputs_when_asked(variable: str, flags: list[str], indexed: bool) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "otel_dynamiq.cli", "collector", "--port", str(port), *flags],
        env=clean_env(OTEL_DYNAMIQ_COLLECTOR_INDEX_CONTENT=variable),
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()  # listening
        assert post(url, {"runs": [sample_run(input={"question": "where is my parcel?"})]})[0] == 200
        status, found = get(url + "/viewer/api/traces?q=my%20parcel")
        assert status == 200
        assert len(found["traces"]) == (1 if indexed else 0)
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_ids_in_any_spelling_are_stored_in_one_and_any_value_a_caller_gives_is_kept() -> None:
    from otel_dynamiq.collector import RunStore
    from otel_dynamiq.collector._validate import canonical_id

    spelled = "00000000-0000-4000-8000-0000000000AB"
    for given in (spelled, spelled.lower(), "{" + spelled + "}", spelled.replace("-", ""), "urn:uuid:" + spelled):
        assert canonical_id(given) == spelled.lower()
    assert canonical_id("not-a-uuid") == "not-a-uuid"
    store = RunStore()
    try:
        # Past what orjson writes (an int over 64 bits, a lone surrogate): stored all the same, by json.
        odd = sample_run(name="caf\u00e9 \u2603", output={"huge": 2**70, "broken": "\ud800"}, tags=["\u00e9t\u00e9"])
        store.add([odd], 1, None)
        (stored,) = store.runs(odd["trace_id"])
        assert stored == odd
        plain = sample_run(id="00000000-0000-4000-8000-000000000002", name="caf\u00e9 \u2603")
        store.add([plain], 1, None)
        assert store.runs(odd["trace_id"])[1]["name"] == "caf\u00e9 \u2603"
    finally:
        store.close()
