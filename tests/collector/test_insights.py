"""Sessions and the overview: what the viewer's sessions list, a session's page and its trend charts read.

The store is fed as the collector's request handlers feed it; the runs are shaped as the exporter sends them
(every run names a session: its span's, or the exporter's default). The viewer's pages are tested in Chromium
(tests/collector/test_viewer_browser.py).
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from otel_dynamiq.collector import LocalCollector, _insights
from otel_dynamiq.collector._store import RunStore, TraceFilter
from tests.support.http import get, post
from tests.support.runs import sample_run

T0 = 1_767_225_600_000.0
"""2026-01-01T00:00:00Z in epoch milliseconds: every start below is counted from it."""
MINUTE = 60_000.0


def iso(ms: float) -> str:
    """Epoch milliseconds after ``T0`` as the run's ISO time."""
    seconds = ms / 1000
    return f"2026-01-01T{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}:{seconds % 60:06.3f}+00:00"


def trace_id(number: int) -> str:
    return f"00000000-0000-4000-9000-{number:012d}"


def run_id(trace: int, number: int) -> str:
    return f"{trace:08d}-0000-4000-8000-{number:012d}"


def turn(
    trace: int,
    session: str | None,
    start: float,
    took: float | None = 1000.0,
    llm_calls: int = 1,
    failed: bool = False,
    user: str | None = None,
    **root_fields: Any,
) -> list[dict[str, Any]]:
    """One trace: a root in ``session`` (``start`` ms after T0) and, per LLM call, a Dynamiq LLM node naming
    the model without usage, and the client call below it carrying usage (10 tokens, $0.001): the usage is
    the call's alone. Children name the exporter's default session, as a span without ``session.id`` does."""
    root = sample_run(
        id=run_id(trace, 1),
        trace_id=trace_id(trace),
        name=f"turn {trace}",
        type="workflow",
        session_id=session,
        start_time=iso(start),
        end_time=None if took is None else iso(start + took),
        status="failed" if failed else ("succeeded" if took is not None else None),
        metadata={"user_id": user} if user else {},
        **root_fields,
    )
    runs = [root]
    for call in range(llm_calls):
        for number, parent, usage in ((10 + 2 * call, 1, None), (11 + 2 * call, 10 + 2 * call, 10)):
            metadata: dict[str, Any] = {"node": {"group": "llms", "model": "gpt-4o"}}
            if usage is not None:
                metadata["usage"] = {"total_tokens": usage, "total_tokens_cost_usd": usage / 10_000}
            runs.append(
                sample_run(
                    id=run_id(trace, number),
                    trace_id=trace_id(trace),
                    parent_run_id=run_id(trace, parent),
                    name="chat gpt-4o" if usage else "LLM",
                    session_id="exporter-default",
                    start_time=iso(start + 1),
                    end_time=iso(start + 2),
                    metadata=metadata,
                )
            )
    return runs


@pytest.fixture
def store() -> Iterator[RunStore]:
    made = RunStore()
    yield made
    made.close()


def add(store: RunStore, *traces: list[dict[str, Any]]) -> None:
    store.add([run for runs in traces for run in runs], 100, None)


def session_ids(store: RunStore, chosen: TraceFilter = TraceFilter(), limit: int = 50) -> list[str]:
    return [session["session_id"] for session in store.session_page(limit, chosen=chosen)[0]]


def test_a_session_holds_its_traces_with_their_totals_each_llm_call_once(store: RunStore) -> None:
    add(
        store,
        turn(1, "chat-a", 0, took=2000, llm_calls=2),
        turn(2, "chat-a", 5 * MINUTE, took=1000, failed=True, user="alice"),
        turn(3, "chat-a", 10 * MINUTE, took=None, llm_calls=0),  # still running: no duration to add
        turn(4, "chat-b", 7 * MINUTE, took=500),
    )
    sessions, following = store.session_page(50)
    assert following is None
    assert [session["session_id"] for session in sessions] == ["chat-a", "chat-b"]  # the latest last start first
    assert sessions[0] == {
        "session_id": "chat-a",
        "turns": 3,
        "first_start_ms": T0,
        "last_start_ms": T0 + 10 * MINUTE,
        "duration_ms": 3000.0,
        "runs": 5 + 3 + 1,
        "tokens": 30,  # three calls of 10: the nodes above them name the model but carry no usage
        "cost_usd": 0.003,
        "failures": 1,
    }
    assert store.session("chat-a") == {**sessions[0], "users": ["alice"]}
    assert store.session("exporter-default") is None  # every trace's session is its root's
    assert store.session("nobody") is None


