"""Every form the GenAI and OpenInference conventions give content in becomes the shape of a native Dynamiq run.

The real instrumentations are run in ``test_llm_instrumentations.py``; these
cover the forms no installed instrumentation emits today (previous attribute
names, span events) and the span kinds they do not, built by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import NoOpTracerProvider, Status, StatusCode

from otel_dynamiq import DynamiqSpanExporter, NestedCallMarker
from otel_dynamiq._translation.llm_content import ContentEvent
from otel_dynamiq._translation.span_to_run import RunDefaults, span_to_run
from otel_dynamiq.collector import LocalCollector
from otel_dynamiq.processors import SHARED_NOTES, GenAIContentEventProcessor, SpanNotes, mark_nested_calls
from otel_dynamiq.processors._span_notes import ContentEventStore
from tests.support.common import SpanRecorder

DEFAULTS = RunDefaults(source_id="source", session_id="session")
QUESTION = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 2?"}]


def run_of(recorder: SpanRecorder, name: str, events: list[ContentEvent] | None = None) -> dict[str, Any]:
    return span_to_run(recorder.one(name), DEFAULTS, events or ())


def test_the_oldest_genai_span_events_become_messages_and_leave_the_events(recorder: SpanRecorder) -> None:
    with recorder.tracer.start_as_current_span("chat", attributes={"gen_ai.system": "openai"}) as span:
        span.add_event("gen_ai.content.prompt", {"gen_ai.prompt": json.dumps(QUESTION)})
        span.add_event(
            "gen_ai.content.completion", {"gen_ai.completion": json.dumps([{"role": "assistant", "content": "4"}])}
        )
        span.add_event("something else")
    run = run_of(recorder, "chat")
    assert run["input"] == {"messages": QUESTION}
    assert run["output"] == {"content": "4"}
    assert [event["name"] for event in run["metadata"]["otel"]["events"]] == ["something else"]


def test_indexed_prompt_attributes_become_messages(recorder: SpanRecorder) -> None:
    attributes = {
        "gen_ai.system": "anthropic",
        "gen_ai.request.model": "claude",
        "gen_ai.prompt.0.role": "system",
        "gen_ai.prompt.0.content": "Be brief.",
        "gen_ai.prompt.1.role": "user",
        "gen_ai.prompt.1.content": "What is 2 + 2?",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": "4",
    }
    with recorder.tracer.start_as_current_span("anthropic.chat", attributes=attributes):
        pass
    run = run_of(recorder, "anthropic.chat")
    assert run["input"] == {"messages": QUESTION} and run["output"] == {"content": "4"}
    assert run["metadata"]["node"] == {
        "name": "anthropic.chat",
        "group": "llms",
        "model": "claude",
        "provider": "anthropic",
    }
    assert not [key for key in run["metadata"]["otel"]["attributes"] if key.startswith("gen_ai.")]


def test_previous_content_log_events_become_messages(recorder: SpanRecorder) -> None:
    with recorder.tracer.start_as_current_span("chat", attributes={"gen_ai.operation.name": "chat"}):
        pass
    events = [
        ContentEvent("gen_ai.system.message", {"content": "Be brief."}, {}),
        ContentEvent("gen_ai.user.message", {"content": "What is 2 + 2?"}, {}),
        ContentEvent(
            "gen_ai.choice",
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 2}'}}
                    ],
                },
            },
            {},
        ),
    ]
    run = run_of(recorder, "chat", events)
    assert run["input"] == {"messages": QUESTION}
    assert run["output"] == {
        "content": None,
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "add", "arguments": {"a": 2}}}],
    }


def test_a_genai_tool_execution_is_a_tool_run(recorder: SpanRecorder) -> None:
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "add",
        "gen_ai.tool.description": "Adds two numbers a and b.",
        "gen_ai.tool.call.arguments": '{"a": 2, "b": 2}',
        "gen_ai.tool.call.result": "4",
    }
    with recorder.tracer.start_as_current_span("execute_tool add", attributes=attributes):
        pass
    run = run_of(recorder, "execute_tool add")
    assert run["name"] == "add"
    assert run["metadata"]["node"] == {"name": "add", "group": "tools", "description": "Adds two numbers a and b."}
    assert (run["input"], run["output"]) == ({"a": 2, "b": 2}, {"content": 4})


def test_an_openinference_reranker_is_a_ranker_run(recorder: SpanRecorder) -> None:
    attributes = {
        "openinference.span.kind": "RERANKER",
        "reranker.model_name": "rerank-1",
        "reranker.query": "capital of France",
        "reranker.input_documents.0.document.content": "Berlin",
        "reranker.input_documents.1.document.content": "Paris",
        "reranker.output_documents.0.document.content": "Paris",
        "reranker.output_documents.0.document.score": 0.9,
        "reranker.output_documents.0.document.metadata": '{"source": "atlas"}',
    }
    with recorder.tracer.start_as_current_span("rerank", attributes=attributes):
        pass
    run = run_of(recorder, "rerank")
    assert run["metadata"]["node"] == {"name": "rerank", "group": "rankers", "model": "rerank-1"}
    assert run["input"]["query"] == "capital of France"
    assert [document["content"] for document in run["input"]["documents"]] == ["Berlin", "Paris"]
    assert run["output"] == {
        "documents": [
            {"id": None, "content": "Paris", "metadata": {"source": "atlas"}, "embedding": None, "score": 0.9}
        ]
    }
    assert run["metadata"]["otel"]["attributes"] == {"openinference.span.kind": "RERANKER"}


def test_an_openinference_agent_is_an_agent_run_with_the_users_metadata_and_tags(recorder: SpanRecorder) -> None:
    attributes = {
        "openinference.span.kind": "AGENT",
        "agent.name": "planner",
        "input.value": "plan a trip",
        "output.value": "done",
        "metadata": '{"team": "qa", "node": "not ours to replace"}',
        "tag.tags": ("beta", "eu"),
    }
    with recorder.tracer.start_as_current_span("AgentExecutor", attributes=attributes):
        pass
    run = run_of(recorder, "AgentExecutor")
    assert run["metadata"]["node"] == {"name": "planner", "group": "agents"}
    assert run["metadata"]["team"] == "qa"
    assert (run["input"], run["output"], run["tags"]) == ({"input": "plan a trip"}, {"content": "done"}, ["beta", "eu"])


def test_the_exception_that_became_the_error_is_not_repeated(recorder: SpanRecorder) -> None:
    with recorder.tracer.start_as_current_span("llm", attributes={"openinference.span.kind": "LLM"}) as span:
        span.record_exception(ValueError("bad"))
        span.set_status(Status(StatusCode.ERROR))
    run = run_of(recorder, "llm")
    assert run["error"]["type"] == "ValueError" and run["error"]["message"] == "bad"
    assert run["metadata"]["otel"]["events"] == []


def test_secrets_in_content_are_masked(recorder: SpanRecorder) -> None:
    from otel_dynamiq._translation.redaction import Redactor

    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.call.arguments": '{"api_key": "sk-123", "a": 1}',
    }
    with recorder.tracer.start_as_current_span("tool", attributes=attributes):
        pass
    run = span_to_run(recorder.one("tool"), RunDefaults("s", "s", redactor=Redactor()))
    assert run["input"]["a"] == 1 and "sk-123" not in json.dumps(run)


def test_content_events_are_kept_per_sampled_span_and_bounded(recorder: SpanRecorder) -> None:
    notes = SpanNotes()
    store = notes.content_events = ContentEventStore(max_spans=2, max_events=2)
    provider = LoggerProvider()
    provider.add_log_record_processor(GenAIContentEventProcessor(notes))
    logger = provider.get_logger("test")
    from opentelemetry._logs import LogRecord

    with recorder.tracer.start_as_current_span("chat") as span:
        for text in ("one", "two", "three"):
            logger.emit(LogRecord(event_name="gen_ai.user.message", body={"content": text}))
        logger.emit(LogRecord(event_name="not.genai", body="ignored"))
        logger.emit(LogRecord(body="a plain log line"))
    context = span.get_span_context()
    kept = store.take(context.trace_id, context.span_id)
    assert [event.body["content"] for event in kept] == ["one", "two"]
    assert store.dropped == 1
    assert store.take(context.trace_id, context.span_id) == []  # taken once
    for span_id in (1, 2, 3):  # more spans than the store holds: the oldest is forgotten
        store.add(7, span_id, ContentEvent("gen_ai.user.message", {}, {}))
    assert store.take(7, 1) == [] and len(store.take(7, 3)) == 1


# One LLM call, one count.


def test_a_span_started_inside_a_model_call_keeps_its_usage_beside_the_count(recorder: SpanRecorder) -> None:
    """Marked at start, so the rule holds span by span: batches and their order do not matter."""
    recorder.provider.add_span_processor(NestedCallMarker())
    tracer = recorder.tracer
    usage = {"gen_ai.usage.input_tokens": 7, "gen_ai.usage.output_tokens": 1}
    with tracer.start_as_current_span("chat gpt-4o-mini", attributes={"gen_ai.operation.name": "chat"}) as node:
        node.set_attributes(usage)
        with tracer.start_as_current_span("ChatCompletion", attributes={"openinference.span.kind": "LLM"}) as client:
            client.set_attributes({"llm.token_count.prompt": 7, "llm.token_count.completion": 1})
            with tracer.start_as_current_span("chat", attributes={"gen_ai.operation.name": "chat", **usage}):
                with tracer.start_as_current_span("POST"):
                    pass
    with tracer.start_as_current_span("agent", attributes={"openinference.span.kind": "AGENT"}):
        with tracer.start_as_current_span("tool", attributes={"openinference.span.kind": "TOOL"}):
            with tracer.start_as_current_span("inner call", attributes={"gen_ai.operation.name": "chat", **usage}):
                pass
    # Each span alone, in the order the exporter gets them (children first), as separate batches would.
    runs = {span.name: span_to_run(span, DEFAULTS) for span in recorder.spans()}
    expected = {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8}
    assert runs["chat gpt-4o-mini"]["metadata"]["usage"] == expected
    for name, parent in (("ChatCompletion", "chat gpt-4o-mini"), ("chat", "ChatCompletion")):
        run = runs[name]
        assert "usage" not in run["metadata"]
        assert run["metadata"]["otel"]["usage"] == expected
        assert run["metadata"]["otel"]["usage_counted_in"] == runs[parent]["id"] == run["parent_run_id"]
        assert "dynamiq.usage.counted_in_parent" not in run["metadata"]["otel"]["attributes"]
    assert runs["inner call"]["metadata"]["usage"] == expected  # a call of its own, made by a tool
    summed = sum(run["metadata"].get("usage", {}).get("total_tokens", 0) for run in runs.values())
    assert summed == 16


def test_one_marker_per_provider_and_none_for_a_provider_that_is_not_the_sdks() -> None:
    provider = TracerProvider()
    assert mark_nested_calls(provider) and mark_nested_calls(provider)
    markers = [
        processor
        for processor in provider._active_span_processor._span_processors
        if isinstance(processor, NestedCallMarker)
    ]
    assert len(markers) == 1
    assert not mark_nested_calls(NoOpTracerProvider())


def test_without_the_marker_every_span_counts(recorder: SpanRecorder) -> None:
    """The mark is what decides: spans from an app without otel-dynamiq are taken as they come."""
    usage = {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 7, "gen_ai.usage.output_tokens": 1}
    with recorder.tracer.start_as_current_span("outer", attributes=usage):
        with recorder.tracer.start_as_current_span("inner", attributes=usage):
            pass
    assert all("usage" in span_to_run(span, DEFAULTS)["metadata"] for span in recorder.spans())


def test_cache_tokens_become_dynamiqs_usage_fields(recorder: SpanRecorder) -> None:
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 5,
        "gen_ai.usage.cache_read.input_tokens": 60,
        "gen_ai.usage.cache_creation.input_tokens": 30,
    }
    with recorder.tracer.start_as_current_span("chat", attributes=attributes):
        pass
    run = run_of(recorder, "chat")
    assert run["metadata"]["usage"] == {
        "prompt_tokens": 100,
        "completion_tokens": 5,
        "total_tokens": 105,
        "cache_read_input_tokens": 60,
        "cache_creation_input_tokens": 30,
    }
    assert not [key for key in run["metadata"]["otel"]["attributes"] if key.startswith("gen_ai.usage.")]


# OpenLLMetry 0.4x: its spans as the real package wrote them, replayed (it cannot load beside today's API).

OPENLLMETRY_0_4 = json.loads((Path(__file__).parents[1] / "data" / "openllmetry-0.47.5-openai.json").read_text())


def replayed(recorder: SpanRecorder, scenario: str) -> dict[str, Any]:
    (recorded,) = [span for span in OPENLLMETRY_0_4["spans"] if span["scenario"] == scenario]
    with recorder.tracer.start_as_current_span(recorded["name"], attributes=recorded["attributes"]) as span:
        for event in recorded["events"]:
            span.add_event(event["name"], event["attributes"])
        if recorded["status"] == "ERROR":
            span.set_status(Status(StatusCode.ERROR))
    return span_to_run(recorder.spans()[-1], DEFAULTS)


def test_openllmetry_0_4_chat_and_stream(recorder: SpanRecorder) -> None:
    chat = replayed(recorder, "chat")
    assert chat["input"] == {"messages": QUESTION} and chat["output"] == {"content": "4"}
    assert chat["metadata"]["node"] == {
        "name": "openai.chat",
        "group": "llms",
        "model": "gpt-4o-mini",
        "provider": "openai",
    }
    # OpenLLMetry reports its reasoning count even when it is 0; a reported count is kept.
    assert chat["metadata"]["usage"] == {
        "prompt_tokens": 7,
        "completion_tokens": 1,
        "total_tokens": 8,
        "reasoning_output_tokens": 0,
    }
    streamed = replayed(recorder, "stream with usage")
    assert streamed["output"] == {"content": "You said: hello there"}
    # One event per streamed chunk arrives; the run shows them as one, with their count.
    (chunks,) = streamed["metadata"]["otel"]["events"]
    assert (chunks["name"], chunks["attributes"]["count"]) == ("llm.content.completion.chunk", 7)


def test_openllmetry_0_4_tool_calls_in_completions_and_prompts(recorder: SpanRecorder) -> None:
    asked = {"id": "call_local_1", "type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 2}}}
    call = replayed(recorder, "tool call")
    assert call["output"] == {"content": None, "tool_calls": [asked]}
    answer = replayed(recorder, "tool answer")
    assert answer["input"] == {
        "messages": [
            {"role": "user", "content": "add 2 and 2"},
            {"role": "assistant", "content": None, "tool_calls": [asked]},
            {"role": "tool", "content": "4", "tool_call_id": "call_local_1"},
        ]
    }
    assert answer["output"] == {"content": "The tool says 4."}
    for run in (call, answer):
        assert not [
            key
            for key in run["metadata"]["otel"]["attributes"]
            if key.startswith(("gen_ai.prompt", "gen_ai.completion"))
        ]


def test_openllmetry_0_4_embedding_and_failure(recorder: SpanRecorder) -> None:
    embedding = replayed(recorder, "embeddings")
    assert embedding["metadata"]["node"]["group"] == "embedders"  # from llm.request.type
    assert embedding["input"] == {"query": "a b"}
    assert embedding["metadata"]["usage"] == {
        "prompt_tokens": 2,
        "completion_tokens": 0,
        "total_tokens": 2,
        "cache_read_input_tokens": 0,
    }
    failed = replayed(recorder, "failing")
    assert failed["status"] == "failed"
    assert failed["error"]["type"] == "openai.InternalServerError"
    assert "the local model is down" in failed["error"]["message"]


def test_litellm_function_call_attributes_are_the_answers_tool_calls(recorder: SpanRecorder) -> None:
    """LiteLLM's "otel" callback names each tool call ``gen_ai.completion.<call>.function_call.*``."""
    attributes = {
        "llm.request.type": "completion",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.system": "openai",
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": "add 2 and 2",
        "gen_ai.completion.0.function_call.name": "add",
        "gen_ai.completion.0.function_call.arguments": '{"a": 2, "b": 2}',
    }
    with recorder.tracer.start_as_current_span("litellm_request", attributes=attributes):
        pass
    run = run_of(recorder, "litellm_request")
    assert run["output"] == {
        "content": None,
        "tool_calls": [{"id": None, "type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 2}}}],
    }


# The Vercel AI SDK: ai 6 is run for real through the gateway in tests/gateway/test_vercel_ai.py (make fleet);
# here, its earlier names (ai 4) and the shapes, without Node.js.


def test_vercel_ai_sdk_4_names_and_a_provider_request_counted_in_its_call(recorder: SpanRecorder) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "add 2 and 2"}]},
        {
            "role": "assistant",
            "content": [{"type": "tool-call", "toolCallId": "c1", "toolName": "add", "args": {"a": 2}}],
        },
        {"role": "tool", "content": [{"type": "tool-result", "toolCallId": "c1", "toolName": "add", "result": 4}]},
    ]
    call = {"ai.operationId": "ai.generateText", "ai.model.id": "claude", "ai.model.provider": "anthropic.messages"}
    request = {
        **call,
        "ai.operationId": "ai.generateText.doGenerate",
        "ai.prompt.messages": json.dumps(messages),
        "ai.response.toolCalls": json.dumps([{"toolCallId": "c2", "toolName": "add", "args": '{"a": 4}'}]),
        "ai.usage.promptTokens": 10,
        "ai.usage.completionTokens": 3,
        "gen_ai.system": "anthropic.messages",
    }
    with recorder.tracer.start_as_current_span("ai.generateText", attributes={**call, "ai.prompt": '{"prompt": "hi"}'}):
        with recorder.tracer.start_as_current_span("ai.generateText.doGenerate", attributes=request):
            pass
    outer, inner = run_of(recorder, "ai.generateText"), run_of(recorder, "ai.generateText.doGenerate")
    assert outer["input"] == {"messages": [{"role": "user", "content": "hi"}]}
    assert inner["metadata"]["node"] == {
        "name": "ai.generateText.doGenerate",
        "group": "llms",
        "model": "claude",
        "provider": "anthropic",
    }
    assert inner["input"] == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "add 2 and 2"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "add", "arguments": {"a": 2}}}],
            },
            {"role": "tool", "content": "4", "tool_call_id": "c1"},  # text, as the model reads it
        ]
    }
    assert inner["output"] == {
        "content": None,
        "tool_calls": [{"id": "c2", "type": "function", "function": {"name": "add", "arguments": {"a": 4}}}],
    }
    assert "usage" not in inner["metadata"]
    assert inner["metadata"]["otel"]["usage"] == {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}
    assert inner["metadata"]["otel"]["usage_counted_in"] == outer["id"]
    assert "gen_ai.system" not in inner["metadata"]["otel"]["attributes"]


