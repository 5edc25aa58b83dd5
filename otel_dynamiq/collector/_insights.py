"""Sessions and trends over many traces: the SQL behind the viewer's sessions list, a session's turns and the
overview. ``RunStore`` calls these with its lock held; nothing here reads a table whole.

A session is the traces (its turns) whose summary names one ``session_id``. The ``sessions`` table keeps one
row of totals per session, and ``session_users`` which users had turns in which session. Triggers on
``traces`` keep both: before a summary row is replaced its counts leave its session, after it is written they
join its (maybe other) session. So a summary rewritten for a run that arrived later costs a few index seeks,
whatever the size of its session (a long-running service's default session may hold every trace), where a
recount would read the whole session; and any code that writes ``traces`` keeps the sessions right without
knowing of them. A session's first and last start are an index seek each (``traces_by_session``) when a turn
leaves; sums are added and taken away (the cost, a float, may so differ from a fresh sum in its last bits: it
is rounded on the way out).

Both tables and their triggers are temporary, the store's connection's own: counted from the summaries when
the store opens (one pass over them, beside ``_catch_up``'s over the runs), kept from then on. The file holds
nothing of them, so whatever else writes it (a collector of another version, a person with ``sqlite3``) can
leave nothing stale, and no file needs them added.

The overview reads its time range a bucket at a time from ``traces_by_start_totals`` (counts and sums in
SQL, each finished trace's duration for the percentiles), and the models from ``runs_by_model_call``, a
partial index holding only the runs of model calls with what is summed: both are read without touching a
table, and the runs' bodies least of all, however many other runs there are.
"""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

from otel_dynamiq.collector._summary import MAX_COST_USD, MAX_TOKENS, parsed_run

