"""The same real workflows, traced natively and through otel-dynamiq: the runs must agree.

Native: Dynamiq's own ``TracingCallbackHandler`` with a client that keeps its
runs. Ours: ``DynamiqInstrumentor`` + ``DynamiqSpanExporter`` into the local
collector. Runs are matched by their place in the tree, since ids differ.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.support import dynamiq_apps as ds

DELIBERATE_DIFFERENCES = {
    "id": "derived from the OpenTelemetry trace and span ids, so children can be sent before parents",
    "parent_run_id": "likewise derived; compared through the tree shape instead",
    "trace_id": "the OpenTelemetry trace id; native makes one per handler",
    "source_id": "the exporter's, not the handler's",
    "session_id": "the exporter's, unless a span carries one",
    "start_time": "the span's; compared for consistency (children inside parents), not equality",
    "end_time": "likewise",
}
"""Every field of a run not listed here must be equal, value for value."""

EXECUTION_DIFFERENCES = {"id", "start_time", "end_time"}
"""Attempt ids and times are per execution; count, status, error and payloads must agree."""

PER_RUN_VALUES = (("node", "prompt", "id"),)
"""Metadata that Dynamiq itself makes afresh on every run (an LLM call builds a new prompt object)."""
"""Attempt ids and times are per execution; count, status, error and payloads must agree."""

CASES = [
    ds.Case("sequential flow", lambda url: ds.sequential_flow(), ds.run_sync),
    ds.Case("parallel branches", lambda url: ds.parallel_branches(), ds.run_sync),
    ds.Case("failure after retries, then a skip", lambda url: ds.failure_after_retries_and_skip(), ds.run_sync),
    ds.Case("agent with a tool and an LLM reporting usage", ds.agent_with_tool, ds.run_sync),
    ds.Case("workflow whose node runs another flow", lambda url: ds.nested_workflow(), ds.run_sync),
    ds.Case("async run", ds.agent_with_tool, ds.run_async),
    ds.Case("canceled run", lambda url: ds.canceled_run(), ds.run_sync),
    ds.Case("agent with a tool that has a pydantic input schema", ds.agent_with_schema_tool, ds.run_sync),
    ds.Case(
        "every kind of value in inputs and outputs",
        lambda url: ds.flow_of_every_kind_of_value(),
        ds.run_with_every_kind_of_value,
    ),
]


def keyed_by_place(runs: list[dict[str, Any]]) -> dict[tuple[str, ...], dict[str, Any]]:
    """Key each run by the names and types on its path from the root, and its rank among like siblings."""
    by_id = {run["id"]: run for run in runs}
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        parent = run.get("parent_run_id")
        children[parent if parent in by_id else None].append(run)
    keyed: dict[tuple[str, ...], dict[str, Any]] = {}

    def walk(parent_id: str | None, prefix: tuple[str, ...]) -> None:
        rank: dict[str, int] = defaultdict(int)
        for run in sorted(children[parent_id], key=lambda r: (r["start_time"], r["name"])):
            label = f"{run['type']}:{run['name']}"
            key = (*prefix, f"{label}#{rank[label]}")
            rank[label] += 1
            keyed[key] = run
            walk(run["id"], key)

    walk(None, ())
    return keyed


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def assert_children_inside_parents(runs: list[dict[str, Any]]) -> None:
    by_id = {run["id"]: run for run in runs}
    for run in runs:
        parent = by_id.get(run.get("parent_run_id"))
        if parent is None:
            continue
        assert parse_time(parent["start_time"]) <= parse_time(run["start_time"]), run["name"]
        assert parse_time(run["end_time"]) <= parse_time(parent["end_time"]), run["name"]


def comparable_executions(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {key: value for key, value in execution.items() if key not in EXECUTION_DIFFERENCES}
        for execution in run["executions"]
    ]


def without_per_run_values(metadata: dict[str, Any]) -> dict[str, Any]:
    trimmed = copy.deepcopy(metadata)
    for *parents, leaf in PER_RUN_VALUES:
        holder: Any = trimmed
        for parent in parents:
            holder = holder.get(parent) if isinstance(holder, dict) else None
        if isinstance(holder, dict):
            holder.pop(leaf, None)
    return trimmed


def comparable(run: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in run.items() if key not in DELIBERATE_DIFFERENCES}
    kept["executions"] = comparable_executions(run)
    kept["metadata"] = without_per_run_values(run["metadata"])
    if isinstance(kept.get("error"), dict) and "traceback" in kept["error"]:
        # Tracebacks carry line numbers of the frames that raised: same frames, compare the last line.
        kept["error"] = {**kept["error"], "traceback": kept["error"]["traceback"].strip().splitlines()[-1:]}
    return kept


@pytest.fixture(scope="module")
def llm() -> Iterator[ds.LocalLLM]:
    with ds.LocalLLM() as server:
        yield server


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_runs_match_the_native_handler(case: ds.Case, llm: ds.LocalLLM) -> None:
    # One workflow for both sides, so node ids match. Agents adjust their LLM on first use,
    # so an untraced warm-up run first puts both traced runs in the same state.
    workflow = case.build(llm.url)
    case.run(workflow, None)
    native = ds.native_runs(case, workflow)
    with ds.instrumented() as traced:
        case.run(workflow, None)
        ours = traced.flush(expected_runs=len(native))
        assert traced.instrumentor.open_runs == 0

    assert len(ours) == len(native)
    native_by_place, ours_by_place = keyed_by_place(native), keyed_by_place(ours)
    # Names, types and tree shape; siblings that start together may start in either order.
    assert sorted(ours_by_place) == sorted(native_by_place)
    for place, native_run in native_by_place.items():
        assert comparable(ours_by_place[place]) == comparable(native_run), place
    assert_children_inside_parents(ours)
