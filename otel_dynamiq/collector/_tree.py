"""Draw one trace's runs as an indented tree: what a person checks first."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any


def _duration_ms(run: dict[str, Any]) -> float | None:
    start, end = run.get("start_time"), run.get("end_time")
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() * 1000


def _describe(run: dict[str, Any]) -> str:
    duration = _duration_ms(run)
    parts = [f"{run.get('name')} [{run.get('type')}]", str(run.get("status") or "unknown")]
    if duration is not None:
        parts.append(f"{duration:.1f} ms")
    metadata = run.get("metadata") or {}
    usage = metadata.get("usage") if isinstance(metadata, dict) else None
    if isinstance(usage, dict) and usage.get("total_tokens") is not None:
        parts.append(
            f"tokens {usage.get('prompt_tokens', 0)}+{usage.get('completion_tokens', 0)}={usage['total_tokens']}"
        )
    error = run.get("error")
    if isinstance(error, dict) and error.get("message"):
        parts.append(f"error: {str(error['message']).splitlines()[0][:120]}")
    return "  ".join(parts)


def render_tree(runs: Sequence[dict[str, Any]]) -> str:
    """Roots are runs without a parent, or whose parent is not among the runs."""
    ids = {run["id"] for run in runs}
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        parent = run.get("parent_run_id")
        children[parent if parent in ids else None].append(run)
    for siblings in children.values():
        siblings.sort(key=lambda run: run.get("start_time") or "")

    lines: list[str] = []

    def walk(run: dict[str, Any], prefix: str, is_last: bool, is_root: bool) -> None:
        connector = "" if is_root else ("└─ " if is_last else "├─ ")
        lines.append(prefix + connector + _describe(run))
        below = children.get(run["id"], [])
        child_prefix = prefix if is_root else prefix + ("   " if is_last else "│  ")
        for position, child in enumerate(below):
            walk(child, child_prefix, position == len(below) - 1, False)

    for root in children.get(None, []):
        walk(root, "", True, True)
    return "\n".join(lines)