def test_vercel_ai_sdk_tool_call_and_embeddings(recorder: SpanRecorder) -> None:
    tool = {
        "ai.operationId": "ai.toolCall",
        "ai.toolCall.name": "add",
        "ai.toolCall.id": "c1",
        "ai.toolCall.args": '{"a":2,"b":2}',
        "ai.toolCall.result": "4",
    }
    vectors = tuple(json.dumps([n / 100 for n in range(30)]) for _ in range(2))
    many = {
        "ai.operationId": "ai.embedMany",
        "ai.model.id": "text-embedding-3-small",
        "ai.model.provider": "openai.embedding",
        "ai.values": ('"a b"', '"c d"'),
        "ai.embeddings": vectors,
        "ai.usage.tokens": 4,
    }
    with recorder.tracer.start_as_current_span("ai.toolCall", attributes=tool):
        pass
    with recorder.tracer.start_as_current_span("ai.embedMany", attributes=many):
        pass
    tool_run = run_of(recorder, "ai.toolCall")
    assert (tool_run["name"], tool_run["input"], tool_run["output"]) == ("add", {"a": 2, "b": 2}, {"content": 4})
    embedded = run_of(recorder, "ai.embedMany")
    assert embedded["metadata"]["node"]["provider"] == "openai"
    assert embedded["input"] == {"documents": [{"content": "a b"}, {"content": "c d"}]}
    assert [len(document["embedding"]) for document in embedded["output"]["documents"]] == [20, 20]  # cut as Dynamiq
    assert embedded["metadata"]["usage"] == {"prompt_tokens": 4, "completion_tokens": 0, "total_tokens": 4}


