"""Runs kept in SQLite: a file to survive restarts, or memory for tests.

A run id already stored is replaced, as the Dynamiq service does: the native
handler re-posts runs, and a retried request may arrive twice.

Beside each run's JSON the store keeps its facts (``_summary.RunFacts``) in
columns, and one summary row per trace. A request only notes which traces it
touched; their summaries are recounted, all in one statement, when the viewer
next reads them (or when too many wait), so runs arriving with nobody looking
cost no recount. The viewer's pages are answered from these with ``LIMIT``:
no query it makes reads a whole trace or the whole database into memory.

Traces are listed by their start (their earliest run's), newest first, ties
by trace id: a batch of traces arrives at one moment, so the order they
arrived in says nothing of when they ran. The viewer may also list them by
duration, runs, tokens or cost (``TRACE_SORTS``), either way round. A page
ends at a (value, trace id) mark, and the next page begins past it; traces
whose value is unknown (a running trace's duration, a trace without usage's
tokens) come last in both directions, in a second pass over the same index,
so every order is read from an index a page at a time.

Text search reads an index too: one SQLite FTS5 row per trace (trigram
tokenizer, so any fragment of three characters or more matches, in any case)
holding its trace id, its runs' names and its labels (models, providers, tags,
session, users), and with ``index_content`` the first characters of its first
runs' input and output text. A run id is found whole, through the runs' own
key: ten 36-character ids a trace would be most of the index. The row
is rebuilt with the summary, when a reader next looks (DELETE and INSERT for the
traces touched), so storing runs costs no indexing. A query shorter than three
characters, or a SQLite without FTS5's trigram tokenizer (checked once, when
the store opens), falls back to a scan bounded in time (``TEXT_SCAN_SECONDS``).
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from otel_dynamiq.collector import _insights
from otel_dynamiq.collector._summary import (
    FACT_TEXT_CHARS,
    MAX_COST_USD,
    MAX_TOKENS,
    json_text,
    parsed_run,
    run_facts,
)
from otel_dynamiq.collector._validate import canonical_id

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    trace_id TEXT NOT NULL,
    start_time TEXT NOT NULL,
    received INTEGER NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 1,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS traces (
    trace_id TEXT PRIMARY KEY,
    name TEXT,
    status TEXT,
    start_ms REAL,
    end_ms REAL,
    run_count INTEGER NOT NULL,
    tokens INTEGER,
    cost_usd REAL,
    failures INTEGER NOT NULL,
    received INTEGER NOT NULL,
    session_id TEXT,
    user_id TEXT
);
CREATE INDEX IF NOT EXISTS traces_by_start ON traces (start_ms, trace_id);
CREATE INDEX IF NOT EXISTS traces_by_duration ON traces ((end_ms - start_ms), trace_id);
CREATE INDEX IF NOT EXISTS traces_by_runs ON traces (run_count, trace_id);
CREATE INDEX IF NOT EXISTS traces_by_tokens ON traces (tokens, trace_id);
CREATE INDEX IF NOT EXISTS traces_by_cost ON traces (cost_usd, trace_id);
CREATE TABLE IF NOT EXISTS trace_labels (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    PRIMARY KEY (kind, value, trace_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS trace_labels_by_trace ON trace_labels (trace_id);
CREATE TABLE IF NOT EXISTS trace_docs (
    doc INTEGER PRIMARY KEY,
    trace_id TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS store_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_count INTEGER NOT NULL,
    body_bytes INTEGER NOT NULL,
    content_encoding TEXT
);
"""

_MOVED_RUNS = (
    "CREATE TEMP TABLE runs_moved_from (trace_id TEXT PRIMARY KEY) WITHOUT ROWID",
    "CREATE TEMP TRIGGER run_moved AFTER UPDATE OF trace_id ON runs WHEN OLD.trace_id <> NEW.trace_id"
    # Not INSERT OR IGNORE: a trigger's statement takes the conflict rule of the statement that fired it.
    " BEGIN INSERT INTO runs_moved_from SELECT OLD.trace_id"
    " WHERE NOT EXISTS (SELECT 1 FROM runs_moved_from WHERE trace_id = OLD.trace_id); END",
)
"""The connection's own note of the traces runs sent again have left: a run sent again is an update of its row,
and only one that names another trace writes here, so the common request reads an empty table."""

TEXT_SCAN_SLICE = 200
"""Traces a text filter reads per hold of the lock."""
TEXT_SCAN_SECONDS = 0.5
"""How long one request's text filter scans before its page ends where it got to."""
SEARCH_FACT_CHARS = 4_000
"""A trace's indexed id, labels and run names are cut here (in that order, each once: a trace of hundreds of
run names loses names, never a model, tag, session or user)."""
SEARCH_CONTENT_CHARS = 1_000
"""With ``index_content``: the characters kept of a run's input text, and as many of its output text."""
SEARCH_CONTENT_RUNS = 8
"""With ``index_content``: a trace's first runs (by start) whose text is indexed; 16,000 characters at most."""
SEARCH_CONTENT_STEPS = 10_000
"""The most values of one input or output visited for its text: a list of a million numbers costs no more."""
SEARCH_SORTED_MOST = 2_000
"""Up to this many traces matching a search are read from its index and sorted; past it, the list's order is
walked and each trace looked up in the search index (a common term fills a page after a few dozen)."""
MIN_INDEXED_QUERY = 3
"""Characters a query needs to be looked up in the index: the trigram tokenizer matches nothing shorter."""
MAX_STALE_TRACES = 10_000
"""Traces whose summary waits for a reader; past this, a request recounts them itself (memory stays bounded)."""
_FACT_NAMES = (
    "parent_run_id",
    "name",
    "type",
    "grp",
    "status",
    "start_ms",
    "end_ms",
    "tokens",
    "cost_usd",
    "error",
    "model",
    "provider",
    "session_id",
    "user_id",
    "tags",
    "usage_counted_in",
    "usage_aggregate",
)
"""The columns of ``_summary.RunFacts``, in its order (``group`` is a keyword in SQL)."""
_FACT_COLUMNS = (
    "parent_run_id TEXT",
    "name TEXT",
    "type TEXT",
    "grp TEXT",
    "status TEXT",
    "start_ms REAL",
    "end_ms REAL",
    "tokens INTEGER",
    "cost_usd REAL",
    "error TEXT",
    "model TEXT",
    "provider TEXT",
    "session_id TEXT",
    "user_id TEXT",
    "tags TEXT",
    "usage_counted_in TEXT",
    "usage_aggregate INTEGER",
    "size INTEGER",
)
_TRACE_ADDED_COLUMNS = ("session_id TEXT", "user_id TEXT")
"""Summary columns a file written by an older collector lacks: added, and every summary recounted, on open."""
LABEL_KINDS = ("model", "provider", "tag", "session", "user")
"""What ``trace_labels`` holds of each trace, one row per distinct value: a filter on any is one index range."""
# A trace's start is its earliest run's, whichever arrived first: the list's order, so never NULL.
# A trace's name and status are its root's (the run without a parent); until the root arrives, its first run's.
# A trace's session and user are its root's, or else its earliest run's that names one: two lookups that each
# read the trace's runs in start order and stop at the first, where one ORDER BY would sort them all.
_ROOTS_FIRST = """COALESCE(
        (SELECT p.{column} FROM runs p WHERE p.trace_id = r.trace_id AND p.parent_run_id IS NULL
         AND p.{column} IS NOT NULL ORDER BY p.start_ms LIMIT 1),
        (SELECT p.{column} FROM runs p WHERE p.trace_id = r.trace_id AND p.{column} IS NOT NULL
         ORDER BY p.start_ms LIMIT 1))"""
