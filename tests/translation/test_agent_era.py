"""Agents, their aggregate usage, the usage details and media parts, in the forms the agent-era producers send.

Real producers run in ``test_llm_instrumentations.py`` (pydantic-ai) and
``tests/gateway/test_ai_sdk_7.py`` (the Vercel AI SDK 7); these pin each rule
on spans built by hand, including the forms those runs do not reach (a remote
agent's CLIENT span, LiteLLM's usage object, an image over the inline limit).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from opentelemetry.trace import SpanKind

from otel_dynamiq._translation.span_to_run import RunDefaults, span_to_run
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
    ],
    ids=["invoke_agent", "agent_step", "openinference-agent", "openinference-chain", "tool"],
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