def test_a_mark_pushed_out_by_the_attribute_limit_still_counts_once(
    exporters: list[DynamiqSpanExporter], collector: LocalCollector
) -> None:
    """The SDK keeps 128 attributes and evicts the oldest: the mark, set at start, goes first.

    A client instrumentation that records a long conversation as attributes pushes it out;
    the exporter still knows the span was marked.
    """
    exporter = DynamiqSpanExporter(endpoint=collector.url)
    exporters.append(exporter)
    recorder = SpanRecorder()
    recorder.provider.add_span_processor(NestedCallMarker())
    _export_a_call_whose_mark_is_evicted(recorder, exporter, collector)


def test_a_marker_and_an_exporter_given_their_own_notes_meet_there_and_not_in_the_shared_ones(
    exporters: list[DynamiqSpanExporter], collector: LocalCollector
) -> None:
    notes = SpanNotes()
    exporter = DynamiqSpanExporter(endpoint=collector.url, span_notes=notes)
    exporters.append(exporter)
    recorder = SpanRecorder()
    recorder.provider.add_span_processor(NestedCallMarker(notes))
    client = _export_a_call_whose_mark_is_evicted(recorder, exporter, collector)
    assert not SHARED_NOTES.counted_in_parent.take(client.context.trace_id, client.context.span_id)


