"""What the viewer lists about a run without reading its body: pure, no I/O.

The store keeps these facts in columns beside each run's JSON, so the
traces list and a trace's timeline are answered from an index, never by
parsing every stored run again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

ERROR_SUMMARY_CHARS = 200
"""The first line of an error, cut here: enough for a timeline's tooltip."""


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


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def usage_of(run: dict[str, Any]) -> dict[str, Any] | None:
    """``metadata.usage``: only the run of the LLM call carries it, so summing it counts each call once."""
    metadata = run.get("metadata")
    usage = metadata.get("usage") if isinstance(metadata, dict) else None
    return usage if isinstance(usage, dict) else None


def tokens_of(usage: dict[str, Any]) -> int | None:
    total = _number(usage.get("total_tokens"))
    if total is None:
        parts = [_number(usage.get(name)) for name in ("prompt_tokens", "completion_tokens")]
        if all(part is None for part in parts):
            return None
        total = sum(part or 0.0 for part in parts)
    return int(total)


def cost_of(usage: dict[str, Any]) -> float | None:
    """Dynamiq's ``total_tokens_cost_usd``, or the sum of its two halves."""
    total = _number(usage.get("total_tokens_cost_usd"))
    if total is not None:
        return total
    parts = [_number(usage.get(name)) for name in ("prompt_tokens_cost_usd", "completion_tokens_cost_usd")]
    if all(part is None for part in parts):
        return None
    return sum(part or 0.0 for part in parts)


def _group(run: dict[str, Any]) -> str | None:
    metadata = run.get("metadata")
    node = metadata.get("node") if isinstance(metadata, dict) else None
    group = node.get("group") if isinstance(node, dict) else None
    return group if isinstance(group, str) else None


def _error_line(run: dict[str, Any]) -> str | None:
    error = run.get("error")
    if not isinstance(error, dict):
        return None
    message = str(error.get("message") or error.get("type") or "error")
    return (message.splitlines() or [""])[0][:ERROR_SUMMARY_CHARS]


def run_facts(run: dict[str, Any]) -> RunFacts:
    """The facts of a run the validator accepted (``start_time`` is then a time with an offset)."""
    usage = usage_of(run)
    parent = run.get("parent_run_id")
    return RunFacts(
        parent_run_id=parent if isinstance(parent, str) else None,
        name=str(run.get("name", "")),
        type=str(run.get("type", "")),
        group=_group(run),
        status=run.get("status") if isinstance(run.get("status"), str) else None,
        start_ms=epoch_ms(run.get("start_time")) or 0.0,
        end_ms=epoch_ms(run.get("end_time")),
        tokens=tokens_of(usage) if usage is not None else None,
        cost_usd=cost_of(usage) if usage is not None else None,
        error=_error_line(run),
    )