SESSION_COLUMNS = (
    "session_id",
    "turns",
    "first_start_ms",
    "last_start_ms",
    "duration_ms",
    "runs",
    "tokens",
    "tokened",
    "cost_usd",
    "priced",
    "failures",
)
"""``sessions``' columns. ``duration_ms`` adds up the finished turns' durations; ``tokened`` and ``priced``
count the turns with tokens and with a cost (none: the session's are unknown, not 0); ``failures`` counts the
turns with a failed run."""
_SCHEMA = """
CREATE TEMP TABLE sessions (
    session_id TEXT PRIMARY KEY,
    turns INTEGER NOT NULL,
    first_start_ms REAL NOT NULL,
    last_start_ms REAL NOT NULL,
    duration_ms REAL NOT NULL,
    runs INTEGER NOT NULL,
    tokens REAL NOT NULL,
    tokened INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    priced INTEGER NOT NULL,
    failures INTEGER NOT NULL
);
CREATE INDEX sessions_by_last ON sessions (last_start_ms, session_id);
CREATE TEMP TABLE session_users (
    user_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    turns INTEGER NOT NULL,
    PRIMARY KEY (user_id, session_id)
) WITHOUT ROWID;
CREATE INDEX session_users_by_session ON session_users (session_id, turns);
"""
# A model call: a run naming its model that carries usage. A Dynamiq LLM node and the client span below it may
# both name the model; only the run of the call carries usage, so counting these counts each call once.
MODEL_CALL = "model IS NOT NULL AND (tokens IS NOT NULL OR cost_usd IS NOT NULL)"
_INDEXES = (
    # Model calls by model then start, with what is summed: a model's calls in a range are one range of it.
    f"CREATE INDEX IF NOT EXISTS runs_by_model_call ON runs (model, start_ms, tokens, cost_usd) WHERE {MODEL_CALL}",
    # Summaries by start with what a bucket sums: a bucket is read from the index alone, never the table.
    "CREATE INDEX IF NOT EXISTS traces_by_start_totals ON traces (start_ms, end_ms, failures, tokens, cost_usd)",
)
# What one summary row adds to its session, spelled for the row ``{row}`` (NEW, or ``o``: the row being left).
_DURATION = "COALESCE({row}.end_ms - {row}.start_ms, 0)"
_ADDS = {
    "turns": "1",
    "duration_ms": _DURATION,
    "runs": "{row}.run_count",
    "tokens": "COALESCE({row}.tokens, 0)",
    "tokened": "({row}.tokens IS NOT NULL)",
    "cost_usd": "COALESCE({row}.cost_usd, 0)",
    "priced": "({row}.cost_usd IS NOT NULL)",
    "failures": "({row}.failures > 0)",
}
_OLD = "(SELECT {column} FROM traces WHERE trace_id = {key})"
# A session's first (or last) start when a turn leaves: unchanged unless the turn was the first (or last); then
# the next one's, a seek of ``traces_by_session`` (CASE evaluates the seek only then).
_NEIGHBOUR = (
    "CASE WHEN o.start_ms {inside} sessions.{column} THEN sessions.{column} ELSE"
    " COALESCE((SELECT n.start_ms FROM traces n WHERE n.session_id = o.session_id AND n.trace_id <> o.trace_id"
    " ORDER BY n.start_ms {way} LIMIT 1), sessions.{column}) END"
)
# Before a summary row is replaced or changed: its counts leave its session (and the session goes with its
# last turn). ``{key}`` is the row's trace id; the row is still in ``traces``.
_LEAVE = (  # noqa: S608 (constant text only)
    "UPDATE sessions SET ({columns}, first_start_ms, last_start_ms) = (SELECT {taken}, {first}, {last}"
    " FROM traces o WHERE o.trace_id = {{key}}) WHERE session_id = {session};\n"
    "DELETE FROM sessions WHERE session_id = {session} AND turns <= 0;\n"
    "UPDATE session_users SET turns = turns - 1 WHERE user_id = {user} AND session_id = {session};\n"
    "DELETE FROM session_users WHERE user_id = {user} AND session_id = {session} AND turns <= 0;\n"
).format(
    columns=", ".join(_ADDS),
    taken=", ".join(f"sessions.{column} - {adds.format(row='o')}" for column, adds in _ADDS.items()),
    first=_NEIGHBOUR.format(inside=">", way="ASC", column="first_start_ms"),
    last=_NEIGHBOUR.format(inside="<", way="DESC", column="last_start_ms"),
    session=_OLD.format(column="session_id", key="{key}"),
    user=_OLD.format(column="user_id", key="{key}"),
)
# After a summary row is written: its counts join its session.
_JOIN = (  # noqa: S608 (constant text only)
    "INSERT INTO sessions (session_id, {columns}, first_start_ms, last_start_ms)"
    " SELECT NEW.session_id, {values}, NEW.start_ms, NEW.start_ms WHERE NEW.session_id IS NOT NULL"
    " ON CONFLICT (session_id) DO UPDATE SET {sums}, first_start_ms = MIN(first_start_ms, excluded.first_start_ms),"
    " last_start_ms = MAX(last_start_ms, excluded.last_start_ms);\n"
    "INSERT INTO session_users (user_id, session_id, turns) SELECT NEW.user_id, NEW.session_id, 1"
    " WHERE NEW.user_id IS NOT NULL AND NEW.session_id IS NOT NULL"
    " ON CONFLICT (user_id, session_id) DO UPDATE SET turns = turns + 1;\n"
).format(
    columns=", ".join(_ADDS),
    values=", ".join(adds.format(row="NEW") for adds in _ADDS.values()),
    sums=", ".join(f"{column} = {column} + excluded.{column}" for column in _ADDS),
)
_SUMMARY_COLUMNS = "session_id, user_id, start_ms, end_ms, run_count, tokens, cost_usd, failures"
_TRIGGERS = {
    # A summary written for the first time has no counts to take out of a session: most are, and skip the work.
    "sessions_leave_before_insert": (
        "BEFORE INSERT ON traces WHEN EXISTS (SELECT 1 FROM traces WHERE trace_id = NEW.trace_id)"  # noqa: S608
        f" BEGIN {_LEAVE.format(key='NEW.trace_id')} END"
    ),
    "sessions_join_after_insert": f"AFTER INSERT ON traces BEGIN {_JOIN} END",
    "sessions_leave_before_update": (
        f"BEFORE UPDATE OF {_SUMMARY_COLUMNS} ON traces BEGIN {_LEAVE.format(key='OLD.trace_id')} END"
    ),
    "sessions_join_after_update": f"AFTER UPDATE OF {_SUMMARY_COLUMNS} ON traces BEGIN {_JOIN} END",
    # A trace whose runs were all sent again under other trace ids is deleted: its turn leaves its session.
    "sessions_leave_before_delete": f"BEFORE DELETE ON traces BEGIN {_LEAVE.format(key='OLD.trace_id')} END",
}
# Every session counted once, from the summaries, when the store opens.
_FILL = (  # noqa: S608 (constant text only)
    "INSERT INTO sessions (session_id, {columns}, first_start_ms, last_start_ms)"
    " SELECT o.session_id, {sums}, MIN(o.start_ms), MAX(o.start_ms) FROM traces o"
    " WHERE o.session_id IS NOT NULL GROUP BY o.session_id;\n"
    "INSERT INTO session_users (user_id, session_id, turns) SELECT user_id, session_id, COUNT(*) FROM traces"
    " WHERE user_id IS NOT NULL AND session_id IS NOT NULL GROUP BY user_id, session_id;\n"
).format(columns=", ".join(_ADDS), sums=", ".join(f"TOTAL({adds.format(row='o')})" for adds in _ADDS.values()))