# Tokens and cost add up with TOTAL (a float), which cannot overflow as SUM can, and only the values in bounds
# count: a file an older collector wrote may hold any number, and a recount must never fail.
_REFRESH_TRACES = """
INSERT OR REPLACE INTO traces
    (trace_id, name, status, start_ms, end_ms, run_count, tokens, cost_usd, failures, received, session_id, user_id)
SELECT r.trace_id,
    COALESCE(
        (SELECT substr(p.name, 1, {chars}) FROM runs p WHERE p.trace_id = r.trace_id AND p.parent_run_id IS NULL
         ORDER BY p.start_ms LIMIT 1),
        (SELECT substr(p.name, 1, {chars}) FROM runs p WHERE p.trace_id = r.trace_id ORDER BY p.start_ms LIMIT 1)),
    COALESCE(
        (SELECT p.status FROM runs p WHERE p.trace_id = r.trace_id AND p.parent_run_id IS NULL
         ORDER BY p.start_ms LIMIT 1),
        CASE WHEN COUNT(CASE WHEN r.status = 'failed' THEN 1 END) > 0 THEN 'failed' END),
    COALESCE(MIN(r.start_ms), 0), MAX(r.end_ms), COUNT(*),
    CASE WHEN COUNT({tokens}) > 0 THEN TOTAL({tokens}) END,
    CASE WHEN COUNT({cost}) > 0 THEN TOTAL({cost}) END,
    COUNT(CASE WHEN r.status = 'failed' THEN 1 END), MAX(r.received),
    {session},
    {user}
FROM runs r WHERE r.trace_id IN ({{}}) GROUP BY r.trace_id
""".format(  # noqa: S608 (constants only; the trace ids are bound)
    chars=FACT_TEXT_CHARS,
    session=_ROOTS_FIRST.format(column="session_id"),
    user=_ROOTS_FIRST.format(column="user_id"),
    tokens=f"CASE WHEN r.tokens BETWEEN 0 AND {MAX_TOKENS} THEN r.tokens END",
    cost=f"CASE WHEN r.cost_usd BETWEEN 0 AND {MAX_COST_USD!r} THEN r.cost_usd END",
)
_TRACE_COLUMNS = (
    "trace_id",
    "name",
    "status",
    "start_ms",
    "end_ms",
    "run_count",
    "tokens",
    "cost_usd",
    "failures",
    "session_id",
    "user_id",
    "received",
)
# Every distinct model, provider, tag and user of the touched traces' runs (tags are JSON arrays), and the
# trace's session: one per trace, as the sessions view groups them. A trace's runs mostly repeat these (a
# Dynamiq handler's tags are on every run, a model on each of its calls): each distinct set is taken once in
# memory first, so the label table, whose every probe is a descent of a file B-tree, sees each value once.
_REFRESH_LABELS = """
INSERT OR IGNORE INTO trace_labels (kind, value, trace_id)
SELECT kinds.kind, CASE kinds.kind WHEN 'model' THEN r.model WHEN 'provider' THEN r.provider ELSE r.user_id END,
    r.trace_id
FROM (SELECT DISTINCT trace_id, model, provider, user_id FROM runs WHERE trace_id IN ({ids})
      AND (model IS NOT NULL OR provider IS NOT NULL OR user_id IS NOT NULL)) r
CROSS JOIN (SELECT 'model' AS kind UNION ALL SELECT 'provider' UNION ALL SELECT 'user') kinds
WHERE CASE kinds.kind WHEN 'model' THEN r.model WHEN 'provider' THEN r.provider ELSE r.user_id END IS NOT NULL
UNION ALL SELECT 'session', session_id, trace_id FROM traces WHERE trace_id IN ({ids}) AND session_id IS NOT NULL
UNION ALL SELECT DISTINCT 'tag', t.value, r.trace_id
    FROM (SELECT DISTINCT trace_id, tags FROM runs WHERE trace_id IN ({ids}) AND tags IS NOT NULL) r,
        json_each(r.tags) t
    WHERE t.type = 'text'
"""
# The search index: a trace's row is found by its doc number (the FTS5 rowid), which ``trace_docs`` keeps
# for its trace id (an FTS5 row can be deleted cheaply by rowid only, and a summary's own rowid changes as
# INSERT OR REPLACE rewrites it). Its text: the trace id, then its labels, then its run names, each once, cut at
# ``SEARCH_FACT_CHARS``; with content, then its first runs' input and output text.
# No column sizes: they serve ranking, which the list does not do (its order is its sort); a row costs less.
_SEARCH_TABLE = "CREATE VIRTUAL TABLE trace_search USING fts5(text, tokenize='trigram', columnsize=0)"
_SEARCH_MERGE = "INSERT INTO trace_search (trace_search, rank) VALUES ('automerge', 16)"
"""FTS5 writes each transaction's rows as a segment and, by default, merges segments four at a time as it
goes: a viewer polling makes a recount (a transaction) every few seconds, and those merges cost more than the
rows themselves (0.95 against 0.75 ms a request stored, measured in the process). Merging 16 at a time (FTS5's
most) does a quarter of that work; a query then reads a few more segments, still within milliseconds."""
_UNINDEX = "DELETE FROM trace_search WHERE rowid IN (SELECT doc FROM trace_docs WHERE trace_id IN ({ids}))"
_GONE_DOCS = (
    "DELETE FROM trace_docs WHERE trace_id IN ({ids})"
    " AND NOT EXISTS (SELECT 1 FROM traces t WHERE t.trace_id = trace_docs.trace_id)"
)
_NEW_DOCS = "INSERT OR IGNORE INTO trace_docs (trace_id) SELECT trace_id FROM traces WHERE trace_id IN ({ids})"
_INDEX = """
INSERT INTO trace_search (rowid, text)
SELECT d.doc, substr(d.trace_id || char(10) || COALESCE(
    (SELECT group_concat(value, char(10)) FROM (
        SELECT value FROM (SELECT 0 AS part, value FROM trace_labels WHERE trace_id = d.trace_id
            UNION SELECT 1, name FROM runs WHERE trace_id = d.trace_id AND name <> '')
        ORDER BY part)), ''), 1, {chars}){content}
FROM trace_docs d WHERE d.trace_id IN ({{ids}})
"""
_INDEX_FACTS = _INDEX.format(chars=SEARCH_FACT_CHARS, content="")
_INDEX_CONTENT = _INDEX.format(
    chars=SEARCH_FACT_CHARS,
    content=" || COALESCE(char(10) || (SELECT group_concat(content, char(10)) FROM (SELECT content FROM runs"  # noqa: S608
    " WHERE trace_id = d.trace_id AND content IS NOT NULL ORDER BY start_ms, id"
    f" LIMIT {SEARCH_CONTENT_RUNS})), '')",
)
# What a query matches: the index (the query one FTS5 string, never its syntax), a run's whole id, a trace's.
# A few matches are read from the index and sorted; many, and the list's own index is read in order, each trace
# looked up in the search index until the page is full: either way no query sorts more than SEARCH_SORTED_MOST.
_COUNT_MATCHES = "SELECT COUNT(*) FROM (SELECT 1 FROM trace_search WHERE trace_search MATCH ? LIMIT ?)"
_MATCHES_FEW = (
    "trace_id IN (SELECT d.trace_id FROM trace_search s JOIN trace_docs d ON d.doc = s.rowid"
    " WHERE trace_search MATCH ? UNION ALL SELECT trace_id FROM runs WHERE id = ? UNION ALL SELECT ?)"
)
_MATCHES_MANY = (
    "((SELECT doc FROM trace_docs WHERE trace_id = traces.trace_id) IN"
    " (SELECT rowid FROM trace_search WHERE trace_search MATCH ?)"
    " OR trace_id IN (SELECT trace_id FROM runs WHERE id = ? UNION ALL SELECT ?))"
)


