"""Agents, their aggregate usage, the usage details and media parts, in the forms the agent-era producers send.

Real producers run in ``test_llm_instrumentations.py`` (pydantic-ai) and
``tests/gateway/test_ai_sdk_7.py`` (the Vercel AI SDK 7); these pin each rule
on spans built by hand, including the forms those runs do not reach (a remote
agent's CLIENT span, LiteLLM's usage object, an image over the inline limit).
"""

from __future__ import annotations

import base64
import gc
import json
import weakref
from typing import Any

import pytest
from opentelemetry.trace import SpanKind

from otel_dynamiq import NestedCallMarker
from otel_dynamiq._translation.redaction import Redactor
from otel_dynamiq._translation.span_to_run import RunDefaults, span_to_run
from otel_dynamiq.processors import SpanNotes
from tests.support.common import SpanRecorder

DEFAULTS = RunDefaults(source_id="source", session_id="session")
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PNG_TEXT = base64.b64encode(PNG).decode()
DATA_URL = f"data:image/png;base64,{PNG_TEXT}"
USAGE = {"gen_ai.usage.input_tokens": 23, "gen_ai.usage.output_tokens": 9}


def run_of(
    recorder: SpanRecorder,
    attributes: dict[str, Any],
    kind: SpanKind = SpanKind.INTERNAL,
    defaults: RunDefaults = DEFAULTS,
) -> dict[str, Any]:
    with recorder.tracer.start_as_current_span("span", attributes=attributes, kind=kind):
        pass
    return span_to_run(recorder.spans()[-1], defaults)


@pytest.mark.parametrize(
    "attributes",
    [
        {"gen_ai.operation.name": "invoke_agent", **USAGE},
        {"gen_ai.operation.name": "agent_step", **USAGE},
        {"openinference.span.kind": "AGENT", "llm.token_count.prompt": 23, "llm.token_count.completion": 9},
        {"openinference.span.kind": "CHAIN", "llm.token_count.prompt": 23, "llm.token_count.completion": 9},
        {"gen_ai.operation.name": "execute_tool", **USAGE},
        {"gen_ai.agent.name": "helper", **USAGE},  # an agent with no operation name
        {"traceloop.span.kind": "workflow", **USAGE},  # OpenLLMetry's @workflow
    ],
    ids=["invoke_agent", "agent_step", "openinference-agent", "openinference-chain", "tool", "named-agent", "workflow"],
)
def test_an_aggregate_above_model_calls_is_shown_not_counted(
    recorder: SpanRecorder, attributes: dict[str, Any]
) -> None:
    run = run_of(recorder, attributes)
    assert "usage" not in run["metadata"]
    assert run["metadata"]["otel"]["usage"] == {"prompt_tokens": 23, "completion_tokens": 9, "total_tokens": 32}
    assert run["metadata"]["otel"]["usage_aggregate"] is True


def test_a_remote_agent_s_client_span_counts_its_usage_once(recorder: SpanRecorder) -> None:
    """Its model calls ran in another service: nothing under it in this trace counts them."""
    run = run_of(recorder, {"gen_ai.operation.name": "invoke_agent", **USAGE}, kind=SpanKind.CLIENT)
    assert run["metadata"]["usage"] == {"prompt_tokens": 23, "completion_tokens": 9, "total_tokens": 32}
    assert "usage_aggregate" not in run["metadata"]["otel"]


def test_model_calls_count_whatever_their_kind(recorder: SpanRecorder) -> None:
    for kind in (SpanKind.CLIENT, SpanKind.INTERNAL):
        run = run_of(recorder, {"gen_ai.operation.name": "chat", **USAGE}, kind=kind)
        assert run["metadata"]["usage"]["total_tokens"] == 32


