"""What a trace is labelled with (models, providers, tags, session, user) and the list's filters on them.

The store is used as the collector's request handlers use it; the runs are shaped as the native handler
and the exporter send them.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from otel_dynamiq.collector import _store
from otel_dynamiq.collector._store import RunStore, TraceFilter
from otel_dynamiq.collector._summary import run_facts
from tests.support.runs import sample_run


def trace_id(number: int) -> str:
    return f"00000000-0000-4000-8000-{number:012d}"


def run_id(trace: int, number: int) -> str:
    return f"{trace:08d}-0000-4000-8000-{number:012d}"


def at(seconds: float) -> str:
    return f"2026-01-01T00:00:{seconds:06.3f}+00:00"


def native_llm(trace: int, number: int, model: str, connection: str, start: float) -> dict[str, Any]:
    """An LLM node's run as Dynamiq's handler sends it: the provider only in the connection's class."""
    node = {"group": "llms", "model": model, "connection": {"id": "c", "type": f"dynamiq.connections.{connection}"}}
    return sample_run(
        id=run_id(trace, number),
        trace_id=trace_id(trace),
        parent_run_id=run_id(trace, 1),
        name=f"llm {number}",
        start_time=at(start),
        metadata={"node": node, "usage": {"total_tokens": 10}},
    )


def otel_llm(trace: int, number: int, model: str, provider: str, user: str | None, start: float) -> dict[str, Any]:
    """A GenAI span's run as the exporter sends it: provider named, the user among the span's attributes."""
    attributes = {"user.id": user} if user is not None else {}
    return sample_run(
        id=run_id(trace, number),
        trace_id=trace_id(trace),
        parent_run_id=run_id(trace, 1),
        name="chat",
        start_time=at(start),
        metadata={"node": {"group": "llms", "model": model, "provider": provider}, "otel": {"attributes": attributes}},
    )


def root(trace: int, start: float, session: str, tags: list[Any], **fields: Any) -> dict[str, Any]:
    return sample_run(
        id=run_id(trace, 1),
        trace_id=trace_id(trace),
        name=f"workflow {trace}",
        type="workflow",
        session_id=session,
        start_time=at(start),
        tags=tags,
        **fields,
    )


def labelled(store: RunStore) -> RunStore:
    """Three traces: 1 (gpt-4o and claude, session user-3, env:prod and team:a), 2 (gpt-4o, session user-4,
    users alice and bob, env:dev), 3 (llama3, session user-3, failed, user carol)."""
    store.add(
        [
            root(1, 1, "user-3", ["env:prod", "team:a"]),
            native_llm(1, 2, "gpt-4o", "OpenAI", 1.1),
            native_llm(1, 3, "claude-3-5-sonnet", "Anthropic", 1.2),
        ],
        100,
        None,
    )
    store.add(
        [
            root(2, 2, "user-4", ["env:dev", 7, "", "env:dev"], metadata={"user_id": "alice"}),
            otel_llm(2, 2, "gpt-4o", "openai", "bob", 2.1),
        ],
        100,
        None,
    )
    store.add([root(3, 3, "user-3", [], status="failed"), otel_llm(3, 2, "llama3", "ollama", "carol", 3.1)], 100, None)
    return store


def listed(store: RunStore, chosen: TraceFilter, **arguments: Any) -> list[str]:
    return [trace["trace_id"] for trace in store.trace_page(50, chosen=chosen, **arguments)[0]]


