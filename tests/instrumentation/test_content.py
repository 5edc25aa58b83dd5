"""What content reaches Dynamiq: everything by default, no payloads when switched off, never a secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.instrumentation.dynamiq._settings import load_settings

from tests.support import dynamiq_apps as ds


@pytest.fixture(scope="module")
def llm() -> Iterator[ds.LocalLLM]:
    with ds.LocalLLM() as server:
        yield server


def run_agent(llm: ds.LocalLLM, **instrument_kwargs: Any) -> dict[str, dict[str, Any]]:
    with ds.instrumented(**instrument_kwargs) as traced:
        ds.agent_with_tool(llm.url).run_sync(input_data={"input": "What is 2 + 2?"})
        runs = traced.flush(expected_runs=6)
    return {f"{run['name']}#{index}": run for index, run in enumerate(sorted(runs, key=lambda r: r["start_time"]))}


def test_content_is_captured_by_default(llm: ds.LocalLLM) -> None:
    runs = run_agent(llm)
    agent = next(run for key, run in runs.items() if key.startswith("Helper"))
    assert agent["input"]["input"] == "What is 2 + 2?"
    assert agent["output"]["content"] == "4"
    llm_run = next(run for key, run in runs.items() if key.startswith("LLM"))
    assert llm_run["metadata"]["node"]["prompt"]["messages"]
    assert llm_run["metadata"]["usage"]["total_tokens"] > 0


def test_content_capture_off_keeps_structure_and_usage(llm: ds.LocalLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_DYNAMIQ_CAPTURE_CONTENT", "false")
    runs = run_agent(llm)
    assert len(runs) == 6
    for run in runs.values():
        assert run["input"] is None and run["output"] is None, run["name"]
        assert "prompt" not in run["metadata"].get("node", {}), run["name"]
        assert "tool_data" not in run["metadata"]
        assert run["status"] == "succeeded"
    llm_run = next(run for key, run in runs.items() if key.startswith("LLM"))
    assert llm_run["metadata"]["usage"]["total_tokens"] > 0
    assert llm_run["metadata"]["node"]["model"] == "openai/gpt-4o-mini"
    assert all(len(run["executions"]) == 1 for run in runs.values() if run["type"] == "node")
    assert "What is 2 + 2?" not in json.dumps(list(runs.values()))


def test_captured_values_are_capped_with_a_visible_marker(llm: ds.LocalLLM) -> None:
    runs = run_agent(llm, max_content_length=40)
    agent = next(run for key, run in runs.items() if key.startswith("Helper"))
    assert isinstance(agent["input"], str)
    assert agent["input"].startswith('{"input":"What is 2 + 2?"')
    assert "truncated by otel-dynamiq" in agent["input"]


def test_connection_credentials_never_reach_a_run(llm: ds.LocalLLM) -> None:
    runs = run_agent(llm)
    assert f"Bearer {ds.FAKE_LLM_KEY}" in llm.authorizations  # the key was really used for the calls
    assert ds.FAKE_LLM_KEY not in json.dumps(list(runs.values()))
    assert any(run["name"] == "LLM" for run in runs.values())


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("OTEL_INSTRUMENTATION_DYNAMIQ_CAPTURE_CONTENT", "maybe", "is not a boolean"),
        ("OTEL_INSTRUMENTATION_DYNAMIQ_MAX_CONTENT_LENGTH", "big", "is not a whole number"),
        ("OTEL_INSTRUMENTATION_DYNAMIQ_MAX_CONTENT_LENGTH", "0", "must be at least 1"),
    ],
)
def test_bad_settings_fail_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=message) as raised:
        load_settings()
    assert variable in str(raised.value)
