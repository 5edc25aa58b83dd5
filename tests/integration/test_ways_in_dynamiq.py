"""The three ways in, with a real Dynamiq application: each a real subprocess, read back from the collector."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from otel_dynamiq.collector import LocalCollector
from tests.support import dynamiq_apps as ds
from tests.support.common import FAKE_KEY
from tests.support.processes import BIN, clean_env, run

APP_RUNS = 7  # Workflow, Flow, Math agent, 2 x Agent LLM, calculator, Polisher


@pytest.fixture(scope="module")
def llm() -> Iterator[ds.LocalLLM]:
    with ds.LocalLLM() as server:
        yield server


def app_env(collector: LocalCollector, llm: ds.LocalLLM, **extra: str) -> dict[str, str]:
    return clean_env(
        DYNAMIQ_ACCESS_KEY=FAKE_KEY,
        OTEL_EXPORTER_DYNAMIQ_ENDPOINT=collector.url,
        OPENAI_URL=llm.url,
        OPENAI_API_KEY=ds.FAKE_LLM_KEY,
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        **extra,
    )


def dynamiq_runs(collector: LocalCollector) -> dict[str, list[dict[str, Any]]]:
    by_name: dict[str, list[dict[str, Any]]] = {}
    for received in collector.store.runs():
        by_name.setdefault(received["name"], []).append(received)
    return by_name


def assert_app_trace(collector: LocalCollector, stdout: str) -> None:
    assert "workflow success: Happy to help: the answer is 4." in stdout
    runs = dynamiq_runs(collector)
    (workflow,) = runs["Workflow"]
    (flow,) = runs["Flow"]
    (agent,) = runs["Math agent"]
    (polisher,) = runs["Polisher"]
    (tool,) = runs["calculator"]
    assert workflow["type"] == "workflow" and workflow["parent_run_id"] is None
    assert flow["type"] == "flow" and flow["parent_run_id"] == workflow["id"]
    assert agent["parent_run_id"] == polisher["parent_run_id"] == flow["id"]
    assert tool["parent_run_id"] == agent["id"]
    assert len(runs["Agent LLM"]) == 2
    for llm_run in runs["Agent LLM"]:
        assert llm_run["parent_run_id"] == agent["id"]
        assert llm_run["metadata"]["usage"]["total_tokens"] > 0
    assert polisher["output"]["content"] == "Happy to help: the answer is 4."
    # Dynamiq's runs carry no metadata.otel; the rest come from other instrumentations (httpx, and the
    # OpenAI ones of the test extra, which opentelemetry-instrument loads too) and nest under them.
    received = collector.store.runs()
    assert sum("otel" not in received_run["metadata"] for received_run in received) == APP_RUNS
    by_id = {received_run["id"]: received_run for received_run in received}
    for other in (received_run for received_run in received if "otel" in received_run["metadata"]):
        parent = by_id[other["parent_run_id"]]
        while "otel" in parent["metadata"]:
            parent = by_id[parent["parent_run_id"]]
        assert parent["name"] in ("Agent LLM", "Polisher"), other["name"]
    # Where OpenAI instrumentations trace each call again under its LLM node, the usage still counts once.
    truth = sum(llm_run["metadata"]["usage"]["total_tokens"] for llm_run in [*runs["Agent LLM"], polisher])
    assert sum(received_run["metadata"].get("usage", {}).get("total_tokens", 0) for received_run in received) == truth


def test_opentelemetry_instrument_traces_the_app(keyed_collector: LocalCollector, llm: ds.LocalLLM) -> None:
    done = run(
        [str(BIN / "opentelemetry-instrument"), sys.executable, "examples/dynamiq_app.py"],
        app_env(keyed_collector, llm),
    )
    assert_app_trace(keyed_collector, done.stdout)
    # The OpenAI instrumentations of the test extra traced the calls again: their usage is shown, not counted.
    assert [seen for seen in keyed_collector.store.runs() if "usage" in seen["metadata"].get("otel", {})]


def test_auto_discovery_in_code(keyed_collector: LocalCollector, llm: ds.LocalLLM) -> None:
    done = run([sys.executable, "examples/auto_discovery.py"], app_env(keyed_collector, llm))
    assert_app_trace(keyed_collector, done.stdout)


def test_manual_setup_with_the_instrumentor(keyed_collector: LocalCollector, llm: ds.LocalLLM) -> None:
    done = run([sys.executable, "examples/manual_dynamiq.py"], app_env(keyed_collector, llm))
    assert_app_trace(keyed_collector, done.stdout)


def test_disabled_instrumentation_is_respected(keyed_collector: LocalCollector, llm: ds.LocalLLM) -> None:
    environment = app_env(keyed_collector, llm, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="dynamiq")
    done = run([str(BIN / "opentelemetry-instrument"), sys.executable, "examples/dynamiq_app.py"], environment)
    assert "workflow success" in done.stdout
    runs = dynamiq_runs(keyed_collector)
    assert "Workflow" not in runs and "Math agent" not in runs


def test_forked_workers_after_instrumenting_deliver_every_run_once(collector: LocalCollector) -> None:
    """gunicorn --preload: everything set up in the parent, four forked workers tracing on their own."""
    done = run(
        [sys.executable, "-m", "tests.apps.preload_workers", collector.url],
        clean_env(LITELLM_LOCAL_MODEL_COST_MAP="True"),
    )
    workers = done.stdout.split()
    assert len(workers) == 4
    runs = collector.store.runs()
    workflows = [received for received in runs if received["type"] == "workflow"]
    expected = {"parent-before-fork", "parent-after-fork", *(f"worker-{pid}" for pid in workers)}
    assert {workflow["input"]["who"] for workflow in workflows} == expected
    assert len(runs) == 5 * len(expected)  # workflow, flow and three nodes for each run, none lost
    assert set(collector.store.delivery_counts().values()) == {1}  # and none sent twice


def test_threads_running_successive_event_loops_all_deliver() -> None:
    """Threads each running asyncio.run() after asyncio.run(), beside threads running sync workflows."""
    import asyncio
    import threading

    with ds.instrumented() as traced:

        def async_worker(index: int) -> None:
            for round_ in range(5):
                asyncio.run(ds.sequential_flow().run_async(input_data={"who": f"async-{index}-{round_}"}))

        def sync_worker(index: int) -> None:
            for round_ in range(5):
                ds.sequential_flow().run_sync(input_data={"who": f"sync-{index}-{round_}"})

        threads = [threading.Thread(target=async_worker, args=(index,)) for index in range(3)]
        threads += [threading.Thread(target=sync_worker, args=(index,)) for index in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        runs = traced.flush(expected_runs=5 * 25)
        assert traced.instrumentor.open_runs == 0
        deliveries = set(traced.collector.store.delivery_counts().values())
    workflows = {received["input"]["who"] for received in runs if received["type"] == "workflow"}
    expected = {f"async-{i}-{r}" for i in range(3) for r in range(5)} | {
        f"sync-{i}-{r}" for i in range(2) for r in range(5)
    }
    assert workflows == expected
    assert len(runs) == 5 * 25
    assert deliveries == {1}