def test_each_label_finds_the_traces_that_carry_it(store: RunStore) -> None:
    assert listed(store, TraceFilter(labels=(("model", "gpt-4o"),))) == [trace_id(2), trace_id(1)]
    assert listed(store, TraceFilter(labels=(("model", "claude-3-5-sonnet"),))) == [trace_id(1)]
    # The provider of a Dynamiq node: its connection class, in lower case as OpenTelemetry names them.
    assert listed(store, TraceFilter(labels=(("provider", "anthropic"),))) == [trace_id(1)]
    assert listed(store, TraceFilter(labels=(("provider", "ollama"),))) == [trace_id(3)]
    assert listed(store, TraceFilter(labels=(("tag", "env:prod"),))) == [trace_id(1)]
    assert listed(store, TraceFilter(labels=(("tag", "env:dev"),))) == [trace_id(2)]
    assert listed(store, TraceFilter(labels=(("session", "user-3"),))) == [trace_id(3), trace_id(1)]
    # The user: the handler's metadata names one, a span's ``user.id`` another; each finds its trace.
    assert listed(store, TraceFilter(labels=(("user", "alice"),))) == [trace_id(2)]
    assert listed(store, TraceFilter(labels=(("user", "bob"),))) == [trace_id(2)]
    assert listed(store, TraceFilter(labels=(("user", "carol"),))) == [trace_id(3)]
    # All labels must hold; a value is matched exactly, never as a pattern.
    both = (("session", "user-3"), ("model", "gpt-4o"))
    assert listed(store, TraceFilter(labels=both)) == [trace_id(1)]
    assert listed(store, TraceFilter(labels=(("model", "gpt-%"),))) == []
    assert listed(store, TraceFilter(labels=(("model", "gpt-4o"),)), status="failed") == []
    assert listed(store, TraceFilter(labels=(("session", "user-3"),)), status="failed") == [trace_id(3)]


def test_a_start_range_includes_its_start_and_not_its_end(store: RunStore) -> None:
    second = store.trace_summary(trace_id(2))
    assert second is not None
    start = second["start_ms"]
    assert listed(store, TraceFilter(start_from=start)) == [trace_id(3), trace_id(2)]
    assert listed(store, TraceFilter(start_to=start)) == [trace_id(1)]
    assert listed(store, TraceFilter(start_from=start, start_to=start + 1)) == [trace_id(2)]


def test_the_summary_names_the_roots_session_and_the_first_user(store: RunStore) -> None:
    first, second = store.trace_summary(trace_id(1)), store.trace_summary(trace_id(2))
    assert first is not None and second is not None
    assert (first["session_id"], first["user_id"]) == ("user-3", None)
    assert (second["session_id"], second["user_id"]) == ("user-4", "alice")  # the root's before its child's


def test_filters_offer_the_commonest_values_first(store: RunStore) -> None:
    assert store.label_values("model", 10) == [("gpt-4o", 2), ("claude-3-5-sonnet", 1), ("llama3", 1)]
    assert store.label_values("session", 1) == [("user-3", 2)]
    # Tags that are not text, empty or repeated are not labels.
    assert store.label_values("tag", 10) == [("env:dev", 1), ("env:prod", 1), ("team:a", 1)]
    with pytest.raises(ValueError, match="one of model, provider"):
        store.label_values("name", 10)
    with pytest.raises(ValueError, match="one of model, provider"):
        store.trace_page(10, chosen=TraceFilter(labels=(("x = 1) OR (1", "y"),)))


def test_a_run_sent_again_replaces_its_labels(store: RunStore) -> None:
    store.add([native_llm(1, 3, "claude-3-7-sonnet", "Anthropic", 1.2)], 100, None)
    assert listed(store, TraceFilter(labels=(("model", "claude-3-5-sonnet"),))) == []
    assert listed(store, TraceFilter(labels=(("model", "claude-3-7-sonnet"),))) == [trace_id(1)]


def test_pages_of_a_filtered_list_go_on_where_the_last_ended() -> None:
    store = RunStore()
    try:
        store.add([root(n, n, "s", ["even" if n % 2 == 0 else "odd"]) for n in range(1, 41)], 100, None)
        chosen = TraceFilter(labels=(("tag", "even"),))
        seen: list[str] = []
        after = None
        while True:
            page, after = store.trace_page(7, after, chosen=chosen)
            seen += [trace["trace_id"] for trace in page]
            if after is None:
                break
        assert seen == [trace_id(n) for n in range(40, 0, -2)]
    finally:
        store.close()


def test_a_label_filter_reads_the_label_index(store: RunStore) -> None:
    statements: list[str] = []
    connection = store._connection
    connection.set_trace_callback(statements.append)
    try:
        store.trace_page(50, chosen=TraceFilter(labels=(("model", "gpt-4o"),)))
    finally:
        connection.set_trace_callback(None)
    (page,) = [statement for statement in statements if "FROM traces" in statement and "ORDER BY" in statement]
    plan = " ".join(str(step[-1]) for step in connection.execute(f"EXPLAIN QUERY PLAN {page}", ["x"] * page.count("?")))
    assert "SEARCH l USING PRIMARY KEY (kind=? AND value=?)" in plan, plan  # l: trace_labels