def test_reasoning_and_cache_details_land_under_one_name_each(recorder: SpanRecorder) -> None:
    run = run_of(
        recorder,
        {
            "gen_ai.operation.name": "chat",
            **USAGE,
            "gen_ai.usage.cache_read.input_tokens": 5,
            "gen_ai.usage.cache_write.input_tokens": 4,
            "gen_ai.usage.reasoning.output_tokens": 3,
        },
    )
    assert run["metadata"]["usage"] == {
        "prompt_tokens": 23,
        "completion_tokens": 9,
        "total_tokens": 32,
        "cache_read_input_tokens": 5,
        "cache_creation_input_tokens": 4,
        "reasoning_output_tokens": 3,
    }
    assert not [key for key in run["metadata"]["otel"]["attributes"] if key.startswith("gen_ai.usage")]


def test_litellm_s_usage_object_gives_its_cache_and_reasoning_counts(recorder: SpanRecorder) -> None:
    """LiteLLM's otel callback writes the usage object with str(dict): read as a literal, never evaluated."""
    usage_object = {
        "completion_tokens": 9,
        "prompt_tokens": 23,
        "total_tokens": 32,
        "completion_tokens_details": {"reasoning_tokens": 3},
        "prompt_tokens_details": {"cached_tokens": 5},
        "cache_creation_input_tokens": 4,
    }
    run = run_of(
        recorder,
        {"gen_ai.operation.name": "chat", **USAGE, "metadata.usage_object": str(usage_object)},
    )
    usage = run["metadata"]["usage"]
    assert (usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]) == (5, 4)
    assert usage["reasoning_output_tokens"] == 3
    not_a_literal = run_of(
        recorder, {"gen_ai.operation.name": "chat", **USAGE, "metadata.usage_object": "__import__('os')"}
    )
    assert set(not_a_literal["metadata"]["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


def test_a_genai_agent_run_carries_what_it_was_asked_and_answered(recorder: SpanRecorder) -> None:
    """AI SDK 7's invoke_agent span: input and output messages, system instructions, a tool's answer as text."""
    output = [
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": "c1", "name": "add", "arguments": {"a": 2, "b": 2}},
                {"type": "tool_call_response", "id": "c1", "response": 4},
                {"type": "text", "content": "The tool says 4."},
            ],
            "finish_reason": "stop",
        }
    ]
    run = run_of(
        recorder,
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "adder",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Add with the tool."}]),
            "gen_ai.input.messages": json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": "add 2 and 2"}]}]
            ),
            "gen_ai.output.messages": json.dumps(output),
        },
    )
    assert run["metadata"]["node"]["group"] == "agents" and run["metadata"]["node"]["name"] == "adder"
    assert run["input"] == {
        "input": "add 2 and 2",
        "messages": [{"role": "system", "content": "Add with the tool."}, {"role": "user", "content": "add 2 and 2"}],
    }
    assert run["output"]["content"] == "The tool says 4."
    assert {"role": "tool", "content": "4", "tool_call_id": "c1"} in run["output"]["messages"]
    assert run["metadata"]["node"]["model"] == "gpt-4o-mini"
    assert list(run["metadata"]["otel"]["attributes"]) == ["gen_ai.operation.name"]  # the rest is in the run


def test_pydantic_ai_s_agent_run_is_split_into_asked_and_answered(recorder: SpanRecorder) -> None:
    conversation = [
        {"role": "user", "parts": [{"type": "text", "content": "Give me a=2 and b=2."}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "final_result", "arguments": "{}"}]},
        {"role": "user", "parts": [{"type": "tool_call_response", "id": "c1", "result": "Final result processed."}]},
    ]
    run = run_of(
        recorder,
        {
            "gen_ai.operation.name": "invoke_agent",
            "pydantic_ai.all_messages": json.dumps(conversation),
            "final_result": '{"a": 2, "b": 2}',
        },
    )
    assert run["input"] == {
        "input": "Give me a=2 and b=2.",
        "messages": [{"role": "user", "content": "Give me a=2 and b=2."}],
    }
    assert run["output"]["content"] == {"a": 2, "b": 2}
    assert run["output"]["messages"][-1] == {"role": "tool", "content": "Final result processed.", "tool_call_id": "c1"}
    text = run_of(recorder, {"gen_ai.operation.name": "invoke_agent", "final_result": "4"})
    assert text["output"] == {"content": "4"}  # a text answer stays text