def test_a_trace_leaves_the_default_session_when_its_root_arrives(store: RunStore) -> None:
    children = turn(1, "chat", 0)[1:]
    add(store, children)  # the children's spans end first, so they are exported first
    assert session_ids(store) == ["exporter-default"]
    add(store, turn(1, "chat", 0)[:1])
    assert session_ids(store) == ["chat"]
    session = store.session("chat")
    assert session is not None and (session["turns"], session["runs"], session["tokens"]) == (1, 3, 10)
    # Sent again with another session (a retried request from a process that changed it): it moves.
    add(store, turn(1, "chat-2", 0)[:1])
    assert session_ids(store) == ["chat-2"]


def recounted(store: RunStore) -> dict[str, tuple[Any, ...]]:
    """Every session counted afresh from the trace summaries: what the triggers must always agree with."""
    rows = store._connection.execute(
        "SELECT session_id, COUNT(*), MIN(start_ms), MAX(start_ms), TOTAL(end_ms - start_ms), SUM(run_count),"
        " TOTAL(tokens), COUNT(tokens), TOTAL(cost_usd), COUNT(cost_usd), COUNT(CASE WHEN failures > 0 THEN 1 END)"
        " FROM traces WHERE session_id IS NOT NULL GROUP BY session_id"
    )
    return {row[0]: tuple(round(value, 6) for value in row[1:]) for row in rows}


def kept(store: RunStore) -> dict[str, tuple[Any, ...]]:
    rows = store._connection.execute(f"SELECT {', '.join(_insights.SESSION_COLUMNS)} FROM sessions")
    return {row[0]: tuple(round(value, 6) for value in row[1:]) for row in rows}