@dataclass(frozen=True)
class TraceSort:
    """One order of the traces list: a key the summary table has an index on (``_SCHEMA``), and a direction.

    Ties are broken by trace id in the key's direction, so a page's end is a mark no other trace shares.
    """

    key: str
    """SQL text written here, never taken from a request: the request names a ``TRACE_SORTS`` entry."""
    nullable: bool
    """Whether the key may be unknown: those traces come after every known one, in their own pass."""
    descending: bool = True


TRACE_SORTS = {
    "start": TraceSort("start_ms", nullable=False),
    "duration": TraceSort("(end_ms - start_ms)", nullable=True),  # spelled as ``traces_by_duration`` is
    "runs": TraceSort("run_count", nullable=False),
    "tokens": TraceSort("tokens", nullable=True),
    "cost": TraceSort("cost_usd", nullable=True),
}
"""The list's orders by the name the viewer's API takes; newest start first is the default."""
NEWEST_FIRST = TRACE_SORTS["start"]

# A trace's page of runs carries what its timeline draws; labels are the list's and stay out of it.
_RUN_ROW_COLUMNS = ("id", *_FACT_NAMES[: _FACT_NAMES.index("error") + 1], "usage_counted_in", "usage_aggregate", "size")
# Built from the constant column names above, never from input (values are always bound): hence the noqa.
_INSERT_RUN = (
    f"INSERT INTO runs (id, trace_id, start_time, body, {', '.join(_FACT_NAMES)}, size, content, received)"  # noqa: S608
    f" VALUES ({', '.join('?' * (len(_FACT_NAMES) + 7))})"
    " ON CONFLICT(id) DO UPDATE SET trace_id = excluded.trace_id, start_time = excluded.start_time,"
    " body = excluded.body, deliveries = runs.deliveries + 1, size = excluded.size, content = excluded.content,"
    " received = excluded.received, " + ", ".join(f"{name} = excluded.{name}" for name in _FACT_NAMES)
)
_UPDATE_FACTS = f"UPDATE runs SET {', '.join(f'{name} = ?' for name in _FACT_NAMES)}, size = ? WHERE id = ?"  # noqa: S608
_SELECT_COLUMNS = ", ".join(_TRACE_COLUMNS)
_SELECT_TRACES = f"SELECT {_SELECT_COLUMNS} FROM traces"  # noqa: S608
# Text facts are cut again on the way out: a file written before they were cut on the way in may hold any length.
_SELECT_RUN_ROWS = "SELECT {} FROM runs WHERE trace_id = ?".format(  # noqa: S608
    ", ".join(
        f"substr({name}, 1, {FACT_TEXT_CHARS})" if name in ("name", "type", "grp", "status") else name
        for name in _RUN_ROW_COLUMNS
    )
)