PREVIEW_CHARS = 200
"""What a session's page shows of a turn's input and output: its first characters."""
MAX_PREVIEW_BYTES = 256 * 1024
"""A root run stored larger than this is not parsed for its preview: a page of 100 turns parses 25 MiB at most."""
_PREVIEW_KEYS = ("input", "query", "question", "prompt", "content", "text", "answer", "output", "result", "message")
"""Where a run's input or output usually keeps its text (Dynamiq's nodes, chat messages, common tools)."""

PERCENTILES = (("p50_ms", 0.5), ("p95_ms", 0.95))
_STEPS_MS = (
    *(1000 * seconds for seconds in (1, 2, 5, 10, 15, 30)),
    *(60_000 * minutes for minutes in (1, 2, 5, 10, 15, 30)),
    *(3_600_000 * hours for hours in (1, 2, 3, 6, 12)),
    *(86_400_000 * days for days in (1, 2, 7, 14, 30, 60, 90, 180, 365)),
)
"""Bucket widths a reader can count in: the overview takes the narrowest giving at most the buckets asked."""
_BUCKET = (
    "SELECT COUNT(*), COUNT(CASE WHEN failures > 0 THEN 1 END), TOTAL(tokens), TOTAL(cost_usd)"
    " FROM traces WHERE start_ms >= ? AND start_ms < ?"
)
_DURATIONS = "SELECT end_ms - start_ms FROM traces WHERE start_ms >= ? AND start_ms < ? AND end_ms IS NOT NULL"
_SUMS = (
    f"SELECT COUNT(*), TOTAL(CASE WHEN tokens BETWEEN 0 AND {MAX_TOKENS} THEN tokens END),"  # noqa: S608
    f" TOTAL(CASE WHEN cost_usd BETWEEN 0 AND {MAX_COST_USD!r} THEN cost_usd END) FROM runs WHERE {MODEL_CALL}"
)
_NEXT_MODEL = f"SELECT model FROM runs WHERE {MODEL_CALL} AND model > ? ORDER BY model LIMIT 1"  # noqa: S608
MAX_MODEL_SEEKS = 500
"""Models looked up one by one (a seek and a range each); calls of any further model are summed as others."""
MAX_MODELS = 50
"""Models the overview lists, most calls first; the others are summed in one line."""


def open_sessions(connection: sqlite3.Connection) -> None:
    """Called when a store opens, before summaries are recounted: the indexes the overview reads (kept in the
    file), and the sessions (the connection's own), counted from the summaries there are."""
    for index in _INDEXES:
        connection.execute(index)
    for statement in (*_SCHEMA.split(";"), *_FILL.split(";\n")):
        if statement.strip():
            connection.execute(statement)
    for name, body in _TRIGGERS.items():
        connection.execute(f"CREATE TEMP TRIGGER {name} {body}")


def session_row(row: tuple[Any, ...]) -> dict[str, Any]:
    """A session as the viewer gets it: tokens a whole number, sums nobody reported unknown, not 0."""
    values = dict(zip(SESSION_COLUMNS, row, strict=True))
    tokened, priced = values.pop("tokened"), values.pop("priced")
    values["tokens"] = int(values["tokens"]) if tokened else None
    values["cost_usd"] = round(values["cost_usd"], 9) if priced else None
    return values


