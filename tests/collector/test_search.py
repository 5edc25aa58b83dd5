"""The traces list's text search: an FTS5 index per trace (trigram), its fallback scan, and what it holds.

The store is used as the collector's request handlers use it; the runs are the labels tests' (``labelled``:
a native LLM node, OpenTelemetry GenAI spans, workflows with sessions, tags and users).
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from otel_dynamiq.collector import _store
from otel_dynamiq.collector._store import TRACE_SORTS, RunStore, TraceFilter
from tests.collector.test_trace_labels import labelled, native_llm, otel_llm, root, run_id, trace_id
from tests.support.runs import sample_run


def found(store: RunStore, text: str, **arguments: Any) -> list[str]:
    return [trace["trace_id"] for trace in store.trace_page(50, text=text, **arguments)[0]]


def statements_of(store: RunStore, text: str) -> list[str]:
    """The SQL one search ran."""
    statements: list[str] = []
    store._connection.set_trace_callback(statements.append)
    try:
        store.trace_page(50, text=text)
    finally:
        store._connection.set_trace_callback(None)
    return statements


def test_the_index_finds_a_trace_by_its_models_session_tags_users_names_and_id(store: RunStore) -> None:
    assert store.searchable
    assert found(store, "gpt-4o") == [trace_id(2), trace_id(1)]
    assert found(store, "GPT-4") == [trace_id(2), trace_id(1)]  # any case, any fragment
    assert found(store, "anthropic") == [trace_id(1)]  # a provider from a connection's class
    assert found(store, "user-3") == [trace_id(3), trace_id(1)]  # a session
    assert found(store, "env:prod") == [trace_id(1)]
    assert found(store, "env:") == [trace_id(2), trace_id(1)]
    assert found(store, "carol") == [trace_id(3)]  # a user from a span's user.id
    assert found(store, "alice") == [trace_id(2)]
    assert found(store, "workflow 2") == [trace_id(2)]  # a run's name
    assert found(store, "llm 3") == [trace_id(1)]
    assert found(store, trace_id(3)[-7:]) == [trace_id(3)]  # a fragment of the trace id
    assert found(store, "nowhere at all") == []
    # Each search read the index, never the runs' names one by one.
    (search,) = [statement for statement in statements_of(store, "gpt-4o") if statement.startswith("SELECT trace_id")]
    assert "MATCH" in search and "LIKE" not in search


def test_a_run_or_trace_id_is_found_whole_in_either_form(store: RunStore) -> None:
    run = run_id(3, 2)
    assert found(store, run) == [trace_id(3)]
    assert found(store, run.replace("-", "").upper()) == [trace_id(3)]  # as OpenTelemetry prints it
    assert found(store, trace_id(2).replace("-", "")) == [trace_id(2)]
    assert found(store, run[:13]) == []  # run ids are not in the index: a fragment of one finds nothing


@pytest.mark.parametrize(
    "query",
    ['say "hi"', '"hi" OR x', "NOT x", "a* AND b", "NEAR(a b)", "col: x", "^start", "x + y", "(a)", "-x", "'; --"],
)
def test_quotes_and_search_syntax_in_a_query_are_plain_text(query: str) -> None:
    store = RunStore()
    try:
        named = [root(1, 1, "s", []) | {"name": f"before {query} after"}, root(2, 2, "s", []) | {"name": "a b x y hi"}]
        store.add(named, 1, None)
        assert found(store, query) == [trace_id(1)]  # the exact text, nothing the FTS5 syntax would make of it
        assert found(store, f"{query} never") == []
    finally:
        store.close()


def test_a_search_combines_with_filters_sorts_and_pages_whichever_way_it_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = RunStore()
    try:
        for number in range(1, 41):
            usage = {"total_tokens": 10, "total_tokens_cost_usd": (number * 7 % 40) / 100}
            runs = [
                root(number, number, f"s{number % 3}", ["even" if number % 2 == 0 else "odd"]),
                otel_llm(number, 2, "gpt-4o" if number % 4 else "llama3", "openai", None, number + 0.1)
                | {
                    "metadata": {
                        "node": {"group": "llms", "model": "gpt-4o" if number % 4 else "llama3"},
                        "usage": usage,
                    }
                },
            ]
            store.add(runs, 100, None)
        chosen = TraceFilter(labels=(("tag", "even"),))
        expected = sorted(
            (n for n in range(1, 41) if n % 2 == 0 and n % 4),
            key=lambda n: ((n * 7 % 40) / 100, trace_id(n)),
        )
        cheapest_first = replace(TRACE_SORTS["cost"], descending=False)
        twentieth = store.trace_summary(trace_id(20))
        assert twentieth is not None
        for most in (2_000, 3):  # the matches sorted, then the list's order walked and each looked up
            monkeypatch.setattr(_store, "SEARCH_SORTED_MOST", most)
            seen: list[str] = []
            after = None
            while True:
                page, after = store.trace_page(3, after, text="gpt-4", sort=cheapest_first, chosen=chosen)
                seen += [trace["trace_id"] for trace in page]
                if after is None:
                    break
            assert seen == [trace_id(n) for n in expected], most
            assert found(store, "gpt-4", status="failed") == []
            since = TraceFilter(start_from=twentieth["start_ms"])
            assert found(store, "llama", chosen=since) == [trace_id(n) for n in (40, 36, 32, 28, 24, 20)]
    finally:
        store.close()


def test_a_run_sent_again_replaces_what_its_trace_is_found_by(store: RunStore) -> None:
    store.add([native_llm(1, 3, "claude-3-7-sonnet", "Anthropic", 1.2)], 100, None)
    assert found(store, "claude-3-5") == []
    assert found(store, "claude-3-7") == [trace_id(1)]
    store.add([root(2, 2, "user-4", ["env:dev"]) | {"name": "renamed workflow"}], 100, None)
    assert found(store, "workflow 2") == []
    assert found(store, "renamed") == [trace_id(2)]


def test_inputs_and_outputs_are_searched_only_when_content_is_indexed() -> None:
    question = {"messages": [{"role": "user", "content": "What is our refund policy?"}]}
    answer = {"content": "Refunds within 30 days." + " padding" * 500 + " hidden-tail"}
    run = root(1, 1, "s", [], input=question, output=answer)
    plain, indexed = RunStore(), RunStore(index_content=True)
    try:
        for store in (plain, indexed):
            store.add([run, root(2, 2, "s", [], input={"text": "nothing here"})], 100, None)
        assert found(plain, "refund policy") == []
        assert found(plain, "refund") == []
        assert found(indexed, "refund policy") == [trace_id(1)]  # the input's text
        assert found(indexed, "within 30 days") == [trace_id(1)]  # the output's
        assert found(indexed, "role") == []  # keys are not text
        assert found(indexed, "hidden-tail") == []  # past the first SEARCH_CONTENT_CHARS of the output
        assert found(indexed, "30") == [trace_id(1)]  # too short for the index: the scan reads the same text
        assert found(plain, "30") == []
    finally:
        plain.close()
        indexed.close()


def test_turning_content_indexing_on_indexes_the_runs_already_stored_and_off_takes_their_text_out(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "runs.db")
    question = {"messages": [{"role": "user", "content": "What is our refund policy?"}]}
    first = RunStore(path)
    first.add([root(1, 1, "s", [], input=question), root(2, 2, "s", [])], 100, None)
    assert found(first, "refund policy") == []
    first.close()

    turned_on = RunStore(path, index_content=True)
    try:
        assert found(turned_on, "refund policy") == [trace_id(1)]  # stored while it was off
        assert found(turned_on, "workflow 2") == [trace_id(2)]
        turned_on.add([root(3, 3, "s", [], output={"text": "refund issued"})], 100, None)
        assert found(turned_on, "refund") == [trace_id(3), trace_id(1)]
    finally:
        turned_on.close()

    kept_on = RunStore(path, index_content=True)
    try:
        assert found(kept_on, "refund") == [trace_id(3), trace_id(1)]
    finally:
        kept_on.close()

    turned_off = RunStore(path)
    try:
        assert found(turned_off, "refund") == []
        assert found(turned_off, "re") == []  # nor by the scan
        assert found(turned_off, "workflow 1") == [trace_id(1)]  # names stay
        assert turned_off._connection.execute("SELECT COUNT(*) FROM runs WHERE content IS NOT NULL").fetchone() == (0,)
    finally:
        turned_off.close()


def test_without_trigrams_a_search_scans_and_finds_the_same_traces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_store, "search_index_available", lambda connection: False)
    store = labelled(RunStore())
    try:
        assert not store.searchable
        assert found(store, "gpt-4o") == [trace_id(2), trace_id(1)]
        assert found(store, "user-3") == [trace_id(3), trace_id(1)]
        assert found(store, "env:prod") == [trace_id(1)]
        assert found(store, "workflow 2") == [trace_id(2)]
        assert found(store, run_id(3, 2)) == [trace_id(3)]
        assert found(store, "%") == []  # LIKE's wildcards are literal
        assert not any("MATCH" in statement for statement in statements_of(store, "gpt-4o"))
        assert store._connection.execute("SELECT name FROM sqlite_master WHERE name = 'trace_search'").fetchall() == []
    finally:
        store.close()


def test_a_query_of_one_or_two_characters_is_scanned(store: RunStore) -> None:
    assert found(store, "3") == [trace_id(3), trace_id(1)]  # llama3, user-3 (and names, ids)
    assert found(store, "ol") == [trace_id(3)]  # ollama
    assert not any("MATCH" in statement for statement in statements_of(store, "ol"))


def test_a_file_an_older_collector_wrote_gains_its_index_on_open(tmp_path: Path) -> None:
    path = str(tmp_path / "runs.db")
    labelled(RunStore(path)).close()
    with sqlite3.connect(path) as older:  # as the collector before search left it
        older.execute("DROP TABLE trace_search")
        older.execute("DROP TABLE trace_docs")
        older.execute("ALTER TABLE runs DROP COLUMN content")
    older.close()
    store = RunStore(path)
    try:
        assert found(store, "gpt-4o") == [trace_id(2), trace_id(1)]
        assert found(store, "carol") == [trace_id(3)]
    finally:
        store.close()


def test_a_file_opened_without_trigrams_is_indexed_again_when_they_are_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "runs.db")
    labelled(RunStore(path)).close()
    with monkeypatch.context() as without:
        without.setattr(_store, "search_index_available", lambda connection: False)
        store = RunStore(path)
        store.add([root(4, 4, "user-9", ["late"]) | {"name": "stored meanwhile"}], 100, None)
        assert found(store, "meanwhile") == [trace_id(4)]  # by the scan
        store.close()
    store = RunStore(path)
    try:
        assert store.searchable
        assert found(store, "meanwhile") == [trace_id(4)]  # from the index, built again
        assert found(store, "user-3") == [trace_id(3), trace_id(1)]
        (indexed,) = store._connection.execute("SELECT COUNT(*) FROM trace_docs").fetchone()
        assert indexed == 4
    finally:
        store.close()


def test_the_api_listing_is_latest_start_first_whatever_the_arrival() -> None:
    store = RunStore()
    try:
        store.add([root(2, 5, "s", [])], 100, None)  # arrives first, started last
        store.add([root(1, 1, "s", [])], 100, None)
        store.add([root(3, 3, "s", [])], 100, None)
        assert [trace["trace_id"] for trace in store.traces()] == [trace_id(2), trace_id(3), trace_id(1)]
    finally:
        store.close()


def plan_of(store: RunStore, text: str) -> str:
    (page,) = [statement for statement in statements_of(store, text) if statement.startswith("SELECT trace_id")]
    steps = store._connection.execute(f"EXPLAIN QUERY PLAN {page}")
    return " | ".join(str(step[-1]) for step in steps)


def test_a_rare_term_sorts_its_few_matches_and_a_common_one_walks_the_lists_index(
    store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    rare = plan_of(store, "carol")  # under SEARCH_SORTED_MOST matches: read from the search index, then sorted
    assert "VIRTUAL TABLE INDEX 0:M" in rare and "SEARCH traces USING INDEX sqlite_autoindex_traces_1" in rare, rare
    monkeypatch.setattr(_store, "SEARCH_SORTED_MOST", 2)
    common = plan_of(store, "gpt-4o")  # a page is full after a few traces of the list's order: no sort at all
    assert "SCAN traces USING INDEX traces_by_start" in common and "TEMP B-TREE" not in common, common


def test_a_nul_in_a_query_is_no_part_of_it(store: RunStore) -> None:
    assert found(store, "\x00gpt-4o") == [trace_id(2), trace_id(1)]
    assert found(store, "gpt\x00") == [trace_id(2), trace_id(1)]  # "gpt" once the NUL is gone
    assert found(store, "\x00\x00\x00") == [trace_id(3), trace_id(2), trace_id(1)]  # nothing left: no search


def test_a_trace_of_many_run_names_keeps_its_labels_searchable(store: RunStore) -> None:
    many = [root(9, 9, "busy-session", ["zz-team-payments"])]
    many += [
        sample_run(id=run_id(9, n), trace_id=trace_id(9), parent_run_id=run_id(9, 1), name=f"retrieve-chunk-{n:04d}")
        for n in range(2, 302)
    ]
    store.add(many, 100, None)
    assert found(store, "zz-team-payments") == [trace_id(9)]  # a tag, after 300 names that fill the row
    assert found(store, "busy-session") == [trace_id(9)]
    assert found(store, "retrieve-chunk-0002") == [trace_id(9)]


def test_a_trace_left_without_runs_leaves_the_index_and_its_labels(store: RunStore) -> None:
    assert found(store, "alice") == [trace_id(2)]  # read once: trace 2 is indexed and labelled
    moved = [run | {"trace_id": trace_id(3)} for run in store.runs(trace_id(2))]
    store.add(moved, 100, None)
    assert store.trace_summary(trace_id(2)) is None
    # One session label per trace left (trace 3 now holds trace 2's earlier root: its session), none for trace 2.
    assert sum(count for _, count in store.label_values("session", 10)) == 2
    docs = store._connection.execute("SELECT COUNT(*) FROM trace_docs").fetchone()[0]
    assert docs == store._connection.execute("SELECT COUNT(*) FROM traces").fetchone()[0]
    assert found(store, "alice") == [trace_id(3)]  # trace 2's runs are trace 3's now


def test_the_index_merges_its_segments_sixteen_at_a_time(store: RunStore, tmp_path: Path) -> None:
    """A polling viewer makes a recount every few seconds, each an FTS5 segment: merged four at a time (FTS5's
    default) they cost more than the rows (docs/performance.md, "Viewer at scale")."""
    config = "SELECT v FROM trace_search_config WHERE k = 'automerge'"
    assert store._connection.execute(config).fetchone() == (16,)
    path = str(tmp_path / "runs.db")
    first = RunStore(path)
    first.close()
    with sqlite3.connect(path) as older:  # as the collector before this setting left its file
        older.execute("DELETE FROM trace_search_config WHERE k = 'automerge'")
    older.close()
    reopened = RunStore(path)
    try:
        assert reopened._connection.execute(config).fetchone() == (16,)
    finally:
        reopened.close()