def _user_content(run: dict[str, Any]) -> list[Any]:
    (message,) = [message for message in run["input"]["messages"] if message["role"] == "user"]
    return message["content"]


def test_an_openinference_image_is_a_typed_part_not_dropped(recorder: SpanRecorder) -> None:
    run = run_of(
        recorder,
        {
            "openinference.span.kind": "LLM",
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.contents.0.message_content.type": "text",
            "llm.input_messages.0.message.contents.0.message_content.text": "Describe it.",
            "llm.input_messages.0.message.contents.1.message_content.type": "image",
            "llm.input_messages.0.message.contents.1.message_content.image.image.url": DATA_URL,
        },
    )
    text, image = _user_content(run)
    assert text == {"type": "text", "text": "Describe it."}
    assert image == {
        "type": "image",
        "mime_type": "image/png",
        "size_bytes": len(PNG),
        "url": f"data:image/png;base64,{PNG_TEXT}",
    }


def test_inline_media_over_the_limit_is_described_without_its_data(recorder: SpanRecorder) -> None:
    photo = base64.b64encode(bytes(range(256)) * 1600).decode()  # 409,600 bytes
    messages = [
        {
            "role": "user",
            "parts": [
                {"type": "text", "content": "Describe it."},
                {"type": "blob", "modality": "image", "mime_type": "image/jpeg", "content": photo},
                {"type": "uri", "modality": "image", "uri": "https://example.com/cat.png"},
            ],
        }
    ]
    run = run_of(recorder, {"gen_ai.operation.name": "chat", "gen_ai.input.messages": json.dumps(messages)})
    _, kept, link = _user_content(run)
    assert kept == {
        "type": "image",
        "mime_type": "image/jpeg",
        "size_bytes": 409_600,
        "omitted": "data over the inline limit",
    }
    assert link == {"type": "image", "mime_type": None, "url": "https://example.com/cat.png"}
    nothing_inline = RunDefaults(source_id="source", session_id="session", media_inline_bytes=0)
    small = [
        {
            "role": "user",
            "parts": [{"type": "blob", "modality": "image", "mime_type": "image/png", "content": PNG_TEXT}],
        }
    ]
    (described,) = _user_content(
        run_of(
            recorder,
            {"gen_ai.operation.name": "chat", "gen_ai.input.messages": json.dumps(small)},
            defaults=nothing_inline,
        )
    )
    assert "url" not in described and described["size_bytes"] == len(PNG)


def test_the_vercel_ai_sdk_s_byte_arrays_are_recognised(recorder: SpanRecorder) -> None:
    """A Uint8Array as JSON.stringify writes it, in ``ai.prompt``: an image, not a map of 68 numbers."""
    as_index_map = {str(index): byte for index, byte in enumerate(PNG)}
    prompt = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "What is it?"}, {"type": "image", "image": as_index_map}],
            }
        ]
    }
    run = run_of(
        recorder,
        {"ai.operationId": "ai.generateText", "ai.model.id": "gpt-4o-mini", "ai.prompt": json.dumps(prompt)},
    )
    text, image = _user_content(run)
    assert text == {"type": "text", "text": "What is it?"}
    assert (image["type"], image["size_bytes"]) == ("image", len(PNG))
    assert image["mime_type"] == "image/png"  # known by its first bytes
    assert image["url"] == DATA_URL


def _marked_trace(recorder: SpanRecorder, outer: dict[str, Any], kind: SpanKind) -> list[dict[str, Any]]:
    recorder.provider.add_span_processor(NestedCallMarker())
    with recorder.tracer.start_as_current_span("outer", attributes=outer, kind=kind):
        with recorder.tracer.start_as_current_span("step"):
            with recorder.tracer.start_as_current_span(
                "chat", attributes={"gen_ai.operation.name": "chat", **USAGE}, kind=SpanKind.CLIENT
            ):
                pass
    return [span_to_run(span, DEFAULTS) for span in recorder.spans()]


