"""``instrument(speedups=False)`` and ``OTEL_INSTRUMENTATION_DYNAMIQ_SPEEDUPS=false``: pure tracing, Dynamiq as it is.

The speed-ups replace Dynamiq's own objects (the flow module's ``time`` and
``asyncio``, ``PoolExecutor.execute``, ``format_value`` wherever it is held),
so whether they are in place is checked by identity against what Dynamiq had
before instrumenting. Either way, a real flow gives the same result and the
local collector receives the same runs.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

import pytest
import wrapt
from dynamiq import Workflow
from dynamiq.executors.pool import PoolExecutor
from dynamiq.flows import Flow
from dynamiq.flows import flow as flow_module
from dynamiq.runnables import RunnableStatus
from dynamiq.utils import utils as dynamiq_utils
from opentelemetry.instrumentation.dynamiq import DynamiqInstrumentor
from opentelemetry.instrumentation.dynamiq._fast_format import MODULES_HOLDING_FORMAT_VALUE
from opentelemetry.instrumentation.dynamiq.environment_variables import OTEL_INSTRUMENTATION_DYNAMIQ_SPEEDUPS
from opentelemetry.sdk.trace import TracerProvider

from otel_dynamiq.collector import LocalCollector
from tests.apps import speedups_probe
from tests.support import dynamiq_apps as ds
from tests.support.processes import BIN, clean_env, run

VARYING = frozenset({"id", "parent_run_id", "trace_id", "source_id", "session_id", "start_time", "end_time"})
"""What differs between any two runs of one workflow: ids, and times."""


@dataclass(frozen=True)
class Stock:
    """Dynamiq's own objects, taken before instrumenting."""

    run_sync: Any
    execute: Any
    format_values: dict[str, Any]

    @classmethod
    def now(cls) -> Stock:
        assert flow_module.time is time and flow_module.asyncio is asyncio, "a test left Dynamiq instrumented"
        return cls(
            run_sync=Flow.__dict__["run_sync"],
            execute=PoolExecutor.__dict__["execute"],
            format_values={
                name: importlib.import_module(name).__dict__["format_value"] for name in MODULES_HOLDING_FORMAT_VALUE
            },
        )

    def speedups_in_place(self) -> dict[str, bool]:
        """Each speed-up by name: True where it replaced Dynamiq's own object."""
        return {
            "flow module's time": flow_module.time is not time,
            "flow module's asyncio": flow_module.asyncio is not asyncio,
            "PoolExecutor.execute": PoolExecutor.__dict__["execute"] is not self.execute,
            **{
                f"{name}.format_value": importlib.import_module(name).__dict__["format_value"] is not original
                for name, original in self.format_values.items()
            },
        }

    def assert_dynamiq_as_it_is_but_traced(self) -> None:
        assert not any(self.speedups_in_place().values()), self.speedups_in_place()
        traced = Flow.__dict__["run_sync"]
        assert traced is not self.run_sync and traced.__wrapped__ is self.run_sync  # tracing only, around its own
        assert self.run_sync.__globals__["time"] is time  # what Dynamiq's own loop sleeps with

    def assert_speedups_in_place(self) -> None:
        assert all(self.speedups_in_place().values()), self.speedups_in_place()

    def assert_restored(self) -> None:
        assert not any(self.speedups_in_place().values()), self.speedups_in_place()
        assert Flow.__dict__["run_sync"] is self.run_sync


@pytest.fixture
def stock() -> Stock:
    return Stock.now()


OFF = [
    pytest.param({"speedups": False}, None, id="keyword"),
    pytest.param({}, "false", id="environment"),
    pytest.param({"speedups": False}, "true", id="keyword wins over environment"),
]
ON = [
    pytest.param({}, None, id="default"),
    pytest.param({}, "true", id="environment"),
    pytest.param({"speedups": True}, "false", id="keyword wins over environment"),
]


