"""The wire contract of ``POST /v1/traces``, checked field by field.

The local collector refuses what the Dynamiq service would not understand,
naming the run and the field, so a wire-format regression fails a test
instead of vanishing in production.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from otel_dynamiq._translation.run_identity import MAX_TRACE_ID_CHARS, is_trace_id, is_uuid

RUN_TYPES = frozenset({"workflow", "flow", "node"})
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
RUN_STATUSES = frozenset({"succeeded", "failed", "skipped", "canceled"})
_ID_FIELDS = ("id", "parent_run_id", "trace_id")


def _is_datetime(value: Any) -> bool:
    """ISO 8601 with a UTC offset: a naive time would be read in the service's zone."""
    if not isinstance(value, str):
        return False
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _is_uuid(value: Any) -> bool:
    """``is_uuid``, answered by one match for the canonical spelling every exporter sends (a fifth of parsing)."""
    return isinstance(value, str) and (_CANONICAL_UUID.fullmatch(value) is not None or is_uuid(value))


Check = Callable[[Any], bool]
# field: (required, nullable, check, what it must be)
_RUN_FIELDS: dict[str, tuple[bool, bool, Check, str]] = {
    "id": (True, False, _is_uuid, "a UUID string"),
    "name": (True, False, _is_str, "a string"),
    "type": (True, False, lambda v: v in RUN_TYPES, "one of workflow, flow, node"),
    "trace_id": (True, False, is_trace_id, f"a non-empty string of at most {MAX_TRACE_ID_CHARS} characters"),
    "source_id": (True, False, _is_id, "a non-empty string"),
    "session_id": (True, False, _is_id, "a non-empty string"),
    "start_time": (True, False, _is_datetime, "an ISO 8601 time with a UTC offset"),
    "end_time": (False, True, _is_datetime, "an ISO 8601 time with a UTC offset"),
    "parent_run_id": (False, True, _is_uuid, "a UUID string"),
    "status": (False, True, lambda v: v in RUN_STATUSES, "one of succeeded, failed, skipped, canceled"),
    "metadata": (False, True, lambda v: isinstance(v, dict), "an object"),
    "error": (
        False,
        True,
        lambda v: isinstance(v, dict) and isinstance(v.get("message"), str),
        'an object with a string "message"',
    ),
    "executions": (False, False, lambda v: isinstance(v, list), "a list"),
    "tags": (False, False, lambda v: isinstance(v, list) and all(isinstance(t, str) for t in v), "a list of strings"),
}

_EXECUTION_FIELDS: dict[str, tuple[bool, bool, Check, str]] = {
    "id": (True, False, _is_uuid, "a UUID string"),
    "start_time": (True, False, _is_datetime, "an ISO 8601 time with a UTC offset"),
    "end_time": (False, True, _is_datetime, "an ISO 8601 time with a UTC offset"),
    "status": (False, True, lambda v: v in RUN_STATUSES, "one of succeeded, failed, skipped, canceled"),
    "metadata": (False, True, lambda v: isinstance(v, dict), "an object"),
}


def _field_problems(value: Any, fields: Mapping[str, tuple[bool, bool, Check, str]]) -> list[str]:
    """What is wrong with an object's fields, each said without naming the object: the name is put in front
    only when something is wrong, as nearly every request has nothing wrong."""
    if not isinstance(value, dict):
        return ["is not an object"]
    problems = []
    for name, (required, nullable, check, expected) in fields.items():
        if name not in value:
            if required:
                problems.append(f"lacks required field {name!r}")
            continue
        field_value = value[name]
        if field_value is None and nullable:
            continue
        if not check(field_value):
            problems.append(f"field {name!r} must be {expected}, got {field_value!r:.80}")
    return problems


def validate_run(run: Any, index: int = 0) -> list[str]:
    """Every problem with one run, each naming the run and the field."""
    problems = _field_problems(run, _RUN_FIELDS)
    if isinstance(run, dict) and isinstance(run.get("executions"), list):
        for position, execution in enumerate(run["executions"]):
            problems += [
                f"executions[{position}] {problem}" for problem in _field_problems(execution, _EXECUTION_FIELDS)
            ]
    if not problems:
        return problems
    run_id = run.get("id") if isinstance(run, dict) else None
    where = f"runs[{index}]" + (f" (id {run_id})" if isinstance(run_id, str) else "")
    return [f"{where} {problem}" for problem in problems]


def canonical_id(value: Any) -> Any:
    """One spelling per UUID (lower case, dashed), so ``{...}``, ``urn:uuid:`` or 32-hex forms are one run.

    An id already in that spelling (what the exporter sends) is kept after one match, which costs a fifth of
    parsing it: every run's ids go through here on the way in.
    """
    if not isinstance(value, str):
        return value
    if _CANONICAL_UUID.fullmatch(value):
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return value


def canonical_run(run: dict[str, Any]) -> dict[str, Any]:
    """The run with its id, parent id and trace id (when it is a UUID) in their one canonical spelling; the run
    itself when they already are (what every exporter sends), so the common request copies nothing."""
    respelled = {}
    for field in _ID_FIELDS:
        value = run.get(field)
        canonical = canonical_id(value)
        if canonical != value:
            respelled[field] = canonical
    return {**run, **respelled} if respelled else run


def validate_body(body: Any) -> list[str]:
    """Every problem with a request body; an empty list means the service would accept it."""
    if not isinstance(body, dict) or not isinstance(body.get("runs"), list):
        return ['the body must be a JSON object with a "runs" list']
    problems: list[str] = []
    for index, run in enumerate(body["runs"]):
        problems.extend(validate_run(run, index))
    return problems
