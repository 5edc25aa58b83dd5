"""What the viewer lists about a run without reading its body: pure, no I/O.

The store keeps these facts in columns beside each run's JSON, so the
traces list and a trace's timeline are answered from an index, never by
parsing every stored run again.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any, NamedTuple

import orjson

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
MAX_TAGS = 32
"""A run's tags kept as facts (each cut to ``FACT_TEXT_CHARS``): what a tag filter can find, bounded."""
_MODEL_GROUPS = ("llms", "embedders")
_USER_ATTRIBUTES = ("user.id", "enduser.id", "langfuse.user.id")
"""Where OpenTelemetry producers name the end user (semantic conventions, the older one, Langfuse's)."""


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
    model: str | None
    provider: str | None
    session_id: str | None
    user_id: str | None
    tags: str | None
    """A JSON array of the run's distinct tags (``MAX_TAGS`` at most), or None when it has none."""
    usage_counted_in: str | None
    """The run whose usage holds this run's call (``metadata.otel.usage_counted_in``): shown here, counted there."""
    usage_aggregate: bool | None
    """True when this run's usage (``metadata.otel.usage``) totals the calls below it, each counted in its own."""


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


def _text(value: Any) -> str | None:
    """A short fact from a text or a number; anything else (or empty) is no fact."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = str(value)[:FACT_TEXT_CHARS]
    return text or None


def _user_id(metadata: dict[str, Any]) -> str | None:
    """Dynamiq's handler metadata may name the user; an OpenTelemetry span's attributes under ``otel`` do."""
    user = _text(metadata.get("user_id"))
    if user is not None:
        return user
    otel = metadata.get("otel")
    attributes = otel.get("attributes") if isinstance(otel, dict) else None
    if isinstance(attributes, dict):
        for name in _USER_ATTRIBUTES:
            user = _text(attributes.get(name))
            if user is not None:
                return user
    return None


def _connection_kind(connection: Any) -> str | None:
    """A Dynamiq node names its provider only by its connection's class (``dynamiq.connections.OpenAI``)."""
    kind = connection.get("type") if isinstance(connection, dict) else None
    # In lower case, as OpenTelemetry's ``gen_ai.provider.name`` values are: "OpenAI" and "openai" are one filter.
    return kind.rsplit(".", 1)[-1].lower() if isinstance(kind, str) else None


def json_text(value: Any) -> str:
    """JSON as the store keeps it: orjson writes a run ten times as fast as ``json`` (it is on every request's
    path); what orjson cannot write (an int past 64 bits, a lone surrogate: a request's JSON holds neither, a
    Python caller's may) is written by ``json``."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value)


def _tags(tags: Any) -> str | None:
    if not isinstance(tags, list) or not tags:
        return None
    kept = list(dict.fromkeys(tag[:FACT_TEXT_CHARS] for tag in tags if isinstance(tag, str) and tag))[:MAX_TAGS]
    return json_text(kept) if kept else None


def parsed_run(body: str) -> dict[str, Any]:
    """A stored run, or nothing where its text is not a JSON object (a file another program wrote) or nests
    deeper than Python parses: its facts or previews are then the defaults, and the reader still answers."""
    try:
        run = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    return run if isinstance(run, dict) else {}


def run_facts(run: dict[str, Any]) -> RunFacts:
    """The facts of a run the validator accepted (``start_time`` is then a time with an offset).

    Written flat: it runs for every stored run, on the collector's request path.
    """
    metadata = run.get("metadata")
    usage: Any = None
    node: Any = None
    otel: Any = None
    user = None
    if isinstance(metadata, dict):
        usage, node, otel = metadata.get("usage"), metadata.get("node"), metadata.get("otel")
        user = _user_id(metadata)
    counted_in = aggregate = None
    if isinstance(otel, dict):
        counted_in = otel.get("usage_counted_in")
        aggregate = otel.get("usage_aggregate") is True or None
    group = model = provider = None
    if isinstance(node, dict):
        group, model, provider = node.get("group"), node.get("model"), node.get("provider")
        if provider is None and group in _MODEL_GROUPS:
            provider = _connection_kind(node.get("connection"))
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
        _text(model),
        _text(provider),
        _text(run.get("session_id")),
        user,
        _tags(run.get("tags")),
        counted_in[:FACT_TEXT_CHARS] if isinstance(counted_in, str) and counted_in else None,
        aggregate,
    )