def test_the_kept_sessions_always_equal_a_recount_of_the_summaries(store: RunStore) -> None:
    """Runs arrive in any order, are sent again changed, and traces change session and user."""
    chance = random.Random(29)
    for _ in range(300):
        number = chance.randrange(40)
        runs = turn(
            number,
            chance.choice(["s1", "s2", "s3", None]),
            chance.randrange(100) * MINUTE,
            took=chance.choice([None, 250.0, 1000.0, 7000.0]),
            llm_calls=chance.randrange(3),
            failed=chance.random() < 0.3,
            user=chance.choice([None, "alice", "bob"]),
        )
        add(store, chance.sample(runs, chance.randrange(1, len(runs) + 1)))
        if chance.random() < 0.3:
            store.session_page(1)  # a reader: the summaries are recounted now
    store.session_page(1)
    assert kept(store) == recounted(store)
    users = store._connection.execute("SELECT user_id, session_id, turns FROM session_users ORDER BY 1, 2").fetchall()
    assert (
        users
        == store._connection.execute(
            "SELECT user_id, session_id, COUNT(*) FROM traces WHERE user_id IS NOT NULL AND session_id IS NOT NULL"
            " GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
    )


def test_sessions_come_a_page_at_a_time_ties_by_id(store: RunStore) -> None:
    add(store, *(turn(n, f"s{n:02d}", (n // 3) * MINUTE) for n in range(20)))  # three at a time share a start
    expected = [f"s{n:02d}" for n in sorted(range(20), key=lambda n: (n // 3, n), reverse=True)]
    seen: list[str] = []
    after = None
    while True:
        page, after = store.session_page(4, after)
        seen += [session["session_id"] for session in page]
        if after is None:
            break
    assert seen == expected


def test_a_range_keeps_the_sessions_with_a_turn_started_in_it(store: RunStore) -> None:
    add(
        store,
        turn(1, "early-and-late", 0),
        turn(2, "early-and-late", 60 * MINUTE),
        turn(3, "middle", 30 * MINUTE),
        turn(4, "late", 61 * MINUTE),
    )
    assert session_ids(store, TraceFilter(start_from=T0 + 30 * MINUTE)) == ["late", "early-and-late", "middle"]
    # The first session spans the range, but none of its turns started in it.
    assert session_ids(store, TraceFilter(T0 + 20 * MINUTE, T0 + 40 * MINUTE)) == ["middle"]
    assert session_ids(store, TraceFilter(T0 + 60 * MINUTE, T0 + 61 * MINUTE)) == ["early-and-late"]
    assert session_ids(store, TraceFilter(start_to=T0 + 30 * MINUTE)) == ["early-and-late"]  # ``to`` excluded
    assert session_ids(store, TraceFilter(T0 + 62 * MINUTE)) == []
    # A page of a range goes on where the last ended.
    page, after = store.session_page(1, chosen=TraceFilter(start_from=T0 + 30 * MINUTE))
    assert [session["session_id"] for session in page] == ["late"] and after is not None
    page, _ = store.session_page(5, after, TraceFilter(start_from=T0 + 30 * MINUTE))
    assert [session["session_id"] for session in page] == ["early-and-late", "middle"]


def test_sessions_of_one_user_and_only_the_user_label(store: RunStore) -> None:
    add(
        store,
        turn(1, "a", 0, user="alice"),
        turn(2, "b", MINUTE, user="bob"),
        turn(3, "a", 2 * MINUTE, user="bob"),  # bob had a turn in alice's session too
    )
    assert session_ids(store, TraceFilter(labels=(("user", "bob"),))) == ["a", "b"]
    assert session_ids(store, TraceFilter(labels=(("user", "alice"),))) == ["a"]
    assert session_ids(store, TraceFilter(labels=(("user", "carol"),))) == []
    session = store.session("a")
    assert session is not None and session["users"] == ["alice", "bob"]
    with pytest.raises(ValueError, match="start and one user"):
        store.session_page(5, chosen=TraceFilter(labels=(("model", "gpt-4o"),)))


def test_a_sessions_turns_oldest_first_with_their_roots_input_and_output_in_brief(store: RunStore) -> None:
    long_question = "word " * 100
    add(
        store,
        turn(3, "chat", 2 * MINUTE, input={"messages": [{"role": "user", "content": long_question}]}),
        turn(1, "chat", 0, input={"input": "What is the weather in Oslo?"}, output={"content": "Sunny, 21 °C."}),
        turn(2, "chat", MINUTE, input="plain text", output={"answer": {"nested": 1}, "score": 0.5}),
        turn(4, "other", 0),
    )
    add(store, turn(5, "chat", 3 * MINUTE)[1:])  # no root yet: nothing to preview
    turns, following = store.turn_page("chat", 50)
    assert following is None
    assert [t["trace_id"] for t in turns] == [trace_id(1), trace_id(2), trace_id(3)]
    assert [(t["input"], t["output"]) for t in turns[:2]] == [
        ("What is the weather in Oslo?", "Sunny, 21 °C."),
        ("plain text", '{"answer":{"nested":1},"score":0.5}'),  # no text in it: its JSON, compact
    ]
    assert turns[2]["input"] == ("word " * 40)[:199] + "…"  # spaces gathered, cut at 200 characters
    assert turns[0]["tokens"] == 10 and turns[0]["run_count"] == 3 and turns[0]["session_id"] == "chat"
    # The root-less trace is in the default session until its root comes.
    assert [(t["trace_id"], t["input"]) for t in store.turn_page("exporter-default", 5)[0]] == [(trace_id(5), None)]
    first, after = store.turn_page("chat", 2)
    assert [t["trace_id"] for t in first] == [trace_id(1), trace_id(2)] and after == (T0 + MINUTE, trace_id(2))
    rest, after = store.turn_page("chat", 2, after)
    assert [t["trace_id"] for t in rest] == [trace_id(3)] and after is None


def test_a_root_too_large_to_preview_is_not_parsed(store: RunStore) -> None:
    big = "x" * (_insights.MAX_PREVIEW_BYTES + 10)
    add(store, turn(1, "chat", 0, input={"input": big}))
    (only,), _ = store.turn_page("chat", 5)
    assert only["input"] == only["output"]
    assert only["input"].startswith("(not shown: the run is 256 KiB")


def test_a_root_nested_deeper_than_python_parses_shows_no_preview_and_the_page_still_answers(
    store: RunStore,
) -> None:
    runs = turn(1, "chat", 0)
    add(store, runs)
    root = runs[0]
    deep = '{"input": ' + "[" * 100_000 + "]" * 100_000 + "}"  # as a file another program wrote may hold
    store._connection.execute("UPDATE runs SET body = ? WHERE id = ?", (deep, root["id"]))
    (only,), _ = store.turn_page("chat", 5)
    assert (only["input"], only["output"]) == (None, None)


def test_turns_with_the_same_start_are_paged_by_trace_id(store: RunStore) -> None:
    add(store, *(turn(n, "chat", 0) for n in range(7)))
    seen: list[str] = []
    after = None
    while True:
        page, after = store.turn_page("chat", 3, after)
        seen += [t["trace_id"] for t in page]
        if after is None:
            break
    assert seen == [trace_id(n) for n in range(7)]


def test_overview_buckets_count_traces_failures_tokens_and_cost(store: RunStore) -> None:
    add(
        store,
        turn(1, "s", 0.5 * MINUTE, llm_calls=2),
        turn(2, "s", 0.7 * MINUTE, failed=True),
        turn(3, "s", 2.5 * MINUTE, llm_calls=0, took=None),  # running: counted, but no duration
        turn(4, "s", 70 * MINUTE),  # after the range
    )
    answer = store.overview(TraceFilter(T0, T0 + 60 * MINUTE), buckets=60)
    assert answer["bucket_ms"] == MINUTE and (answer["from"], answer["to"]) == (T0, T0 + 60 * MINUTE)
    buckets = answer["buckets"]
    assert len(buckets) == 60 and [b["start"] for b in buckets[:3]] == [T0, T0 + MINUTE, T0 + 2 * MINUTE]
    assert buckets[0] == {
        "start": T0,
        "traces": 2,
        "errors": 1,
        "p50_ms": 1000.0,
        "p95_ms": 1000.0,
        "tokens": 30,
        "cost_usd": 0.003,
    }
    empty = {"traces": 0, "errors": 0, "p50_ms": None, "p95_ms": None, "tokens": 0, "cost_usd": 0}
    assert buckets[1] == {"start": T0 + MINUTE, **empty}
    assert buckets[2] == {"start": T0 + 2 * MINUTE, **empty, "traces": 1}  # running: counted, no duration
    assert answer["totals"] == {
        "traces": 3,
        "errors": 1,
        "p50_ms": 1000.0,
        "p95_ms": 1000.0,
        "tokens": 30,
        "cost_usd": 0.003,
    }
    assert answer["models"] == [{"model": "gpt-4o", "calls": 3, "tokens": 30, "cost_usd": 0.003}]


def test_percentiles_are_durations_some_trace_took(store: RunStore) -> None:
    # Twenty traces in one minute taking 1 to 20 s, in shuffled order.
    seconds = random.Random(5).sample(range(1, 21), 20)
    add(store, *(turn(n, "s", n * 100, took=took * 1000.0, llm_calls=0) for n, took in enumerate(seconds)))
    (only,) = store.overview(TraceFilter(T0, T0 + MINUTE), buckets=1)["buckets"]
    assert (only["traces"], only["p50_ms"], only["p95_ms"]) == (20, 10_000.0, 19_000.0)  # nearest rank
    assert _insights.percentiles([5.0]) == {"p50_ms": 5.0, "p95_ms": 5.0}
    assert _insights.percentiles([5.0, 7.0]) == {"p50_ms": 5.0, "p95_ms": 7.0}
    assert _insights.percentiles([]) == {"p50_ms": None, "p95_ms": None}


def test_the_overview_of_all_spans_the_data_and_counts_calls_by_model(store: RunStore) -> None:
    add(store, turn(1, "s", 0), turn(2, "s", 90 * MINUTE, llm_calls=3), turn(3, "s", 45 * MINUTE, llm_calls=0))
    # Another model, and a call whose model is named on the node only (no usage anywhere): not a call.
    claude = sample_run(
        id=run_id(3, 50),
        trace_id=trace_id(3),
        parent_run_id=run_id(3, 1),
        start_time=iso(45 * MINUTE + 5),
        metadata={"node": {"model": "claude-3-5-sonnet"}, "usage": {"prompt_tokens": 7, "completion_tokens": 5}},
    )
    unpriced = sample_run(
        id=run_id(3, 51),
        trace_id=trace_id(3),
        parent_run_id=run_id(3, 1),
        start_time=iso(45 * MINUTE + 6),
        metadata={"node": {"model": "llama3"}},
    )
    add(store, [claude, unpriced])
    answer = store.overview(buckets=60)
    assert (answer["from"], answer["to"]) == (T0, T0 + 90 * MINUTE + 1)  # the earliest start to just after the last
    assert answer["bucket_ms"] == 2 * MINUTE and len(answer["buckets"]) == 46
    assert sum(b["traces"] for b in answer["buckets"]) == 3
    assert answer["models"] == [
        {"model": "gpt-4o", "calls": 4, "tokens": 40, "cost_usd": 0.004},
        {"model": "claude-3-5-sonnet", "calls": 1, "tokens": 12, "cost_usd": 0.0},
    ]
    # The model calls of a range are those started in it.
    early = store.overview(TraceFilter(T0, T0 + 50 * MINUTE))
    assert [(m["model"], m["calls"]) for m in early["models"]] == [("claude-3-5-sonnet", 1), ("gpt-4o", 1)]


def test_models_past_the_most_listed_are_summed_as_others(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_insights, "MAX_MODELS", 2)
    monkeypatch.setattr(_insights, "MAX_MODEL_SEEKS", 3)
    calls = [
        sample_run(
            id=run_id(1, n),
            trace_id=trace_id(1),
            start_time=iso(n),
            metadata={"node": {"model": f"m{n % 5}"}, "usage": {"total_tokens": 1 + n % 5}},
        )
        for n in range(1, 16)
    ]
    add(store, calls)
    # m0..m2 are looked up one by one, m3 and m4 summed in one pass; the two with most calls are listed.
    assert store.overview()["models"] == [
        {"model": "m0", "calls": 3, "tokens": 3, "cost_usd": 0},
        {"model": "m1", "calls": 3, "tokens": 6, "cost_usd": 0},
        {"model": None, "calls": 9, "tokens": 9 + 12 + 15, "cost_usd": 0},
    ]


def test_empty_ranges_give_empty_answers(store: RunStore) -> None:
    answer = store.overview()
    assert answer["buckets"] == [] and answer["models"] == [] and answer["bucket_ms"] is None
    assert answer["totals"] == {"traces": 0, "errors": 0, "p50_ms": None, "p95_ms": None, "tokens": 0, "cost_usd": 0}
    assert store.session_page(10) == ([], None)
    add(store, turn(1, "s", 0))
    quiet = store.overview(TraceFilter(T0 + 10 * MINUTE, T0 + 20 * MINUTE), buckets=10)
    assert len(quiet["buckets"]) == 10 and all(b["traces"] == 0 and b["p95_ms"] is None for b in quiet["buckets"])
    assert quiet["models"] == [] and quiet["totals"]["traces"] == 0
    assert session_ids(store, TraceFilter(T0 + 10 * MINUTE)) == []
    assert store.turn_page("nobody", 10) == ([], None)


@pytest.mark.parametrize(
    ("span_ms", "width_ms", "count"),
    [
        (3_600_000, 60_000, 61),  # 1 h from 14:27:30: a minute each, the first and last partial
        (86_400_000, 1_800_000, 49),
        (7 * 86_400_000, 3 * 3_600_000, 57),
        (30 * 86_400_000, 12 * 3_600_000, 61),
        (900, 1000, 1),
    ],
)
def test_buckets_are_widths_a_reader_counts_in(span_ms: float, width_ms: float, count: int) -> None:
    start = T0 + 14 * 3_600_000 + 27.5 * MINUTE
    assert _insights.bucket_width(start, start + span_ms, 60) == width_ms
    store = RunStore()
    try:
        answer = store.overview(TraceFilter(start, start + span_ms), buckets=60)
    finally:
        store.close()
    assert len(answer["buckets"]) == count
    assert all(b["start"] % width_ms == 0 for b in answer["buckets"])


def plans(store: RunStore, read: Any) -> list[str]:
    """The query plan of every statement ``read`` makes, one string each."""
    statements: list[str] = []
    connection = store._connection
    connection.set_trace_callback(statements.append)
    try:
        read()
    finally:
        connection.set_trace_callback(None)
    found = []
    for statement in statements:
        if statement.lstrip().upper().startswith("SELECT"):
            steps = connection.execute(f"EXPLAIN QUERY PLAN {statement}", [0] * statement.count("?")).fetchall()
            found.append(" | ".join(str(step[-1]) for step in steps))
    return found


def test_every_read_is_an_index_range_never_a_scan_of_a_table(store: RunStore) -> None:
    add(store, *(turn(n, f"s{n % 3}", n * MINUTE, user="alice") for n in range(6)))
    reads = {
        "sessions": lambda: store.session_page(50),
        "sessions in range": lambda: store.session_page(50, (T0 + 9 * MINUTE, "s9"), TraceFilter(T0, T0 + MINUTE)),
        "sessions of a user": lambda: store.session_page(50, chosen=TraceFilter(labels=(("user", "alice"),))),
        "session": lambda: store.session("s1"),
        "turns": lambda: store.turn_page("s1", 50, (T0, trace_id(0))),
        "overview": lambda: store.overview(TraceFilter(T0, T0 + 60 * MINUTE)),
        "overview of all": lambda: store.overview(),
    }
    joined = {name: " || ".join(dict.fromkeys(plans(store, read))) for name, read in reads.items()}
    for name, plan in joined.items():
        for step in plan.replace(" || ", " | ").split(" | "):
            # An index may be walked in its order (a page's LIMIT stops the walk); a table never.
            assert not step.startswith("SCAN") or " INDEX " in step, (name, step)
    assert "sessions USING INDEX sessions_by_last" in joined["sessions"]
    assert "USING INDEX sessions_by_last (last_start_ms>? AND last_start_ms<?)" in joined["sessions in range"]
    assert "traces_by_session (session_id=? AND start_ms>? AND start_ms<?)" in joined["sessions in range"]
    # A user's sessions are sorted (a temporary tree): as many as the user has, each found by its key.
    assert "SEARCH u USING PRIMARY KEY (user_id=?)" in joined["sessions of a user"]
    assert "SEARCH sessions USING INDEX sqlite_autoindex_sessions_1 (session_id=?)" in joined["sessions of a user"]
    assert "session_users USING COVERING INDEX session_users_by_session (session_id=?)" in joined["session"]
    assert "traces USING INDEX traces_by_session (session_id=? AND start_ms>?)" in joined["turns"]
    assert "runs USING INDEX runs_by_trace_start (trace_id=?)" in joined["turns"]  # each root's body
    for name in ("overview", "overview of all"):
        assert "traces USING COVERING INDEX traces_by_start_totals (start_ms>? AND start_ms<?)" in joined[name]
        assert "runs USING COVERING INDEX runs_by_model_call (model=?" in joined[name]
        assert "runs USING COVERING INDEX runs_by_model_call (model>?)" in joined[name]
    assert "traces USING COVERING INDEX traces_by_start" in joined["overview of all"]  # the first and last start


def test_sessions_are_counted_from_the_file_as_it_is_when_the_store_opens(tmp_path: Path) -> None:
    """The file holds no sessions: whatever wrote it last (another version, a person) leaves nothing stale."""
    path = str(tmp_path / "runs.db")
    first = RunStore(path)
    add(first, turn(1, "chat", 0, user="alice"), turn(2, "chat", MINUTE), turn(3, "solo", 0))
    first.close()
    with sqlite3.connect(path) as other:  # a writer that knows nothing of sessions
        names = {name for (name,) in other.execute("SELECT name FROM sqlite_master")}
        assert not names & {"sessions", "session_users", *_insights._TRIGGERS}
        other.execute("UPDATE traces SET session_id = 'moved' WHERE trace_id = ?", (trace_id(2),))
        other.execute("DROP INDEX runs_by_model_call")  # as a collector before the overview left it
    other.close()
    store = RunStore(path)
    try:
        assert session_ids(store) == ["moved", "solo", "chat"]  # the last two last started at once: by id
        session = store.session("chat")
        assert session is not None and (session["turns"], session["tokens"], session["users"]) == (1, 10, ["alice"])
        add(store, turn(4, "chat", 2 * MINUTE))  # and keeps them from then on
        assert kept(store) == recounted(store)
        assert store.overview()["models"][0]["calls"] == 4
    finally:
        store.close()


def test_the_api_answers_sessions_a_session_and_the_overview(collector: LocalCollector) -> None:
    runs = [*turn(1, "chat/1 ~ é", 0, input={"input": "hi"}), *turn(2, "chat/1 ~ é", MINUTE), *turn(3, "b", 0)]
    assert post(collector.url, {"runs": runs})[0] == 200
    api = collector.url + "/viewer/api"
    status, page = get(f"{api}/sessions?limit=1")
    assert status == 200 and [s["session_id"] for s in page["sessions"]] == ["chat/1 ~ é"]
    status, rest = get(f"{api}/sessions?limit=1&after={quote(page['next'])}")
    assert status == 200 and [s["session_id"] for s in rest["sessions"]] == ["b"] and rest["next"] is None
    status, _ = get(f"{api}/sessions?from={T0 + MINUTE:.0f}&to={T0 + 2 * MINUTE:.0f}&user=")
    assert status == 200
    status, session = get(f"{api}/sessions/chat%2F1%20~%20%C3%A9?limit=1")
    assert status == 200 and session["session"]["turns"] == 2 and session["turns"][0]["input"] == "hi"
    status, second = get(f"{api}/sessions/chat%2F1%20~%20%C3%A9?limit=1&after={quote(session['next'])}")
    assert status == 200 and [t["trace_id"] for t in second["turns"]] == [trace_id(2)] and second["next"] is None
    assert get(f"{api}/sessions/nobody") == (404, {"detail": "no such session"})
    status, overview = get(f"{api}/overview?from={T0:.0f}&to={T0 + 10 * MINUTE:.0f}&buckets=10")
    assert status == 200 and len(overview["buckets"]) == 10 and overview["totals"]["traces"] == 3
    assert overview["models"] == [{"model": "gpt-4o", "calls": 3, "tokens": 30, "cost_usd": 0.003}]


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("sessions?limit=0", "limit must be a number from 1 to 200"),
        ("sessions?limit=201", "limit must be a number from 1 to 200"),
        ("sessions?after=nonsense", "after must be the 'next' of the previous page"),
        ("sessions?after=nan~x", "after must be the 'next' of the previous page"),
        ("sessions?from=yesterday", "from must be a time in milliseconds since the epoch"),
        ("sessions?model=gpt-4o", "sessions are chosen by start and one user only"),
        ("sessions/chat?limit=101", "limit must be a number from 1 to 100"),
        ("sessions/chat?after=1~", "after must be the 'next' of the previous page"),
        ("overview?buckets=0", "buckets must be a number from 1 to 200"),
        ("overview?buckets=201", "buckets must be a number from 1 to 200"),
        ("overview?buckets=%C2%B2", "buckets must be a number from 1 to 200"),
        ("overview?from=2&to=1", "from must be before to"),
        ("overview?from=-1", "from and to must be times from the epoch"),
        ("overview?to=1e300", "from and to must be times from the epoch"),
        ("overview?to=inf", "to must be a time in milliseconds since the epoch"),
        ("overview?user=alice", "the overview takes from, to and buckets only"),
    ],
)
def test_a_bad_parameter_is_a_400_that_says_what_is_wanted(collector: LocalCollector, query: str, says: str) -> None:
    assert post(collector.url, {"runs": turn(1, "chat", 0)})[0] == 200
    status, body = get(f"{collector.url}/viewer/api/{query}")
    assert status == 400, body
    assert says in body["detail"], body


def test_a_session_page_parses_no_json_but_its_roots(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A turn's preview is its root's JSON: the bodies of its other runs are never parsed."""
    add(store, turn(1, "chat", 0, llm_calls=3, input={"input": "q"}))
    parsed: list[str] = []
    original = json.loads

    def counting(text: str | bytes, **kwargs: Any) -> Any:
        parsed.append(str(text))
        return original(text, **kwargs)

    monkeypatch.setattr(_insights.json, "loads", counting)
    store.turn_page("chat", 10)
    monkeypatch.undo()
    assert [json.loads(body)["id"] for body in parsed] == [run_id(1, 1)]