def _counted(runs: list[dict[str, Any]]) -> int:
    return sum(run["metadata"]["usage"]["total_tokens"] for run in runs if "usage" in run["metadata"])


@pytest.mark.parametrize(
    ("outer", "kind"),
    [
        ({"gen_ai.operation.name": "invoke_agent", **USAGE}, SpanKind.CLIENT),  # Strands Agents up to 1.12
        ({"gen_ai.agent.name": "wrapper", **USAGE}, SpanKind.INTERNAL),  # no operation name: group llms
        ({**USAGE}, SpanKind.INTERNAL),  # a wrapper with the total and nothing else
    ],
    ids=["client-agent", "named-agent-without-operation", "bare-total"],
)
def test_a_total_above_a_call_this_process_traced_is_never_counted_again(
    recorder: SpanRecorder, outer: dict[str, Any], kind: SpanKind
) -> None:
    runs = _marked_trace(recorder, outer, kind)
    assert _counted(runs) == 32  # the chat's, once
    (total,) = [run for run in runs if run["name"] == "outer"]
    assert total["metadata"]["otel"]["usage_aggregate"] is True
    assert "dynamiq.usage.calls_below" not in total["metadata"]["otel"]["attributes"]  # read, not repeated


def test_the_mark_above_a_call_reaches_the_gateway_as_an_attribute(recorder: SpanRecorder) -> None:
    """Another process's spans: the mark its marker wrote is what decides, kind or not."""
    run = run_of(
        recorder,
        {"gen_ai.operation.name": "invoke_agent", **USAGE, "dynamiq.usage.calls_below": True},
        kind=SpanKind.CLIENT,
    )
    assert "usage" not in run["metadata"] and run["metadata"]["otel"]["usage_aggregate"] is True


JSON = "application/json"
MISSIZED = {"messages": [{"role": "user", "content": [{"type": "image", "url": DATA_URL, "size_bytes": "big"}]}]}
SECRET_REDACTOR = RunDefaults(source_id="source", session_id="session", redactor=Redactor())


def test_a_secret_in_a_tool_s_answer_is_masked_before_the_answer_becomes_text(recorder: SpanRecorder) -> None:
    messages = [
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": {"api_key": "sk-LEAK-1"}}]}
    ]
    run = run_of(
        recorder,
        {"gen_ai.operation.name": "chat", "gen_ai.input.messages": json.dumps(messages)},
        defaults=SECRET_REDACTOR,
    )
    (answer,) = run["input"]["messages"]
    assert answer["role"] == "tool" and isinstance(answer["content"], str)
    assert "sk-LEAK-1" not in json.dumps(run) and "[redacted]" in answer["content"]


def test_the_tools_offered_keep_their_schema_whatever_their_parameters_are_called(recorder: SpanRecorder) -> None:
    tools = [{"type": "function", "name": "login", "parameters": {"properties": {"password": {"type": "string"}}}}]
    run = run_of(
        recorder,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]),
            "gen_ai.tool.definitions": json.dumps(tools),
        },
        defaults=SECRET_REDACTOR,
    )
    assert run["input"]["tools"] == tools


def test_every_producer_s_tool_answer_is_text(recorder: SpanRecorder) -> None:
    indexed = run_of(
        recorder,
        {
            "gen_ai.system": "openai",
            "gen_ai.prompt.0.role": "tool",
            "gen_ai.prompt.0.content": 4,
            "gen_ai.prompt.0.tool_call_id": "c1",
        },
    )
    assert indexed["input"]["messages"] == [{"role": "tool", "content": "4", "tool_call_id": "c1"}]
    openinference = run_of(
        recorder,
        {
            "openinference.span.kind": "LLM",
            "llm.input_messages.0.message.role": "tool",
            "llm.input_messages.0.message.content": 4,
        },
    )
    assert openinference["input"]["messages"] == [{"role": "tool", "content": "4"}]