def session_page(
    connection: sqlite3.Connection,
    limit: int,
    after: tuple[float, str] | None,
    start_from: float | None,
    start_to: float | None,
    user: str | None,
) -> list[tuple[Any, ...]]:
    """Sessions with a turn started in the range, the latest last start first, ``limit`` + 1 at most.

    Read down ``sessions_by_last``: a session whose last turn started before ``start_from`` has none in range.
    With ``start_to``, a session that went on past it is kept if a turn started in range (a seek of
    ``traces_by_session``). With ``user``, the user's sessions come from ``session_users`` and are sorted.
    """
    conditions: list[str] = []
    parameters: list[Any] = []
    if start_from is not None:
        conditions.append("last_start_ms >= ?")
        parameters.append(start_from)
    if start_to is not None:
        conditions.append("first_start_ms < ?")
        parameters.append(start_to)
        conditions.append(
            "(last_start_ms < ? OR EXISTS (SELECT 1 FROM traces t WHERE t.session_id = sessions.session_id"
            " AND t.start_ms >= ? AND t.start_ms < ?))"
        )
        parameters += [start_to, -math.inf if start_from is None else start_from, start_to]
    if user is not None:
        conditions.append("session_id IN (SELECT u.session_id FROM session_users u WHERE u.user_id = ?)")
        parameters.append(user)
    if after is not None:
        conditions.append("last_start_ms <= ? AND (last_start_ms < ? OR session_id < ?)")
        parameters += [after[0], after[0], after[1]]
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return connection.execute(
        f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions{where}"  # noqa: S608 (constant text; values bound)
        " ORDER BY last_start_ms DESC, session_id DESC LIMIT ?",
        (*parameters, limit + 1),
    ).fetchall()


def session_totals(connection: sqlite3.Connection, session_id: str) -> dict[str, Any] | None:
    """One session's totals and its users, most turns first (ten at most)."""
    row = connection.execute(
        f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions WHERE session_id = ?",  # noqa: S608 (constant text)
        (session_id,),
    ).fetchone()
    if row is None:
        return None
    session = session_row(row)
    session["users"] = [
        user
        for (user,) in connection.execute(
            "SELECT user_id FROM session_users WHERE session_id = ? ORDER BY turns DESC, user_id LIMIT 10",
            (session_id,),
        )
    ]
    return session


def turn_page(
    connection: sqlite3.Connection, columns: str, session_id: str, limit: int, after: tuple[float, str] | None
) -> list[tuple[Any, ...]]:
    """A session's traces in start order (ties by trace id), ``limit`` + 1 at most: a range of
    ``traces_by_session`` from the mark on."""
    condition = ""
    parameters: list[Any] = [session_id]
    if after is not None:
        condition = " AND start_ms >= ? AND (start_ms > ? OR trace_id > ?)"
        parameters += [after[0], after[0], after[1]]
    return connection.execute(
        f"SELECT {columns} FROM traces WHERE session_id = ?{condition}"  # noqa: S608 (constant text; values bound)
        " ORDER BY start_ms, trace_id LIMIT ?",
        (*parameters, limit + 1),
    ).fetchall()


def root_body(connection: sqlite3.Connection, trace_id: str) -> tuple[int, str | None] | None:
    """The size of a trace's root run as stored, and its JSON unless it is too large to parse for a preview."""
    row = connection.execute(
        "SELECT size, CASE WHEN size <= ? THEN body END FROM runs WHERE trace_id = ? AND parent_run_id IS NULL"
        " ORDER BY start_ms LIMIT 1",
        (MAX_PREVIEW_BYTES, trace_id),
    ).fetchone()
    return None if row is None else (int(row[0] or 0), row[1])


def _text_in(value: Any, depth: int = 0) -> str | None:
    """The text a person would read first in a run's input or output, if it has one."""
    if isinstance(value, str):
        return value
    if depth > 3:
        return None
    if isinstance(value, dict):
        for key in _PREVIEW_KEYS:
            found = _text_in(value.get(key), depth + 1)
            if found:
                return found
        messages = value.get("messages")
        if isinstance(messages, list) and messages:
            for message in reversed(messages):  # the question asked last, the answer given last
                if isinstance(message, dict) and isinstance(message.get("content"), str) and message["content"]:
                    return str(message["content"])
    return None


