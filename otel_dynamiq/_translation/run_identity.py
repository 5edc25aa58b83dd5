"""What makes a run a run the service can store: its identity. Pure, no I/O.

A run is keyed by its ``id`` and joined to its parent by ``parent_run_id``,
UUIDs both, and to its trace by ``trace_id``, a UUID or any other string. A
request holding a run without them is refused, every time it is sent, so the
exporter refuses such a run alone before sending (a mask hook may return
one), and the local collector refuses it by the same rules.
"""

from __future__ import annotations

import uuid

MAX_TRACE_ID_CHARS = 256
"""Trace ids are UUIDs (36 characters) in Dynamiq; a bound keeps one run from making every trace listing huge."""


def is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def is_trace_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_TRACE_ID_CHARS


def identity_problem(run: object) -> str | None:
    """What keeps ``run`` from being stored, said as what it is; None for a run whose identity is whole."""
    if not isinstance(run, dict):
        return f"a {type(run).__name__}, not a run dict or None"
    if not is_uuid(run.get("id")):
        return "a run without its id (a UUID string)"
    if not is_trace_id(run.get("trace_id")):
        return f"a run without its trace_id (a string of 1 to {MAX_TRACE_ID_CHARS} characters)"
    parent = run.get("parent_run_id")
    if parent is not None and not is_uuid(parent):
        return "a run whose parent_run_id is not a UUID string or null"
    return None