def test_inline_media_is_measured_wherever_it_hides(recorder: SpanRecorder) -> None:
    big = base64.b64encode(bytes(300 * 1024)).decode()
    forms = [
        {"type": "blob", "modality": "image", "mime_type": "image/png", "content": big},
        {"type": "uri", "modality": "image", "uri": f"DATA:image/png;base64,{big}"},
        {"type": "uri", "modality": "image", "uri": f" data:image/png;base64{big}"},  # no comma
        {"type": "image", "url": f"data:image/png;base64,{big}", "size_bytes": 0},  # a size not to be trusted
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{big}"}},  # OpenAI's, in GenAI parts
    ]
    messages = [{"role": "user", "parts": [{"type": "text", "text": "Describe it."}, *forms]}]
    agent = run_of(recorder, {"gen_ai.operation.name": "invoke_agent", "gen_ai.input.messages": json.dumps(messages)})
    chat = run_of(recorder, {"gen_ai.operation.name": "chat", "gen_ai.input.messages": json.dumps(messages)})
    for run in (agent, chat):
        assert len(json.dumps(run)) < 20_000, run["name"]
        (message,) = run["input"]["messages"]
        assert message["content"][0] == {"type": "text", "text": "Describe it."}  # LiteLLM's "text" key kept
        assert [part.get("omitted") for part in message["content"][1:]] == ["data over the inline limit"] * 5