def _export_a_call_whose_mark_is_evicted(
    recorder: SpanRecorder, exporter: DynamiqSpanExporter, collector: LocalCollector
) -> ReadableSpan:
    """An LLM node around a client call whose attributes evict the mark; exported, its usage counts once."""
    usage = {"llm.token_count.prompt": 160, "llm.token_count.completion": 8}
    with recorder.tracer.start_as_current_span("LLM node", attributes={"gen_ai.operation.name": "chat"}) as node:
        node.set_attributes({"gen_ai.usage.input_tokens": 160, "gen_ai.usage.output_tokens": 8})
        with recorder.tracer.start_as_current_span(
            "ChatCompletion", attributes={"openinference.span.kind": "LLM"}
        ) as c:
            for turn in range(80):  # two attributes a message: 160, past the limit
                c.set_attributes({f"llm.input_messages.{turn}.message.role": "user"})
                c.set_attributes({f"llm.input_messages.{turn}.message.content": f"turn {turn}"})
            c.set_attributes(usage)
    client_span = recorder.one("ChatCompletion")
    assert "dynamiq.usage.counted_in_parent" not in (client_span.attributes or {})  # evicted, as in the wild
    assert exporter.export(recorder.spans()).name == "SUCCESS"
    runs = {run["name"]: run for run in collector.store.runs()}
    assert runs["LLM node"]["metadata"]["usage"]["total_tokens"] == 168
    assert "usage" not in runs["ChatCompletion"]["metadata"]
    assert runs["ChatCompletion"]["metadata"]["otel"]["usage"]["total_tokens"] == 168
    recorder.provider.shutdown()
    return client_span