@dataclass(frozen=True)
class TraceFilter:
    """Which traces a list, a session or an overview covers: a start range and labels (``LABEL_KINDS``).

    Times are epoch milliseconds, ``start_from`` included and ``start_to`` not; each label is one exact
    value, all must hold. Every condition reads an index: the start's, or one range of ``trace_labels``.
    """

    start_from: float | None = None
    start_to: float | None = None
    labels: tuple[tuple[str, str], ...] = ()
    """(kind, value) pairs; the kind is checked against ``LABEL_KINDS`` here, the value is bound."""

    def conditions(self) -> tuple[list[str], list[Any]]:
        conditions: list[str] = []
        parameters: list[Any] = []
        if self.start_from is not None:
            conditions.append("start_ms >= ?")
            parameters.append(self.start_from)
        if self.start_to is not None:
            conditions.append("start_ms < ?")
            parameters.append(self.start_to)
        for kind, value in self.labels:
            if kind not in LABEL_KINDS:
                raise ValueError(f"a trace label is one of {', '.join(LABEL_KINDS)}")
            conditions.append("trace_id IN (SELECT l.trace_id FROM trace_labels l WHERE l.kind = ? AND l.value = ?)")
            parameters += [kind, value]
        return conditions, parameters


EVERY_TRACE = TraceFilter()


def _session_user(chosen: TraceFilter) -> str | None:
    """Sessions are chosen by their range and one user: the user's label is the only one they take."""
    users = [value for kind, value in chosen.labels if kind == "user"]
    if len(users) != len(chosen.labels) or len(users) > 1:
        raise ValueError("sessions are chosen by start and one user only")
    return users[0] if users else None


def _where(conditions: list[str]) -> str:
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""


def _trace(row: tuple[Any, ...]) -> dict[str, Any]:
    """A summary row as the viewer gets it: tokens, added up as a float, are a whole number again; ``version`` is
    the ``version()`` of the request that last stored one of its runs, so a page showing the trace sees any run sent
    again, even one that changes no count."""
    trace = dict(zip(_TRACE_COLUMNS, row, strict=True))
    if isinstance(trace["tokens"], float):
        trace["tokens"] = int(trace["tokens"])
    trace["version"] = trace.pop("received")
    return trace


def _mark(row: tuple[Any, ...]) -> tuple[float | None, str]:
    """Where the page ending at this row stops: its sort key (selected last) and its trace id (first)."""
    return (None if row[-1] is None else float(row[-1])), row[0]


def search_index_available(connection: sqlite3.Connection) -> bool:
    """Whether this SQLite has FTS5 and its trigram tokenizer (3.34 on): the SQLite of every supported Python
    build has; a custom build may not, and the store then searches by scanning."""
    try:
        connection.execute("CREATE VIRTUAL TABLE temp.trigram_probe USING fts5(text, tokenize='trigram')")
        connection.execute("DROP TABLE temp.trigram_probe")
    except sqlite3.OperationalError:
        return False
    return True


def fts_string(text: str) -> str:
    """The query as one FTS5 string (a phrase: the text itself, anywhere), so none of it is read as syntax."""
    return '"' + text.replace('"', '""') + '"'


_END = object()


def _strings(value: Any, limit: int) -> str:
    """The text in a run's input or output: its strings (values, not keys) in order, up to ``limit`` characters.

    Walked with iterators and at most ``SEARCH_CONTENT_STEPS`` values, so a huge value costs no more than a
    small one: this runs on the request path.
    """
    found: list[str] = []
    left = limit
    pending = [iter((value,))]
    for _ in range(SEARCH_CONTENT_STEPS):
        if not pending or left <= 0:
            break
        item = next(pending[-1], _END)
        if item is _END:
            pending.pop()
        elif isinstance(item, str):
            if item.strip():
                found.append(item[:left])
                left -= len(found[-1]) + 1
        elif isinstance(item, dict):
            pending.append(iter(item.values()))
        elif isinstance(item, list):
            pending.append(iter(item))
    return "\n".join(found)


def search_content(run: dict[str, Any]) -> str | None:
    """What ``index_content`` indexes of a run: the beginning of its input text and of its output text."""
    text = "\n".join(
        part for part in (_strings(run.get(field), SEARCH_CONTENT_CHARS) for field in ("input", "output")) if part
    )
    return text or None