def test_a_file_an_older_collector_wrote_gains_sessions_and_labels(tmp_path: Path) -> None:
    path = str(tmp_path / "runs.db")
    older_file(path)
    store = RunStore(path)
    try:
        assert listed(store, TraceFilter(labels=(("model", "gpt-4o"), ("tag", "env:prod")))) == [trace_id(1)]
        summary = store.trace_summary(trace_id(1))
        assert summary is not None and summary["session_id"] == "user-3"
    finally:
        store.close()
    with sqlite3.connect(path) as reopened:
        assert json.loads(reopened.execute("SELECT tags FROM runs WHERE name = 'workflow 1'").fetchone()[0]) == [
            "env:prod"
        ]
    reopened.close()


def test_a_run_sent_again_under_another_trace_takes_its_labels_and_count_with_it(store: RunStore) -> None:
    moved = native_llm(1, 3, "claude-3-5-sonnet", "Anthropic", 1.2) | {"trace_id": trace_id(3)}
    store.add([moved], 100, None)
    assert listed(store, TraceFilter(labels=(("model", "claude-3-5-sonnet"),))) == [trace_id(3)]
    first = store.trace_summary(trace_id(1))
    assert first is not None and first["run_count"] == 2
    # A trace left without runs is no longer listed, nor are its labels offered.
    store.add([run | {"trace_id": trace_id(3)} for run in store.runs(trace_id(1))], 100, None)
    assert store.trace_summary(trace_id(1)) is None
    session = store.session("user-3")
    assert session is not None and session["turns"] == 1  # trace 3 alone: trace 1's turn left with it
    assert trace_id(1) not in listed(store, TraceFilter())
    assert ("env:prod", 1) in store.label_values("tag", 10)  # now trace 3's
    assert listed(store, TraceFilter(labels=(("tag", "env:prod"),))) == [trace_id(3)]


def older_file(path: str) -> None:
    """A file as the collector before labels left it: trace 1 with an LLM call, and a body no run can be read from."""
    first = RunStore(path)
    first.add([root(1, 1, "user-3", ["env:prod"]), native_llm(1, 2, "gpt-4o", "OpenAI", 1.1)], 100, None)
    first.close()
    with sqlite3.connect(path) as older:
        older.execute("DROP TABLE trace_labels")
        for index in ("traces_by_session", "runs_by_model_call"):
            older.execute(f"DROP INDEX IF EXISTS {index}")
        for column in ("session_id", "user_id"):
            older.execute(f"ALTER TABLE traces DROP COLUMN {column}")
        for column in ("model", "provider", "session_id", "user_id", "tags", "usage_counted_in", "usage_aggregate"):
            older.execute(f"ALTER TABLE runs DROP COLUMN {column}")
        older.execute(
            "INSERT INTO runs (id, trace_id, start_time, received, body) VALUES ('odd', ?, ?, 1, '[1, 2]')",
            (trace_id(2), at(2)),
        )
    older.close()


def test_an_upgrade_stopped_halfway_leaves_the_file_as_it_was_and_the_next_open_finishes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "runs.db")
    older_file(path)
    read = 0

    def facts_until_the_process_dies(run: dict[str, Any]) -> Any:
        nonlocal read
        read += 1
        if read == 2:
            raise KeyboardInterrupt  # as a process stopped between two runs would
        return run_facts(run)

    monkeypatch.setattr(_store, "run_facts", facts_until_the_process_dies)
    with pytest.raises(KeyboardInterrupt):
        RunStore(path)
    monkeypatch.undo()
    with sqlite3.connect(path) as after:
        assert "model" not in {row[1] for row in after.execute("PRAGMA table_info(runs)")}
    after.close()
    store = RunStore(path)
    try:
        assert listed(store, TraceFilter(labels=(("model", "gpt-4o"), ("tag", "env:prod")))) == [trace_id(1)]
        odd = store.trace_summary(trace_id(2))  # a body that is not a run object: listed, with what it has
        assert odd is not None and odd["run_count"] == 1
    finally:
        store.close()