def test_odd_indices_and_impossible_token_counts_cost_only_themselves(recorder: SpanRecorder) -> None:
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": "hello",
        "gen_ai.prompt.².content": "a superscript is a digit to str.isdigit",
        "gen_ai.prompt." + "9" * 5000 + ".content": "past int()'s digit limit",
        "gen_ai.usage.input_tokens": 2**63 - 1,
        "gen_ai.usage.output_tokens": -1000,
        "gen_ai.usage.total_tokens": 12,
    }
    with recorder.tracer.start_as_current_span("chat", attributes=attributes):
        pass
    run = run_of(recorder, "chat")
    assert run["input"] == {"messages": [{"role": "user", "content": "hello"}]}
    assert run["metadata"]["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 12}
    kept = run["metadata"]["otel"]["attributes"]
    assert kept["gen_ai.usage.input_tokens"] == 2**63 - 1 and kept["gen_ai.usage.output_tokens"] == -1000


def test_vercel_content_it_cannot_read_stays_in_metadata(recorder: SpanRecorder) -> None:
    attributes = {
        "ai.operationId": "ai.generateText.doGenerate",
        "ai.prompt.messages": "this is {not json",
        "ai.response.toolCalls": "{broken",
        "ai.response.text": "an answer",
    }
    with recorder.tracer.start_as_current_span("ai.generateText.doGenerate", attributes=attributes):
        pass
    run = run_of(recorder, "ai.generateText.doGenerate")
    assert run["output"] == {"content": "an answer"}
    kept = run["metadata"]["otel"]["attributes"]
    assert kept["ai.prompt.messages"] == "this is {not json" and kept["ai.response.toolCalls"] == "{broken"
