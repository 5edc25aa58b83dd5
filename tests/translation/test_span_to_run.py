"""Translation rules, one table row or test per rule, on spans made by the real SDK."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags

from otel_dynamiq import attributes as attr
from otel_dynamiq._translation.span_to_run import RunDefaults, iso_time, run_uuid, span_to_run, trace_uuid
from otel_dynamiq.collector import validate_run
from tests.support.common import SpanRecorder

DEFAULTS = RunDefaults(source_id="source-1", session_id="session-1")


def translate(recorder: SpanRecorder, name: str) -> dict[str, Any]:
    run = span_to_run(recorder.one(name), DEFAULTS)
    assert validate_run(run) == [], validate_run(run)
    return run


def test_ids_are_derived_from_the_span_identity(recorder: SpanRecorder) -> None:
    with recorder.tracer.start_as_current_span("parent"), recorder.tracer.start_as_current_span("child"):
        pass
    parent, child = recorder.one("parent"), recorder.one("child")
    parent_run, child_run = span_to_run(parent, DEFAULTS), span_to_run(child, DEFAULTS)

    assert child_run["trace_id"] == parent_run["trace_id"] == str(uuid.UUID(int=parent.context.trace_id))
    assert parent_run["id"] == run_uuid(parent.context.trace_id, parent.context.span_id)
    assert child_run["parent_run_id"] == parent_run["id"]
    assert parent_run["parent_run_id"] is None
    # Deterministic: translating again (in another batch, another process) gives the same ids.
    assert span_to_run(child, DEFAULTS)["parent_run_id"] == span_to_run(parent, DEFAULTS)["id"]
    assert parent_run["id"] != child_run["id"]


def test_child_exported_before_its_parent_links_to_it(recorder: SpanRecorder) -> None:
    with recorder.tracer.start_as_current_span("parent"):
        with recorder.tracer.start_as_current_span("child"):
            pass
        child_run = span_to_run(recorder.one("child"), DEFAULTS)  # the parent has not ended yet
    assert child_run["parent_run_id"] == span_to_run(recorder.one("parent"), DEFAULTS)["id"]


def test_remote_parent_starts_a_new_tree_and_keeps_its_span_id(recorder: SpanRecorder) -> None:
    remote = SpanContext(trace_id=0xABC, span_id=0xDEF, is_remote=True, trace_flags=TraceFlags(1))
    with recorder.tracer.start_as_current_span("served", context=trace.set_span_in_context(NonRecordingSpan(remote))):
        pass
    run = translate(recorder, "served")
    assert run["parent_run_id"] is None
    assert run["trace_id"] == trace_uuid(0xABC)
    assert run["metadata"]["otel"]["remote_parent_span_id"] == f"{0xDEF:016x}"


def test_times_are_iso_with_utc_offset(recorder: SpanRecorder) -> None:
    with recorder.tracer.start_as_current_span("timed"):
        pass
    span = recorder.one("timed")
    run = translate(recorder, "timed")
    assert run["start_time"] == iso_time(span.start_time)
    assert run["start_time"].endswith("+00:00")
    assert run["start_time"] <= run["end_time"]
    assert iso_time(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456+00:00"


def dynamiq_attributes(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        attr.RUN_TYPE: "node",
        attr.RUN_ID: "5f1c9c1e-0000-4000-8000-000000000001",
        attr.RUN_NAME: "OpenAI LLM",
        attr.RUN_STATUS: "succeeded",
        attr.RUN_INPUT: json.dumps({"question": "2+2?"}),
        attr.RUN_OUTPUT: json.dumps({"content": "4"}),
        attr.RUN_METADATA: json.dumps({"node": {"group": "llms", "model": "gpt-4o"}, "usage": {"total_tokens": 9}}),
        attr.RUN_EXECUTIONS: json.dumps(
            [
                {
                    "id": "5f1c9c1e-0000-4000-8000-0000000000e1",
                    "start_time": "2026-01-01T00:00:00+00:00",
                    "end_time": "2026-01-01T00:00:01+00:00",
                    "status": "succeeded",
                    "input": None,
                    "output": None,
                    "error": None,
                    "metadata": {},
                }
            ]
        ),
        attr.RUN_TAGS: ("prod", "rag"),
        attr.SESSION_ID: "dynamiq-session",
    }
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, {"type": "node", "name": "OpenAI LLM", "status": "succeeded", "session_id": "dynamiq-session"}),
        ({attr.RUN_TYPE: "workflow", attr.RUN_NAME: "Workflow"}, {"type": "workflow", "name": "Workflow"}),
        ({attr.RUN_TYPE: "flow", attr.RUN_NAME: "Flow"}, {"type": "flow", "name": "Flow"}),
        ({attr.RUN_STATUS: "skipped"}, {"status": "skipped", "error": None}),
        (
            {
                attr.RUN_STATUS: "canceled",
                attr.RUN_ERROR: json.dumps({"message": "Node 'OpenAI LLM' was canceled during execution"}),
            },
            {"status": "canceled", "error": {"message": "Node 'OpenAI LLM' was canceled during execution"}},
        ),
        (
            {attr.RUN_STATUS: "failed", attr.RUN_ERROR: json.dumps({"message": "boom", "traceback": "Traceback..."})},
            {"status": "failed", "error": {"message": "boom", "traceback": "Traceback..."}},
        ),
        ({attr.RUN_NAME: None}, {"name": "span-name"}),
        ({attr.RUN_TYPE: "banana"}, {"type": "node"}),
        ({attr.SESSION_ID: None}, {"session_id": "session-1"}),
        ({attr.RUN_TAGS: "single"}, {"tags": ["single"]}),
    ],
)
def test_dynamiq_attributes_become_exactly_that_run(
    recorder: SpanRecorder, overrides: dict[str, Any], expected: dict[str, Any]
) -> None:
    with recorder.tracer.start_as_current_span("span-name", attributes=dynamiq_attributes(**overrides)):
        pass
    run = translate(recorder, "span-name")
    for key, value in expected.items():
        assert run[key] == value, key
    assert run["input"] == {"question": "2+2?"}
    assert run["output"] == {"content": "4"}
    assert run["metadata"] == {"node": {"group": "llms", "model": "gpt-4o"}, "usage": {"total_tokens": 9}}
    assert len(run["executions"]) == 1 and run["executions"][0]["status"] == "succeeded"
    assert run["source_id"] == "source-1"


def test_dynamiq_run_with_invalid_json_keeps_the_run_and_the_text(recorder: SpanRecorder) -> None:
    overrides = {
        attr.RUN_INPUT: "{not json",
        attr.RUN_METADATA: "[1, 2",
        attr.RUN_EXECUTIONS: '{"not": "a list"}',
        attr.RUN_ERROR: "plain text error",
        attr.RUN_STATUS: "failed",
    }
    with recorder.tracer.start_as_current_span("bad", attributes=dynamiq_attributes(**overrides)):
        pass
    run = translate(recorder, "bad")
    assert run["input"] == "{not json"
    assert run["output"] == {"content": "4"}
    assert run["metadata"]["invalid_attributes"] == {
        attr.RUN_METADATA: "[1, 2",
        attr.RUN_EXECUTIONS: '{"not": "a list"}',
    }
    assert run["executions"] == []
    assert run["error"] == {"message": "plain text error"}


def test_failed_dynamiq_run_without_error_attribute_uses_the_exception(recorder: SpanRecorder) -> None:
    with pytest.raises(RuntimeError), recorder.tracer.start_as_current_span("failing") as span:
        span.set_attributes(dynamiq_attributes(**{attr.RUN_STATUS: "failed"}))
        raise RuntimeError("tool exploded")
    run = translate(recorder, "failing")
    assert run["error"]["message"] == "tool exploded"
    assert "Traceback" in run["error"]["traceback"]


def test_generic_span_is_a_node_run_with_everything_else_under_otel(recorder: SpanRecorder) -> None:
    link_context = SpanContext(trace_id=0x1, span_id=0x2, is_remote=True)
    with recorder.tracer.start_as_current_span(
        "GET /search",
        kind=trace.SpanKind.CLIENT,
        attributes={"http.request.method": "GET", "http.response.status_code": 200, "tags": ("a", "b")},
        links=[trace.Link(link_context, {"why": "batch"})],
    ) as span:
        span.add_event("retrying", {"attempt": 2})
    run = translate(recorder, "GET /search")
    assert (run["type"], run["name"], run["status"], run["error"]) == ("node", "GET /search", "succeeded", None)
    assert (run["input"], run["output"], run["session_id"]) == (None, None, "session-1")
    otel = run["metadata"]["otel"]
    assert otel["kind"] == "CLIENT"
    assert otel["attributes"] == {"http.request.method": "GET", "http.response.status_code": 200, "tags": ["a", "b"]}
    assert otel["events"][0]["name"] == "retrying" and otel["events"][0]["attributes"] == {"attempt": 2}
    assert otel["links"] == [
        {"trace_id": f"{1:032x}", "span_id": f"{2:016x}", "attributes": {"why": "batch"}},
    ]
    assert otel["scope"] == {"name": "tests.scope", "version": "1.2.3"}
    assert otel["resource"]["service.name"] == "tests"
    assert "telemetry.sdk.name" not in otel["resource"]
    assert "node" not in run["metadata"] and "usage" not in run["metadata"]


def test_error_status_means_failed_with_the_exception_event(recorder: SpanRecorder) -> None:
    with pytest.raises(KeyError), recorder.tracer.start_as_current_span("lookup"):
        raise KeyError("missing")
    run = translate(recorder, "lookup")
    assert run["status"] == "failed"
    assert run["error"]["type"] == "KeyError"
    assert run["error"]["message"] == "'missing'"
    assert 'raise KeyError("missing")' in run["error"]["traceback"]


def test_error_status_without_exception_uses_the_description(recorder: SpanRecorder) -> None:
    with recorder.tracer.start_as_current_span("quiet failure") as span:
        span.set_status(Status(StatusCode.ERROR, "upstream said no"))
    run = translate(recorder, "quiet failure")
    assert run["status"] == "failed"
    assert run["error"]["message"] == "upstream said no"


@pytest.mark.parametrize(
    ("attributes", "expected_input", "expected_output"),
    [
        ({"input.value": "plain question", "output.value": "plain answer"}, "plain question", "plain answer"),
        (
            {
                "input.value": '{"q": 1}',
                "input.mime_type": "application/json",
                "output.value": '{"a": 2}',
                "output.mime_type": "application/json",
            },
            {"q": 1},
            {"a": 2},
        ),
        ({"input.value": "{broken", "input.mime_type": "application/json"}, "{broken", None),
        (
            {
                "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]),
                "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": []}]),
            },
            {"messages": [{"role": "user", "content": "hi"}]},
            {"content": None},
        ),
    ],
)
def test_inputs_and_outputs_from_openinference_and_genai(
    recorder: SpanRecorder, attributes: dict[str, Any], expected_input: Any, expected_output: Any
) -> None:
    with recorder.tracer.start_as_current_span("io", attributes=attributes):
        pass
    run = translate(recorder, "io")
    assert run["input"] == expected_input
    assert run["output"] == expected_output
    for consumed in attributes:
        assert consumed not in run["metadata"]["otel"]["attributes"]


@pytest.mark.parametrize(
    ("attributes", "node", "usage"),
    [
        (
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.provider.name": "openai",
                "gen_ai.usage.input_tokens": 12,
                "gen_ai.usage.output_tokens": 30,
            },
            {"group": "llms", "model": "gpt-4o-mini", "provider": "openai"},
            {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42},
        ),
        (
            {"gen_ai.system": "anthropic", "gen_ai.response.model": "claude", "gen_ai.usage.prompt_tokens": 5},
            {"group": "llms", "model": "claude", "provider": "anthropic"},
            {"prompt_tokens": 5, "completion_tokens": 0, "total_tokens": 5},
        ),
        (
            {
                "openinference.span.kind": "LLM",
                "llm.model_name": "mistral",
                "llm.provider": "mistralai",
                "llm.token_count.prompt": 3,
                "llm.token_count.completion": 4,
                "llm.token_count.total": 8,
            },
            {"group": "llms", "model": "mistral", "provider": "mistralai"},
            {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 8},
        ),
        ({"gen_ai.operation.name": "embeddings"}, {"group": "embedders", "model": None, "provider": None}, None),
    ],
)
def test_genai_spans_carry_node_and_usage(
    recorder: SpanRecorder, attributes: dict[str, Any], node: dict[str, Any], usage: dict[str, int] | None
) -> None:
    with recorder.tracer.start_as_current_span("llm call", attributes=attributes):
        pass
    run = translate(recorder, "llm call")
    assert run["metadata"]["node"] == {"name": "llm call", **node}
    assert run["metadata"].get("usage") == usage


def test_non_integer_token_counts_are_left_in_otel_attributes(recorder: SpanRecorder) -> None:
    with recorder.tracer.start_as_current_span("llm", attributes={"gen_ai.usage.input_tokens": "many"}):
        pass
    run = translate(recorder, "llm")
    assert "usage" not in run["metadata"]
    assert run["metadata"]["otel"]["attributes"]["gen_ai.usage.input_tokens"] == "many"


@pytest.mark.parametrize(
    ("attributes", "session"),
    [
        ({attr.SESSION_ID: "dq", "session.id": "oi", "gen_ai.conversation.id": "ga"}, "dq"),
        ({"session.id": "oi", "gen_ai.conversation.id": "ga"}, "oi"),
        ({"gen_ai.conversation.id": "ga"}, "ga"),
        ({}, "session-1"),
    ],
)
def test_session_id_precedence(recorder: SpanRecorder, attributes: dict[str, Any], session: str) -> None:
    with recorder.tracer.start_as_current_span("s", attributes=attributes):
        pass
    assert translate(recorder, "s")["session_id"] == session


@given(trace_id=st.integers(min_value=1, max_value=2**128 - 1), span_id=st.integers(min_value=1, max_value=2**64 - 1))
def test_run_ids_are_the_documented_uuid5(trace_id: int, span_id: int) -> None:
    """Run ids must never change between releases: they are uuid5 of the hex ids in a fixed namespace."""
    namespace = uuid.UUID("5b0f8a8e-2f53-4c57-9d8e-6f2c5d1e7a10")
    assert run_uuid(trace_id, span_id) == str(uuid.uuid5(namespace, f"{trace_id:032x}{span_id:016x}"))
    assert trace_uuid(trace_id) == str(uuid.UUID(int=trace_id))


@given(st.integers(min_value=0, max_value=4_102_444_800 * 10**9))
def test_times_match_datetime_isoformat(epoch_nanos: int) -> None:
    from datetime import datetime, timedelta, timezone

    expected = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=epoch_nanos // 1000)
    assert datetime.fromisoformat(iso_time(epoch_nanos) or "") == expected


def test_openinference_llm_system_is_the_provider(recorder: SpanRecorder) -> None:
    attributes = {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "llm.system": "openai"}
    with recorder.tracer.start_as_current_span("ChatCompletion", attributes=attributes):
        pass
    run = translate(recorder, "ChatCompletion")
    assert run["metadata"]["node"]["provider"] == "openai"
    assert "llm.system" not in run["metadata"]["otel"]["attributes"]


def test_flattened_openinference_messages_are_not_carried_twice(recorder: SpanRecorder) -> None:
    attributes = {
        "openinference.span.kind": "LLM",
        "input.value": '{"messages": [{"role": "user", "content": "hi"}]}',
        "input.mime_type": "application/json",
        "output.value": "hello",
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": "hi",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": "hello",
        "llm.invocation_parameters": "{}",
    }
    with recorder.tracer.start_as_current_span("ChatCompletion", attributes=attributes):
        pass
    run = translate(recorder, "ChatCompletion")
    assert run["input"] == {"messages": [{"role": "user", "content": "hi"}]}
    assert run["output"] == {"content": "hello"}
    kept = run["metadata"]["otel"]["attributes"]
    assert not [key for key in kept if key.startswith(("llm.input_messages.", "llm.output_messages."))]
    assert kept["llm.invocation_parameters"] == "{}"


def test_flattened_messages_become_the_input_when_they_are_the_only_copy(recorder: SpanRecorder) -> None:
    attributes = {
        "openinference.span.kind": "LLM",
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": "hi",
    }
    with recorder.tracer.start_as_current_span("ChatCompletion", attributes=attributes):
        pass
    run = translate(recorder, "ChatCompletion")
    assert run["input"] == {"messages": [{"role": "user", "content": "hi"}]}
    assert "llm.input_messages.0.message.content" not in run["metadata"]["otel"]["attributes"]


def test_a_failed_span_without_an_exception_event_takes_its_error_type(recorder: SpanRecorder) -> None:
    from opentelemetry.trace import Status, StatusCode

    with recorder.tracer.start_as_current_span("POST", attributes={"error.type": "500"}) as span:
        span.set_status(Status(StatusCode.ERROR))
    run = translate(recorder, "POST")
    assert run["status"] == "failed"
    assert run["error"] == {"message": "500", "type": "500", "traceback": None}
    assert "error.type" not in run["metadata"]["otel"]["attributes"]


def test_an_exception_event_without_a_type_takes_the_spans_error_type(recorder: SpanRecorder) -> None:
    from opentelemetry.trace import Status, StatusCode

    with recorder.tracer.start_as_current_span("chat", attributes={"error.type": "APIError"}) as span:
        span.add_event("exception", {"exception.message": "the model is down"})
        span.set_status(Status(StatusCode.ERROR))
    run = translate(recorder, "chat")
    assert run["error"]["message"] == "the model is down" and run["error"]["type"] == "APIError"
