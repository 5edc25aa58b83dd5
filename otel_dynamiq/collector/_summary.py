"""What the viewer lists about a run without reading its body: pure, no I/O.

The store keeps these facts in columns beside each run's JSON, so the
traces list and a trace's timeline are answered from an index, never by
parsing every stored run again.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, NamedTuple

ERROR_SUMMARY_CHARS = 200
"""The first line of an error, cut here: enough for a timeline's tooltip."""
FACT_TEXT_CHARS = 200
"""A run's name, type, group and status in the fact columns are cut here: a list of traces or a page of runs
stays small whatever a run's name holds (its full name stays in the run's JSON)."""
MAX_TOKENS = 10**15
"""Tokens of one run above this (or negative, or not a finite number) are not counted: no real call uses a
thousand trillion tokens, and a trace's sum then stays exact and far from SQLite's integer limit."""
MAX_COST_USD = 10.0**9
"""The same for a run's cost: a billion dollars per call is a bad value, not a bill."""


class RunFacts(NamedTuple):
    parent_run_id: str | None
    name: str
    type: str
    group: str | None
    status: str | None
    start_ms: float
    end_ms: float | None
    tokens: int | None
    cost_usd: float | None
    error: str | None


def epoch_ms(value: Any) -> float | None:
    """An ISO 8601 time as milliseconds since the epoch: strings with different offsets compare right."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp() * 1000


def _number(value: Any, most: float) -> float | None:
    """A count from a run, or None when it is not a finite number from 0 to ``most``: a bad value is ignored."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return number if math.isfinite(number) and 0 <= number <= most else None


def tokens_of(usage: dict[str, Any]) -> int | None:
    """``metadata.usage``'s tokens: only the run of the LLM call carries it, so summing it counts each call once."""
    total = _number(usage.get("total_tokens"), MAX_TOKENS)
    if total is None:
        parts = [_number(usage.get(name), MAX_TOKENS) for name in ("prompt_tokens", "completion_tokens")]
        if all(part is None for part in parts):
            return None
        total = sum(part or 0.0 for part in parts)
    return int(total)


def cost_of(usage: dict[str, Any]) -> float | None:
    """Dynamiq's ``total_tokens_cost_usd``, or the sum of its two halves."""
    total = _number(usage.get("total_tokens_cost_usd"), MAX_COST_USD)
    if total is not None:
        return total
    parts = [
        _number(usage.get(name), MAX_COST_USD) for name in ("prompt_tokens_cost_usd", "completion_tokens_cost_usd")
    ]
    if all(part is None for part in parts):
        return None
    return sum(part or 0.0 for part in parts)


def run_facts(run: dict[str, Any]) -> RunFacts:
    """The facts of a run the validator accepted (``start_time`` is then a time with an offset).

    Written flat: it runs for every stored run, on the collector's request path.
    """
    metadata = run.get("metadata")
    usage: Any = None
    node: Any = None
    if isinstance(metadata, dict):
        usage, node = metadata.get("usage"), metadata.get("node")
    group = node.get("group") if isinstance(node, dict) else None
    parent, status, error = run.get("parent_run_id"), run.get("status"), run.get("error")
    error_line = None
    if isinstance(error, dict):
        message = str(error.get("message") or error.get("type") or "error")
        error_line = (message.splitlines() or [""])[0][:ERROR_SUMMARY_CHARS]
    has_usage = isinstance(usage, dict)
    return RunFacts(
        parent[:FACT_TEXT_CHARS] if isinstance(parent, str) else None,
        str(run.get("name", ""))[:FACT_TEXT_CHARS],
        str(run.get("type", ""))[:FACT_TEXT_CHARS],
        group[:FACT_TEXT_CHARS] if isinstance(group, str) else None,
        status[:FACT_TEXT_CHARS] if isinstance(status, str) else None,
        epoch_ms(run.get("start_time")) or 0.0,
        epoch_ms(run.get("end_time")),
        tokens_of(usage) if has_usage else None,
        cost_of(usage) if has_usage else None,
        error_line,
    )
