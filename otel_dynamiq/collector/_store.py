"""Runs kept in SQLite: a file to survive restarts, or memory for tests.

A run id already stored is replaced, as the Dynamiq service does: the native
handler re-posts runs, and a retried request may arrive twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    trace_id TEXT NOT NULL,
    start_time TEXT NOT NULL,
    received INTEGER NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 1,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_trace ON runs (trace_id, start_time);
CREATE TABLE IF NOT EXISTS requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_count INTEGER NOT NULL,
    body_bytes INTEGER NOT NULL,
    content_encoding TEXT
);
"""


class RunStore:
    """Thread-safe: the HTTP server answers each request on its own thread."""

    def __init__(self, path: str = ":memory:") -> None:
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(path, check_same_thread=False)
        with self._lock:
            self._connection.executescript(_SCHEMA)

    def add(self, runs: Iterable[dict[str, Any]], body_bytes: int, content_encoding: str | None) -> None:
        rows = [(run["id"], str(run["trace_id"]), run["start_time"], json.dumps(run)) for run in runs]
        with self._lock, self._connection:
            sequence = self._connection.execute(
                "INSERT INTO requests (run_count, body_bytes, content_encoding) VALUES (?, ?, ?)",
                (len(rows), body_bytes, content_encoding),
            ).lastrowid
            self._connection.executemany(
                "INSERT INTO runs (id, trace_id, start_time, received, body) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET trace_id = excluded.trace_id, start_time = excluded.start_time,"
                " body = excluded.body, deliveries = runs.deliveries + 1",
                [(run_id, trace_id, start, sequence, body) for run_id, trace_id, start, body in rows],
            )

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
        """One line per trace, newest first."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT trace_id, COUNT(*), MIN(start_time), MAX(received) FROM runs"
                " GROUP BY trace_id ORDER BY MAX(received) DESC, MIN(start_time) DESC"
            ).fetchall()
        return [{"trace_id": trace_id, "run_count": count, "start_time": start} for trace_id, count, start, _ in rows]

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT run_count, body_bytes, content_encoding FROM requests ORDER BY seq"
            ).fetchall()
        return [{"run_count": n, "body_bytes": size, "content_encoding": enc} for n, size, enc in rows]

    def close(self) -> None:
        with self._lock:
            self._connection.close()