class RunStore:
    """Thread-safe: the HTTP server answers each request on its own thread.

    ``index_content`` also indexes the beginning of each run's input and output text for search, the runs already
    in the file included (``_match_content_setting``): off by default, as it makes the file bigger and a run's
    storing dearer.
    """

    def __init__(self, path: str = ":memory:", index_content: bool = False) -> None:
        self.instance = uuid.uuid4().hex
        """Differs each time a store is opened: with ``version()``, a page tells a restarted collector apart."""
        self.index_content = index_content
        self._lock = threading.Lock()
        self._stale: set[str] = set()
        self._connection = sqlite3.connect(path, check_same_thread=False)
        self.searchable = search_index_available(self._connection)
        """Whether text search reads the index; without it, it scans (``_text_page``)."""
        self._index = _INDEX_CONTENT if index_content else _INDEX_FACTS
        with self._lock, self._connection:
            self._connection.executescript(_SCHEMA)
            # SQLite's ALTER TABLE is transactional: in one transaction with the filling of the columns it adds,
            # a process killed halfway leaves the file as it was, and the next open starts again.
            self._connection.execute("BEGIN IMMEDIATE")
            self._add_fact_columns()
            self._add_trace_columns()
            self._order_by_start()
            self._prepare_search()
            self._match_content_setting()
            _insights.open_sessions(self._connection)
            for statement in _MOVED_RUNS:
                self._connection.execute(statement)
            self._catch_up()

    def _add_fact_columns(self) -> None:
        """A file written before the viewer lacks the fact columns: add them and fill them in, once."""
        present = {row[1] for row in self._connection.execute("PRAGMA table_info(runs)")}
        missing = [column for column in _FACT_COLUMNS if column.split()[0] not in present]
        for column in missing:
            self._connection.execute(f"ALTER TABLE runs ADD COLUMN {column}")
        # One index by trace serves the API (a trace's runs, runs per trace) and the viewer's pages alike.
        self._connection.execute("CREATE INDEX IF NOT EXISTS runs_by_trace_start ON runs (trace_id, start_ms, id)")
        self._connection.execute("DROP INDEX IF EXISTS runs_by_trace")
        if not missing:
            return
        for rows in self._stored_bodies():
            self._connection.executemany(
                _UPDATE_FACTS,
                [(*run_facts(parsed_run(body)), len(body), run_id) for run_id, body in rows],
            )

    def _stored_bodies(self) -> Iterator[list[tuple[str, str]]]:
        """Every stored run's id and JSON, 500 at a time in id order, so a file of any size is never read whole."""
        last = ""
        while True:
            rows = self._connection.execute(
                "SELECT id, body FROM runs WHERE id > ? ORDER BY id LIMIT 500", (last,)
            ).fetchall()
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    def _add_trace_columns(self) -> None:
        """A file an older collector wrote has summaries without sessions and no labels: add the columns and
        mark every summary older than its runs, so ``_catch_up`` recounts them all once."""
        present = {row[1] for row in self._connection.execute("PRAGMA table_info(traces)")}
        missing = [column for column in _TRACE_ADDED_COLUMNS if column.split()[0] not in present]
        for column in missing:
            self._connection.execute(f"ALTER TABLE traces ADD COLUMN {column}")
        if missing:
            self._connection.execute("UPDATE traces SET received = -1")
        self._connection.execute("CREATE INDEX IF NOT EXISTS traces_by_session ON traces (session_id, start_ms)")

    def _order_by_start(self) -> None:
        """A file an older collector wrote listed traces by arrival: drop that index (its upkeep would cost every
        write for nothing) and give a start to any summary without one, so every trace has a place in the order.
        ``traces_by_start`` itself comes with the schema."""
        self._connection.execute("DROP INDEX IF EXISTS traces_newest")
        self._connection.execute("UPDATE traces SET start_ms = 0 WHERE start_ms IS NULL")

    def _prepare_search(self) -> None:
        """Give a file without a search index (an older collector's) one, once: every summary is then recounted
        by ``_catch_up``, its index row with it.

        ``trace_docs`` holds a row per indexed trace, so a count that differs from the summaries' says the
        index is missing or behind; opened by a SQLite without trigrams, the store empties it, and the next
        open with them builds the index again.
        """
        present = {row[1] for row in self._connection.execute("PRAGMA table_info(runs)")}
        if "content" not in present:
            self._connection.execute("ALTER TABLE runs ADD COLUMN content TEXT")
        if not self.searchable:
            self._connection.execute("DELETE FROM trace_docs")
            return
        exists = self._connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'trace_search'"
        ).fetchone()
        (indexed,) = self._connection.execute("SELECT COUNT(*) FROM trace_docs").fetchone()
        (summaries,) = self._connection.execute("SELECT COUNT(*) FROM traces").fetchone()
        if not exists or indexed != summaries:
            self._connection.execute("DROP TABLE IF EXISTS trace_search")
            self._connection.execute("DELETE FROM trace_docs")
            self._connection.execute(_SEARCH_TABLE)
            self._connection.execute("UPDATE traces SET received = -1")
        self._connection.execute(_SEARCH_MERGE)

    def _match_content_setting(self) -> None:
        """Runs' text is in the file and its search index exactly when the store is opened with
        ``index_content``, whenever the runs were stored: turned on, the runs already stored are indexed (each
        body read once, in slices); turned off, the copies of their text kept for the index are dropped, so no
        search finds a run by its text any more (the runs' bodies, which hold their whole input and output, are
        kept as ever). Either way every summary is recounted once, its index row with it.

        The setting the file was last opened with is kept in it; a file from before it was kept is read as
        "off", so turning it on indexes everything, and turning it off clears whatever text is there.
        """
        row = self._connection.execute("SELECT value FROM store_settings WHERE name = 'index_content'").fetchone()
        was_on = row is not None and row[0] == "1"
        if self.index_content and not was_on:
            for rows in self._stored_bodies():
                self._connection.executemany(
                    "UPDATE runs SET content = ? WHERE id = ?",
                    [(search_content(parsed_run(body)), run_id) for run_id, body in rows],
                )
            self._connection.execute("UPDATE traces SET received = -1")
        elif not self.index_content and (was_on or row is None):
            cleared = self._connection.execute("UPDATE runs SET content = NULL WHERE content IS NOT NULL").rowcount
            if cleared:
                self._connection.execute("UPDATE traces SET received = -1")
        self._connection.execute(
            "INSERT OR REPLACE INTO store_settings (name, value) VALUES ('index_content', ?)",
            ("1" if self.index_content else "0",),
        )

    def _catch_up(self) -> None:
        """Recount traces with runs newer than their summary: an older file's, or a killed process's.

        One pass over the runs when the store opens; only the ids of the traces found are kept.
        """
        rows = self._connection.execute(
            "SELECT r.trace_id FROM runs r LEFT JOIN traces t ON t.trace_id = r.trace_id"
            " GROUP BY r.trace_id HAVING t.received IS NULL OR MAX(r.received) > t.received"
        )
        self._refresh_traces([trace_id for (trace_id,) in rows.fetchall()])

    def _settle(self) -> None:
        """Called with the lock held: recount the traces that changed since the last reader."""
        if self._stale:
            with self._connection:
                self._refresh_traces(sorted(self._stale))
            self._stale.clear()

    def _refresh_traces(self, trace_ids: list[str]) -> None:
        """Recount the summary, the labels and the search index row of the traces a request touched: a run sent
        again replaces, never adds."""
        for start in range(0, len(trace_ids), 500):
            chosen = trace_ids[start : start + 500]
            marks = ", ".join("?" * len(chosen))
            self._connection.execute(_REFRESH_TRACES.format(marks), chosen)
            # A trace whose every run was sent again under another trace id has nothing left to list: its summary
            # goes before its labels are taken from it.
            self._connection.execute(
                f"DELETE FROM traces WHERE trace_id IN ({marks})"  # noqa: S608
                " AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.trace_id = traces.trace_id)",
                chosen,
            )
            self._connection.execute(f"DELETE FROM trace_labels WHERE trace_id IN ({marks})", chosen)  # noqa: S608
            self._connection.execute(_REFRESH_LABELS.format(ids=marks), chosen * 3)
            if self.searchable:
                self._connection.execute(_UNINDEX.format(ids=marks), chosen)
                self._connection.execute(_GONE_DOCS.format(ids=marks), chosen)
                self._connection.execute(_NEW_DOCS.format(ids=marks), chosen)
                self._connection.execute(self._index.format(ids=marks), chosen)

    def add(self, runs: Iterable[dict[str, Any]], body_bytes: int, content_encoding: str | None) -> None:
        rows = []
        for run in runs:
            body = json_text(run)
            content = search_content(run) if self.index_content else None
            rows.append((run["id"], str(run["trace_id"]), run["start_time"], body, *run_facts(run), len(body), content))
        with self._lock, self._connection:
            sequence = self._connection.execute(
                "INSERT INTO requests (run_count, body_bytes, content_encoding) VALUES (?, ?, ?)",
                (len(rows), body_bytes, content_encoding),
            ).lastrowid
            self._connection.executemany(_INSERT_RUN, [(*row, sequence) for row in rows])
            self._stale.update(row[1] for row in rows)
            self._stale.update(self._traces_left())
            if len(self._stale) > MAX_STALE_TRACES:
                self._refresh_traces(sorted(self._stale))
                self._stale.clear()

    def _traces_left(self) -> list[str]:
        """Called with the lock held: the traces a run sent again under another trace id has left since the last
        call (``_MOVED_RUNS`` notes them as it happens). They are recounted too, or their summary and labels would
        keep the run."""
        left = [trace_id for (trace_id,) in self._connection.execute("SELECT trace_id FROM runs_moved_from")]
        if left:
            self._connection.execute("DELETE FROM runs_moved_from")
        return left

    def runs(self, trace_id: str | None = None) -> list[dict[str, Any]]:
        """Runs as received, in start order."""
        query = "SELECT body FROM runs"
        parameters: tuple[str, ...] = ()
        if trace_id is not None:
            query += " WHERE trace_id = ?"
            parameters = (trace_id,)
        with self._lock:
            rows = self._connection.execute(query + " ORDER BY start_time, received", parameters).fetchall()
        return [json.loads(body) for (body,) in rows]

    def delivery_counts(self) -> dict[str, int]:
        """How many times each run id arrived: above 1 means it was sent again."""
        with self._lock:
            return dict(self._connection.execute("SELECT id, deliveries FROM runs").fetchall())

    def traces(self) -> list[dict[str, Any]]:
        """One line per trace, latest start first as the viewer lists them (ties by trace id): the order
        traces arrived in says nothing of when they ran, so ``otel-dynamiq show latest`` reads the first."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT trace_id, COUNT(*), MIN(start_time) FROM runs"
                " GROUP BY trace_id ORDER BY COALESCE(MIN(start_ms), 0) DESC, trace_id DESC"
            ).fetchall()
        return [{"trace_id": trace_id, "run_count": count, "start_time": start} for trace_id, count, start in rows]

    def trace_page(
        self,
        limit: int,
        after: tuple[float | None, str] | None = None,
        status: str | None = None,
        text: str | None = None,
        sort: TraceSort = NEWEST_FIRST,
        chosen: TraceFilter = EVERY_TRACE,
    ) -> tuple[list[dict[str, Any]], tuple[float | None, str] | None]:
        """Trace summaries in ``sort``'s order, ``limit`` at most; and where the next page starts, if any.

        ``status`` is a run status, ``"failures"`` (any run failed) or ``"running"`` (no status yet);
        ``text`` is found in the trace id, a run's name, a label or (``index_content``) a run's text, or is a
        run's whole id; ``chosen`` narrows by start and labels. A mark's value is ``None`` once the page has
        reached the traces whose key is unknown.
        """
        conditions, parameters = chosen.conditions()
        if status == "failures":
            conditions.append("failures > 0")
        elif status == "running":
            conditions.append("status IS NULL")
        elif status:
            conditions.append("status = ?")
            parameters.append(status)
        # A NUL ends a string in SQLite's FTS5 query parser (and in what a person can type): it is no part of a query.
        text = text.replace("\x00", "") if text else text
        if text and (not self.searchable or len(text) < MIN_INDEXED_QUERY):
            return self._text_page(limit, after, conditions, parameters, text, sort)
        with self._lock:
            self._settle()
            if text:
                phrase, identifier = fts_string(text), str(canonical_id(text))
                (matches,) = self._connection.execute(_COUNT_MATCHES, (phrase, SEARCH_SORTED_MOST)).fetchone()
                conditions.append(_MATCHES_FEW if matches < SEARCH_SORTED_MOST else _MATCHES_MANY)
                parameters += [phrase, identifier, identifier]
            rows = self._ordered(_SELECT_COLUMNS, sort, after, conditions, parameters, limit + 1)
        return [_trace(row[:-1]) for row in rows[:limit]], _mark(rows[limit - 1]) if len(rows) > limit else None

    def _ordered(
        self,
        columns: str,
        sort: TraceSort,
        after: tuple[float | None, str] | None,
        conditions: list[str],
        parameters: list[Any],
        limit: int,
    ) -> list[tuple[Any, ...]]:
        """Called with the lock held: up to ``limit`` summary rows past ``after`` in ``sort``'s order, each
        ending with its key.

        Known keys first, then (for a key that may be unknown) the unknown ones by trace id: two queries,
        each a range of the key's index read in order, where one ``ORDER BY`` putting NULLs last would sort
        the whole table before its first row.
        """
        way, past = ("DESC", "<") if sort.descending else ("ASC", ">")
        key = sort.key
        # Only constant text: the columns and keys are written in this module, every value is bound.
        select = f"SELECT {columns}, {key} FROM traces"  # noqa: S608
        order = f" ORDER BY {key} {way}, trace_id {way} LIMIT ?"
        rows: list[tuple[Any, ...]] = []
        if after is None or after[0] is not None:
            where = list(conditions)
            bound = list(parameters)
            if sort.nullable:
                where.append(f"{key} IS NOT NULL")
            if after is not None:
                where.append(f"({key} {past} ? OR ({key} = ? AND trace_id {past} ?))")
                bound += [after[0], after[0], after[1]]
            rows = self._connection.execute(
                select + _where(where) + order,
                (*bound, limit),
            ).fetchall()
        if sort.nullable and len(rows) < limit:
            where = [*conditions, f"{key} IS NULL"]
            bound = list(parameters)
            if after is not None and after[0] is None:
                where.append(f"trace_id {past} ?")
                bound.append(after[1])
            rows += self._connection.execute(
                select + _where(where) + f" ORDER BY trace_id {way} LIMIT ?",
                (*bound, limit - len(rows)),
            ).fetchall()
        return rows

    def _text_page(
        self,
        limit: int,
        after: tuple[float | None, str] | None,
        conditions: list[str],
        parameters: list[Any],
        text: str,
        sort: TraceSort,
    ) -> tuple[list[dict[str, Any]], tuple[float | None, str] | None]:
        """Traces whose text holds ``text`` (what the index holds, content included) when no index serves it: a
        query too short for it, or a SQLite without trigrams. Every run may be read.

        The scan goes in the list's order ``TEXT_SCAN_SLICE`` traces at a time, letting go of the lock between
        slices (runs being posted meanwhile wait for one slice, not the whole database), and stops after
        ``TEXT_SCAN_SECONDS``: the page then ends where the scan stopped, and its ``next`` goes on from there.
        """
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        content = " OR r.content LIKE ? ESCAPE '\\'" if self.index_content else ""
        matching = (  # constant text; the pattern is bound
            " AND (trace_id LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM runs r WHERE r.trace_id = traces.trace_id"  # noqa: S608
            f" AND (r.id = ? OR r.name LIKE ? ESCAPE '\\'{content})) OR EXISTS (SELECT 1 FROM trace_labels l"
            " WHERE l.trace_id = traces.trace_id AND l.value LIKE ? ESCAPE '\\'))"
        )
        bound = (pattern, str(canonical_id(text)), *[pattern] * (3 if content else 2))
        deadline = time.monotonic() + TEXT_SCAN_SECONDS
        found: list[tuple[Any, ...]] = []
        position = after
        while True:
            with self._lock:
                self._settle()
                scanned = self._ordered("trace_id", sort, position, conditions, parameters, TEXT_SCAN_SLICE)
                if scanned:
                    hits = self._connection.execute(
                        f"{_SELECT_TRACES} WHERE trace_id IN ({', '.join('?' * len(scanned))}){matching}",
                        (*(trace_id for trace_id, _ in scanned), *bound),
                    ).fetchall()
                    by_id = {row[0]: row for row in hits}
                    found += [(*by_id[trace_id], key) for trace_id, key in scanned if trace_id in by_id]
            if len(found) > limit:
                return [_trace(row[:-1]) for row in found[:limit]], _mark(found[limit - 1])
            if len(scanned) < TEXT_SCAN_SLICE:
                return [_trace(row[:-1]) for row in found], None
            position = _mark(scanned[-1])
            if time.monotonic() > deadline:
                return [_trace(row[:-1]) for row in found], position

    def label_values(self, kind: str, limit: int) -> list[tuple[str, int]]:
        """The commonest values of one label and how many traces carry each: what a filter offers."""
        if kind not in LABEL_KINDS:
            raise ValueError(f"a trace label is one of {', '.join(LABEL_KINDS)}")
        with self._lock:
            self._settle()
            rows = self._connection.execute(
                "SELECT value, COUNT(*) FROM trace_labels WHERE kind = ? GROUP BY value"
                " ORDER BY COUNT(*) DESC, value LIMIT ?",
                (kind, limit),
            ).fetchall()
        return [(value, count) for value, count in rows]

    # Sessions and the overview (``_insights``): each read from an index, a page or a bucket at a time.

    def session_page(
        self, limit: int, after: tuple[float, str] | None = None, chosen: TraceFilter = EVERY_TRACE
    ) -> tuple[list[dict[str, Any]], tuple[float, str] | None]:
        """Sessions with a turn started in ``chosen``'s range (and, if it names one, a turn of its user), the
        latest last start first; and where the next page starts. No other label narrows sessions."""
        user = _session_user(chosen)
        with self._lock:
            self._settle()
            rows = _insights.session_page(self._connection, limit, after, chosen.start_from, chosen.start_to, user)
        sessions = [_insights.session_row(row) for row in rows[:limit]]
        following = (sessions[-1]["last_start_ms"], sessions[-1]["session_id"]) if len(rows) > limit else None
        return sessions, following

    def session(self, session_id: str) -> dict[str, Any] | None:
        """One session's totals and users."""
        with self._lock:
            self._settle()
            return _insights.session_totals(self._connection, session_id)

    def turn_page(
        self, session_id: str, limit: int, after: tuple[float, str] | None = None
    ) -> tuple[list[dict[str, Any]], tuple[float, str] | None]:
        """A session's traces, oldest first, each with its root run's input and output in brief; and where the
        next page starts. Only the roots' JSON is read, each once and only if small (``MAX_PREVIEW_BYTES``)."""
        with self._lock:
            self._settle()
            rows = _insights.turn_page(self._connection, _SELECT_COLUMNS, session_id, limit, after)
            roots = [_insights.root_body(self._connection, row[0]) for row in rows[:limit]]
        turns = [{**_trace(row), **_insights.previews(root)} for row, root in zip(rows, roots, strict=False)]
        following = (turns[-1]["start_ms"], turns[-1]["trace_id"]) if len(rows) > limit else None
        return turns, following

    def overview(self, chosen: TraceFilter = EVERY_TRACE, buckets: int = 60) -> dict[str, Any]:
        """Traces by start in ``chosen``'s range cut into ``buckets`` at most (an open end is the data's):
        per bucket the traces, those with a failed run, the p50 and p95 of the finished ones' durations, their
        tokens and cost; the same for the whole range; and the model calls by model.

        The lock is let go between buckets, so runs posted meanwhile wait for one bucket, not the whole range.
        """
        if chosen.labels:
            raise ValueError("the overview takes a start range only")
        with self._lock:
            self._settle()
            span = _insights.time_range(self._connection, chosen.start_from, chosen.start_to)
            models = _insights.models(self._connection, chosen.start_from, chosen.start_to)
        drawn: list[dict[str, Any]] = []
        every: list[float] = []
        width = None
        if span is not None:
            start, end = span
            width = _insights.bucket_width(start, end, buckets)
            first = math.floor(start / width) * width
            for index in range(math.ceil(end / width) - math.floor(start / width)):
                low = first + index * width
                with self._lock:
                    (traces, errors, tokens, cost), durations = _insights.bucket(
                        self._connection, max(start, low), min(end, low + width)
                    )
                every += durations
                drawn.append(
                    {
                        "start": low,
                        "traces": traces,
                        "errors": errors,
                        **_insights.percentiles(durations),
                        "tokens": int(tokens),
                        "cost_usd": round(cost, 9),
                    }
                )
        totals = {
            "traces": sum(drawn_bucket["traces"] for drawn_bucket in drawn),
            "errors": sum(drawn_bucket["errors"] for drawn_bucket in drawn),
            **_insights.percentiles(every),
            "tokens": sum(drawn_bucket["tokens"] for drawn_bucket in drawn),
            "cost_usd": round(sum(drawn_bucket["cost_usd"] for drawn_bucket in drawn), 9),
        }
        return {
            "from": None if span is None else span[0],
            "to": None if span is None else span[1],
            "bucket_ms": width,
            "buckets": drawn,
            "totals": totals,
            "models": models,
        }

    def trace_summary(self, trace_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._settle()
            row = self._connection.execute(_SELECT_TRACES + " WHERE trace_id = ?", (trace_id,)).fetchone()
        return _trace(row) if row else None

    def run_page(
        self, trace_id: str, limit: int, after: tuple[float, str] | None = None, since: int | None = None
    ) -> tuple[list[dict[str, Any]], tuple[float, str] | None]:
        """A trace's runs as facts (no bodies), in start order, ``limit`` at most; and where the next page starts.

        ``since`` (a ``version()``) keeps only the runs stored after it: a page showing a big trace live
        fetches what changed, not the whole trace again.
        """
        condition = ""
        parameters: list[Any] = [trace_id]
        if after is not None:
            condition = " AND (start_ms, id) > (?, ?)"  # a row value: the index range starts past the mark
            parameters += [after[0], after[1]]
        if since is not None:
            condition += " AND received > ?"
            parameters.append(since)
        with self._lock:
            rows = self._connection.execute(
                _SELECT_RUN_ROWS + condition + " ORDER BY start_ms, id LIMIT ?",
                (*parameters, limit + 1),
            ).fetchall()
        runs = [dict(zip(_RUN_ROW_COLUMNS, row, strict=True)) for row in rows[:limit]]
        for run in runs:
            run["usage_aggregate"] = bool(run["usage_aggregate"])
        following = (runs[-1]["start_ms"], runs[-1]["id"]) if len(rows) > limit else None
        return runs, following

    def run_json(self, run_id: str) -> tuple[str, int] | None:
        """One run's JSON as stored, not parsed again (it may be megabytes), and how many times it arrived."""
        with self._lock:
            row = self._connection.execute("SELECT body, deliveries FROM runs WHERE id = ?", (run_id,)).fetchone()
        return (row[0], row[1]) if row else None

    def version(self) -> int:
        """Grows with every request stored: a page polls this to know when to fetch again."""
        with self._lock:
            row = self._connection.execute("SELECT MAX(seq) FROM requests").fetchone()
        return int(row[0] or 0)

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT run_count, body_bytes, content_encoding FROM requests ORDER BY seq"
            ).fetchall()
        return [{"run_count": n, "body_bytes": size, "content_encoding": enc} for n, size, enc in rows]

    def close(self) -> None:
        with self._lock:
            self._settle()
            self._connection.close()

    # What the viewer's trace page reads beside its rows: each answered from the stored JSON text.

    def run_marks(
        self, trace_id: str, limit: int, after: tuple[float, str] | None = None
    ) -> tuple[list[str], tuple[float, str] | None]:
        """The ids of a page of a trace's runs in the waterfall's order, ``limit`` at most; and the next's start.

        A download reads the ids a page at a time and then each body alone, so neither the lock nor memory is ever
        held for more than one run's JSON, however large the runs are.
        """
        condition = ""
        parameters: list[Any] = [trace_id]
        if after is not None:
            condition = " AND (start_ms, id) > (?, ?)"  # a row value: the index range starts past the mark
            parameters += [after[0], after[1]]
        with self._lock:
            rows = self._connection.execute(
                "SELECT start_ms, id FROM runs WHERE trace_id = ?"  # noqa: S608 (constants; values bound)
                + condition
                + " ORDER BY start_ms, id LIMIT ?",
                (*parameters, limit + 1),
            ).fetchall()
        following = (rows[limit - 1][0], rows[limit - 1][1]) if len(rows) > limit else None
        return [run_id for _, run_id in rows[:limit]], following
