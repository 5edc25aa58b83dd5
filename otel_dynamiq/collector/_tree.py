"""Draw one trace's runs as an indented tree: what a person checks first."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any


def printable(text: Any) -> str:
    """Text from the wire, safe for a terminal: control characters (escape sequences too) shown as ``\\x..``."""
    return "".join(
        char if unicodedata.category(char)[0] != "C" else char.encode("unicode_escape").decode("ascii")
        for char in str(text)
    )


def _duration_ms(run: dict[str, Any]) -> float | None:
    start, end = run.get("start_time"), run.get("end_time")
    if not isinstance(start, str) or not isinstance(end, str):
        return None
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() * 1000
    except (ValueError, TypeError):
        return None


def _describe(run: dict[str, Any]) -> str:
    duration = _duration_ms(run)
    parts = [f"{printable(run.get('name'))} [{printable(run.get('type'))}]", printable(run.get("status") or "unknown")]
    if duration is not None:
        parts.append(f"{duration:.1f} ms")
    metadata = run.get("metadata") or {}
    usage = metadata.get("usage") if isinstance(metadata, dict) else None
    if isinstance(usage, dict) and usage.get("total_tokens") is not None:
        parts.append(
            printable(
                f"tokens {usage.get('prompt_tokens', 0)}+{usage.get('completion_tokens', 0)}={usage['total_tokens']}"
            )
        )
    error = run.get("error")
    if isinstance(error, dict) and error.get("message"):
        first_line = (str(error["message"]).splitlines() or [""])[0]
        parts.append(f"error: {printable(first_line[:120])}")
    return "  ".join(parts)


def render_tree(runs: Sequence[dict[str, Any]]) -> str:
    """Roots are runs without a parent, or whose parent is not among the runs.

    Drawn without recursion (a chain may be thousands deep), and every run is
    drawn once: runs caught in a parent cycle, which no root reaches, are
    drawn last, from the first of each cycle, marked as such.
    """
    ids = {run.get("id") for run in runs}
    children: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        parent = run.get("parent_run_id")
        is_root = parent not in ids or parent == run.get("id")
        children[None if is_root else parent].append(run)
    for siblings in children.values():
        siblings.sort(key=lambda run: str(run.get("start_time") or ""))

    lines: list[str] = []
    drawn: set[int] = set()

    def draw(top: dict[str, Any], note: str = "") -> None:
        stack: list[tuple[dict[str, Any], str, bool, bool]] = [(top, "", True, True)]
        while stack:
            run, prefix, is_last, is_root = stack.pop()
            if id(run) in drawn:
                continue
            drawn.add(id(run))
            connector = "" if is_root else ("└─ " if is_last else "├─ ")
            lines.append(prefix + connector + _describe(run) + (note if is_root else ""))
            below = [child for child in children.get(run.get("id"), []) if id(child) not in drawn]
            child_prefix = prefix if is_root else prefix + ("   " if is_last else "│  ")
            for position in range(len(below) - 1, -1, -1):
                stack.append((below[position], child_prefix, position == len(below) - 1, False))

    for root in children.get(None, []):
        draw(root)
    for run in runs:
        if id(run) not in drawn:
            draw(run, "  (in a parent cycle)")
    return "\n".join(lines)
