"""What makes a run a run the service can store: its identity. Pure, no I/O.

A run is keyed by its ``id`` and joined to its trace and parent by ``trace_id``
and ``parent_run_id``, all UUIDs. The service refuses a request holding a run
without them, every time it is sent, so the exporter refuses such a run alone
before sending (a mask hook may return one), and the local collector refuses
it as the service would.
"""

from __future__ import annotations

import uuid


def is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def identity_problem(run: object) -> str | None:
    """What keeps ``run`` from being stored, said as what it is; None for a run whose identity is whole."""
    if not isinstance(run, dict):
        return f"a {type(run).__name__}, not a run dict or None"
    for field_name in ("id", "trace_id"):
        if not is_uuid(run.get(field_name)):
            return f"a run without its {field_name} (a UUID string)"
    parent = run.get("parent_run_id")
    if parent is not None and not is_uuid(parent):
        return "a run whose parent_run_id is not a UUID string or null"
    return None