def set_variable(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv(OTEL_INSTRUMENTATION_DYNAMIQ_SPEEDUPS, raising=False)
    else:
        monkeypatch.setenv(OTEL_INSTRUMENTATION_DYNAMIQ_SPEEDUPS, value)


def comparable(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Each trace's runs by name (unique within these flows), with their parent's name for ids, and without times."""
    names = {received["id"]: received["name"] for received in runs}
    traces: dict[str, dict[str, dict[str, Any]]] = {}
    for received in runs:
        trace = traces.setdefault(received["trace_id"], {})
        assert received["name"] not in trace
        trace[received["name"]] = {
            **{key: value for key, value in received.items() if key not in VARYING},
            "parent": names.get(received["parent_run_id"]),
            "executions": [
                {key: value for key, value in execution.items() if key not in ("id", "start_time", "end_time")}
                for execution in received["executions"]
            ],
        }
    return {"+".join(sorted(trace)): trace for trace in traces.values()}


Traced = tuple[list[Any], dict[str, dict[str, dict[str, Any]]]]


def trace_both(workflows: tuple[Workflow, Workflow], **instrument_kwargs: Any) -> Traced:
    """Two real flows, traced into a fresh local collector: their outputs, and the runs received."""
    sequential, every_kind = workflows
    with ds.instrumented(**instrument_kwargs) as traced:
        chain = sequential.run_sync(input_data={"who": "speedups"})
        values = ds.run_with_every_kind_of_value(every_kind, None)
        assert chain.status == values.status == RunnableStatus.SUCCESS
        runs = traced.flush(expected_runs=5 + 4)
        assert traced.instrumentor.open_runs == 0
    assert len(runs) == 5 + 4  # workflow, flow, three nodes; workflow, flow, two nodes
    outputs = [chain.output, sorted(values.output)]
    return outputs, comparable(runs)


@pytest.fixture(scope="module")
def workflows() -> tuple[Workflow, Workflow]:
    """One of each for the whole module, so node ids, and so runs, agree between the two ways of tracing."""
    return ds.sequential_flow(), ds.flow_of_every_kind_of_value()


@pytest.fixture(scope="module")
def with_speedups(workflows: tuple[Workflow, Workflow]) -> Traced:
    return trace_both(workflows, speedups=True)


@pytest.mark.parametrize(("keywords", "variable"), OFF)
def test_speedups_off_leave_dynamiq_as_it_is_and_trace_the_same_runs(
    stock: Stock,
    monkeypatch: pytest.MonkeyPatch,
    keywords: dict[str, Any],
    variable: str | None,
    workflows: tuple[Workflow, Workflow],
    with_speedups: Traced,
) -> None:
    set_variable(monkeypatch, variable)
    with ds.instrumentation(tracer_provider=TracerProvider(), **keywords):
        stock.assert_dynamiq_as_it_is_but_traced()
    stock.assert_restored()
    outputs, runs = trace_both(workflows, **keywords)
    assert outputs == with_speedups[0]
    assert runs == with_speedups[1]
    chain, values = runs["A+B+C+Flow+Workflow"], runs["Flow+Workflow+emits+takes"]
    assert chain["Workflow"]["parent"] is None and chain["Flow"]["parent"] == "Workflow"
    assert {chain[name]["parent"] for name in ("A", "B", "C")} == {"Flow"}
    assert values["Flow"]["parent"] == "Workflow" and values["takes"]["parent"] == "Flow"
    stock.assert_restored()


@pytest.mark.parametrize(("keywords", "variable"), ON)
def test_speedups_on_are_in_place_and_taken_back(
    stock: Stock, monkeypatch: pytest.MonkeyPatch, keywords: dict[str, Any], variable: str | None
) -> None:
    set_variable(monkeypatch, variable)
    with ds.instrumentation(tracer_provider=TracerProvider(), **keywords):
        stock.assert_speedups_in_place()
    stock.assert_restored()


@pytest.mark.parametrize("value", ["maybe", "0.5", "off-ish"])
def test_a_bad_value_fails_at_instrument_naming_the_variable_and_patches_nothing(
    stock: Stock, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(OTEL_INSTRUMENTATION_DYNAMIQ_SPEEDUPS, value)
    instrumentor = DynamiqInstrumentor()
    with pytest.raises(ValueError, match=f"{OTEL_INSTRUMENTATION_DYNAMIQ_SPEEDUPS}=.*is not a boolean"):
        instrumentor.instrument(tracer_provider=TracerProvider())
    stock.assert_restored()
    monkeypatch.delenv(OTEL_INSTRUMENTATION_DYNAMIQ_SPEEDUPS)
    with ds.instrumentation(tracer_provider=TracerProvider()):  # not left half instrumented: it works next time
        stock.assert_speedups_in_place()
    stock.assert_restored()


def test_a_keyword_that_is_not_a_boolean_is_refused(stock: Stock) -> None:
    with pytest.raises(TypeError, match=r"speedups=.*True or False"):
        DynamiqInstrumentor().instrument(tracer_provider=TracerProvider(), speedups="false")
    stock.assert_restored()


def test_uninstrument_after_speedups_off_leaves_other_patches_alone(stock: Stock) -> None:
    """What speedups=False never wrapped, uninstrument() must not unwrap: here, another library's wrapper."""

    def someone_elses(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return wrapped(*args, **kwargs)

    wrapt.wrap_function_wrapper(PoolExecutor, "execute", someone_elses)
    wrapt.wrap_function_wrapper(dynamiq_utils, "format_value", someone_elses)
    theirs = (PoolExecutor.__dict__["execute"], dynamiq_utils.__dict__["format_value"])
    try:
        with ds.instrumentation(tracer_provider=TracerProvider(), speedups=False):
            pass
        # By identity: a wrapt proxy compares equal to what it wraps.
        assert PoolExecutor.__dict__["execute"] is theirs[0]
        assert dynamiq_utils.__dict__["format_value"] is theirs[1]
        assert Flow.__dict__["run_sync"] is stock.run_sync
    finally:
        PoolExecutor.execute = stock.execute  # type: ignore[method-assign]
        dynamiq_utils.format_value = stock.format_values[dynamiq_utils.__name__]
    stock.assert_restored()


@pytest.mark.parametrize("speedups", [True, False])
def test_the_probe_app_sees_each_patch(stock: Stock, speedups: bool) -> None:
    """What the subprocess below prints can tell speed-ups on from off."""
    with ds.instrumentation(tracer_provider=TracerProvider(), speedups=speedups):
        seen = speedups_probe.patches()
    assert seen == {"tracing": True, "polling": speedups, "step_observed": speedups, "fast_format": speedups}
    assert speedups_probe.patches() == dict.fromkeys(seen, False)


def test_opentelemetry_instrument_reads_the_variable(collector: LocalCollector) -> None:
    environment = clean_env(
        OTEL_EXPORTER_DYNAMIQ_ENDPOINT=collector.url,
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        **{OTEL_INSTRUMENTATION_DYNAMIQ_SPEEDUPS: "false"},
    )
    done = run([str(BIN / "opentelemetry-instrument"), sys.executable, "-m", "tests.apps.speedups_probe"], environment)
    first_line, status = done.stdout.splitlines()[:2]
    assert json.loads(first_line) == {"tracing": True, "polling": False, "step_observed": False, "fast_format": False}
    assert status == "workflow success"
    runs = {received["name"]: received for received in collector.store.runs()}
    assert set(runs) == {"Workflow", "Flow", "A", "B"}
    assert runs["Flow"]["parent_run_id"] == runs["Workflow"]["id"]
    assert runs["A"]["parent_run_id"] == runs["B"]["parent_run_id"] == runs["Flow"]["id"]
    assert runs["B"]["output"]["value"] == "B done"


@pytest.fixture(autouse=True)
def _no_variable_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(OTEL_INSTRUMENTATION_DYNAMIQ_SPEEDUPS, raising=False)