def test_openai_file_parts_inside_genai_parts_keep_their_name_and_size(recorder: SpanRecorder) -> None:
    part = {"type": "file", "file": {"filename": "report.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}}
    chat = run_of(
        recorder,
        {"gen_ai.operation.name": "chat", "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [part]}])},
    )
    (message,) = chat["input"]["messages"]
    assert message["content"] == [
        {
            "type": "file",
            "mime_type": "application/pdf",
            "size_bytes": 6,
            "url": "data:application/pdf;base64,JVBERi0x",
            "filename": "report.pdf",
        }
    ]


@pytest.mark.parametrize(
    "attributes",
    [
        {"gen_ai.operation.name": "chat", "gen_ai.input.messages": json.dumps([{"role": "user", "parts": 5}])},
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": True}]),
        },
        {
            "openinference.span.kind": "CHAIN",
            "input.value": "[" * 1000 + "]" * 1000,
            "input.mime_type": "application/json",
        },
        {"openinference.span.kind": "AGENT", "input.value": json.dumps(MISSIZED), "input.mime_type": JSON},
    ],
    ids=["parts-not-a-list", "output-parts-not-a-list", "nested-1000-deep", "size-not-a-number"],
)
def test_hostile_content_costs_that_value_never_the_run(recorder: SpanRecorder, attributes: dict[str, Any]) -> None:
    run = run_of(recorder, attributes, defaults=SECRET_REDACTOR)
    assert run["id"] and run["metadata"]["node"]["group"] in ("llms", "agents", "operators")


def test_a_zero_in_litellm_s_usage_object_is_kept(recorder: SpanRecorder) -> None:
    usage_object = {"prompt_tokens": 23, "completion_tokens": 9, "completion_tokens_details": {"reasoning_tokens": 0}}
    run = run_of(recorder, {"gen_ai.operation.name": "chat", **USAGE, "metadata.usage_object": str(usage_object)})
    assert run["metadata"]["usage"]["reasoning_output_tokens"] == 0


def test_a_span_its_application_drops_unended_is_not_kept_alive(recorder: SpanRecorder) -> None:
    recorder.provider.add_span_processor(NestedCallMarker())
    abandoned = recorder.tracer.start_span("stream never read to its end", attributes={"prompt": "x" * 1000})
    gone = weakref.ref(abandoned)
    del abandoned
    gc.collect()
    assert gone() is None


def test_a_call_that_names_itself_after_it_starts_still_marks_the_spans_above(recorder: SpanRecorder) -> None:
    """LiteLLM's callback starts its span, then sets gen_ai.operation.name: the mark is made when the call ends."""
    recorder.provider.add_span_processor(NestedCallMarker())
    with recorder.tracer.start_as_current_span("agent", attributes=USAGE, kind=SpanKind.CLIENT):
        with recorder.tracer.start_as_current_span("litellm_request") as call:
            call.set_attributes({"gen_ai.operation.name": "chat", **USAGE})
    runs = [span_to_run(span, DEFAULTS) for span in recorder.spans()]
    assert _counted(runs) == 32


def test_a_full_span_above_a_call_loses_none_of_its_attributes_and_is_still_a_total(recorder: SpanRecorder) -> None:
    notes = SpanNotes()
    recorder.provider.add_span_processor(NestedCallMarker(notes))
    crowded = {"openinference.span.kind": "AGENT", **USAGE, **{f"note.{index}": index for index in range(125)}}
    with recorder.tracer.start_as_current_span("agent", attributes=crowded, kind=SpanKind.CLIENT):
        with recorder.tracer.start_as_current_span("chat", attributes={"gen_ai.operation.name": "chat", **USAGE}):
            pass
    agent_span = recorder.one("agent")
    assert dict(agent_span.attributes or {}) == crowded  # nothing of the producer's evicted for our mark
    context = agent_span.context
    above = notes.calls_below.take(context.trace_id, context.span_id)
    assert above is True
    run = span_to_run(agent_span, DEFAULTS, calls_below=above)
    assert "usage" not in run["metadata"] and run["metadata"]["otel"]["usage_aggregate"] is True


def test_a_call_around_a_call_is_not_marked_as_a_total(recorder: SpanRecorder) -> None:
    recorder.provider.add_span_processor(NestedCallMarker())
    with recorder.tracer.start_as_current_span("llm node", attributes={"openinference.span.kind": "LLM", **USAGE}):
        with recorder.tracer.start_as_current_span("client", attributes={"gen_ai.operation.name": "chat", **USAGE}):
            pass
    assert "dynamiq.usage.calls_below" not in (recorder.one("llm node").attributes or {})
    runs = [span_to_run(span, DEFAULTS) for span in recorder.spans()]
    assert _counted(runs) == 32  # the outer call counts; the inner is counted in it


def test_a_deep_value_costs_only_itself_and_a_tools_key_is_masked_like_any_value(recorder: SpanRecorder) -> None:
    deep: Any = "bottom"
    for _ in range(150):
        deep = {"down": deep}
    messages = [
        {"role": "user", "parts": [{"type": "text", "content": "What is it?"}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": deep}]},
    ]
    run = run_of(
        recorder,
        {"gen_ai.operation.name": "chat", "gen_ai.input.messages": json.dumps(messages)},
        defaults=SECRET_REDACTOR,
    )
    assert run["input"]["messages"][0] == {"role": "user", "content": "What is it?"}
    assert "too deeply nested" in run["input"]["messages"][1]["content"]
    chain = run_of(
        recorder,
        {
            "openinference.span.kind": "CHAIN",
            "input.value": json.dumps({"tools": [{"name": "web", "api_key": "sk-LIVE-TOOLS"}], "query": "q"}),
            "input.mime_type": JSON,
        },
        defaults=SECRET_REDACTOR,
    )
    assert "sk-LIVE-TOOLS" not in json.dumps(chain)


def test_a_tool_answer_written_as_json_text_is_masked_too(recorder: SpanRecorder) -> None:
    run = run_of(
        recorder,
        {
            "openinference.span.kind": "LLM",
            "llm.input_messages.0.message.role": "tool",
            "llm.input_messages.0.message.content": json.dumps({"api_key": "sk-SECRET", "answer": 4}),
        },
        defaults=SECRET_REDACTOR,
    )
    (answer,) = run["input"]["messages"]
    assert "sk-SECRET" not in answer["content"] and json.loads(answer["content"])["answer"] == 4


def test_a_data_url_inside_a_tool_s_answer_is_limited_too(recorder: SpanRecorder) -> None:
    photo = "data:image/png;base64," + base64.b64encode(bytes(300 * 1024)).decode()
    messages = [{"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": {"image": photo}}]}]
    run = run_of(recorder, {"gen_ai.operation.name": "chat", "gen_ai.input.messages": json.dumps(messages)})
    assert len(json.dumps(run)) < 20_000
    assert "data over the inline limit" in run["input"]["messages"][0]["content"]