def brief(value: Any) -> str | None:
    """A run's input or output in ``PREVIEW_CHARS``: its text if it has one, else its compact JSON."""
    if value is None:
        return None
    text = _text_in(value)
    if text is None:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def previews(stored: tuple[int, str | None] | None) -> dict[str, str | None]:
    """A turn's input and output in brief, from its root run as ``root_body`` read it."""
    if stored is None:
        return {"input": None, "output": None}
    size, body = stored
    if body is None:
        note = f"(not shown: the run is {size / 1024:,.0f} KiB)"
        return {"input": note, "output": note}
    run = parsed_run(body)
    return {"input": brief(run.get("input")), "output": brief(run.get("output"))}


def bucket_width(start: float, end: float, most: int) -> float:
    """The narrowest width a reader counts in (1 s to a year, then years doubled) that cuts [start, end) into
    ``most`` parts or fewer. Buckets begin at whole widths since the epoch (labels read 14:30, not 14:27), so
    the first and last may be partial, and there may be one more: 61 buckets of a minute in an hour from 14:27.
    """
    span = end - start
    for step in _STEPS_MS:
        if span <= step * most:
            return float(step)
    width = float(_STEPS_MS[-1])
    while span > width * most:
        width *= 2
    return width


def time_range(
    connection: sqlite3.Connection, start_from: float | None, start_to: float | None
) -> tuple[float, float] | None:
    """The range asked, an open end taken from the traces (the earliest start; just after the latest): each a
    seek of ``traces_by_start``. None when nothing started in it."""
    if start_from is None:
        (start_from,) = connection.execute("SELECT MIN(start_ms) FROM traces").fetchone()
    if start_to is None:
        (latest,) = connection.execute("SELECT MAX(start_ms) FROM traces").fetchone()
        start_to = None if latest is None else latest + 1
    if start_from is None or start_to is None or start_from >= start_to:
        return None
    return start_from, start_to


def bucket(
    connection: sqlite3.Connection, start: float, end: float
) -> tuple[tuple[int, int, float, float], list[float]]:
    """One bucket's traces (started in [start, end)): counts and sums, and the finished ones' durations."""
    counts = connection.execute(_BUCKET, (start, end)).fetchone()
    durations = [duration for (duration,) in connection.execute(_DURATIONS, (start, end))]
    return (int(counts[0]), int(counts[1]), float(counts[2]), float(counts[3])), durations


def percentiles(durations: list[float]) -> dict[str, float | None]:
    """Nearest rank: each percentile is a duration some trace took (p50 of two is the shorter)."""
    ordered = sorted(durations)
    return {
        name: ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else None for name, share in PERCENTILES
    }


def models(connection: sqlite3.Connection, start_from: float | None, start_to: float | None) -> list[dict[str, Any]]:
    """Model calls started in the range by model, most calls first: ``MAX_MODELS``, then the rest as one line
    (model None).

    Each model is a seek in ``runs_by_model_call`` and its calls one range of it: no sort, and a short range
    reads few entries however many calls are older. Past ``MAX_MODEL_SEEKS`` models (model names are the
    producer's text), the calls of the models after the last one seeked are summed in one pass.
    """
    bounds = ""
    parameters: list[Any] = []
    if start_from is not None:
        bounds += " AND start_ms >= ?"
        parameters.append(start_from)
    if start_to is not None:
        bounds += " AND start_ms < ?"
        parameters.append(start_to)
    found: list[tuple[str | None, int, float, float]] = []
    model = ""
    for _ in range(MAX_MODEL_SEEKS):
        row = connection.execute(_NEXT_MODEL, (model,)).fetchone()
        if row is None:
            break
        model = row[0]
        calls, tokens, cost = connection.execute(f"{_SUMS} AND model = ?{bounds}", (model, *parameters)).fetchone()
        if calls:
            found.append((model, calls, tokens, cost))
    else:
        calls, tokens, cost = connection.execute(f"{_SUMS} AND model > ?{bounds}", (model, *parameters)).fetchone()
        if calls:
            found.append((None, calls, tokens, cost))
    found.sort(key=lambda line: (line[0] is None, -line[1], line[0] or ""))
    kept = [line for line in found if line[0] is not None][:MAX_MODELS]
    others = [line for line in found if line not in kept]
    if others:
        kept.append(
            (None, sum(line[1] for line in others), sum(line[2] for line in others), sum(line[3] for line in others))
        )
    return [
        {"model": name, "calls": calls, "tokens": int(tokens), "cost_usd": round(cost, 9)}
        for name, calls, tokens, cost in kept
    ]
