"""Export cost: the same spans through otel-dynamiq and through OTLP/HTTP, one span mix at a time.

Four mixes, measured separately because each exercises a different path:
Dynamiq node spans as the instrumentation writes them (1 KB input and output,
metadata with the serialized node and usage); GenAI spans from another
instrumentation (``gen_ai.*`` with input and output messages as JSON);
OpenInference spans (JSON-string ``input.value``/``output.value`` and the
flattened ``llm.input_messages.*``/``llm.output_messages.*``); and the Vercel
AI SDK's provider-request spans (``ai.*``, messages as JSON, usage under both
names, counted in their parent call). Batches of
512, as the BatchSpanProcessor sends them, to a loopback sink in a child
process that reads and discards every body.

CPU per span (process time, every thread of this process) is what the
application pays on its batch worker; spans/s is bounded by the sink too.

    .venv/bin/python benchmarks/export_throughput.py [--spans N] [--tiny]

Target: otel-dynamiq's CPU per span at most 1/3 of the OTLP exporter's, on each mix.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

from _support import machine, parser, sink_server, table

BATCH = 512
Measured = TypeVar("Measured")
PAYLOAD = "The refund policy allows returns within 30 days of purchase, with the receipt. " * 13  # ~1 KB


def dynamiq_node_attributes(index: int) -> dict[str, Any]:
    from opentelemetry.instrumentation.dynamiq._attributes import RunnableFacts, span_attributes
    from opentelemetry.instrumentation.dynamiq._settings import CaptureSettings

    now = datetime.now(timezone.utc)
    run = {
        "id": uuid.uuid4(),
        "name": f"Retriever {index}",
        "type": "node",
        "status": "succeeded",
        "input": {"query": PAYLOAD},
        "output": {"content": PAYLOAD, "documents": [{"id": n, "score": 0.5} for n in range(3)]},
        "metadata": {
            "node": {"id": str(uuid.uuid4()), "name": f"Retriever {index}", "group": "retrievers", "type": "Retriever"},
            "run_depends": [],
            "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160},
            "is_output_from_cache": False,
        },
        "error": None,
        "executions": [{"id": str(uuid.uuid4()), "start_time": now, "end_time": now, "status": "succeeded"}],
        "tags": [],
    }
    facts = RunnableFacts(kind="node", name=f"Retriever {index}", group="retrievers")
    return span_attributes(facts, run, CaptureSettings())


def genai_attributes(index: int) -> dict[str, Any]:
    messages = [{"role": "user", "parts": [{"type": "text", "content": PAYLOAD}]}]
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.usage.input_tokens": 250 + index % 7,
        "gen_ai.usage.output_tokens": 80,
        "gen_ai.input.messages": json.dumps(messages),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": PAYLOAD}]}]),
        "server.address": "api.openai.com",
    }


def openinference_attributes(index: int) -> dict[str, Any]:
    question = {"messages": [{"role": "user", "content": PAYLOAD}], "model": "gpt-4o-mini"}
    answer = {"choices": [{"message": {"role": "assistant", "content": PAYLOAD}}], "usage": {"total_tokens": 330}}
    return {
        "openinference.span.kind": "LLM",
        "llm.system": "openai",
        "llm.model_name": "gpt-4o-mini",
        "llm.invocation_parameters": json.dumps({"temperature": 0.2}),
        "input.value": json.dumps(question),
        "input.mime_type": "application/json",
        "output.value": json.dumps(answer),
        "output.mime_type": "application/json",
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": PAYLOAD,
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": PAYLOAD,
        "llm.token_count.prompt": 250 + index % 7,
        "llm.token_count.completion": 80,
        "llm.token_count.total": 330 + index % 7,
    }


def vercel_attributes(index: int) -> dict[str, Any]:
    """An ``ai.generateText.doGenerate`` span as ``ai`` 6 writes it."""
    messages = [{"role": "user", "content": [{"type": "text", "text": PAYLOAD}]}]
    return {
        "operation.name": "ai.generateText.doGenerate my-function",
        "ai.operationId": "ai.generateText.doGenerate",
        "ai.telemetry.functionId": "my-function",
        "ai.model.provider": "openai.chat",
        "ai.model.id": "gpt-4o-mini",
        "ai.settings.maxRetries": 2,
        "ai.prompt.messages": json.dumps(messages),
        "gen_ai.system": "openai.chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "ai.response.finishReason": "stop",
        "ai.response.text": PAYLOAD,
        "ai.response.id": f"chatcmpl-{index}",
        "ai.response.model": "gpt-4o-mini",
        "ai.usage.inputTokens": 250 + index % 7,
        "ai.usage.outputTokens": 80,
        "ai.usage.totalTokens": 330 + index % 7,
        "ai.usage.inputTokenDetails.cacheReadTokens": 0,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 250 + index % 7,
        "gen_ai.usage.output_tokens": 80,
    }


MIXES: dict[str, tuple[str, Callable[[int], dict[str, Any]]]] = {
    "Dynamiq node spans": ("Retriever", lambda index: NODE_ATTRIBUTES),
    "GenAI spans": ("chat gpt-4o-mini", genai_attributes),
    "OpenInference spans": ("ChatCompletion", openinference_attributes),
    "Vercel AI SDK spans": ("ai.generateText.doGenerate", vercel_attributes),
}
NODE_ATTRIBUTES: dict[str, Any] = {}


def make_spans(count: int, name: str, attributes: Callable[[int], dict[str, Any]]) -> list[Any]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("benchmark")
    with tracer.start_as_current_span("request"):  # children of one local parent, as in a real trace
        for index in range(count):
            with tracer.start_as_current_span(name, attributes=attributes(index)):
                pass
    return list(memory.get_finished_spans())[:count]


class Cost:
    """The best of a few passes over all spans (the first also pays for warming up): spans/s and CPU µs/span."""

    def __init__(self, spans: Sequence[Any], export: Callable[[Sequence[Any]], Any], rounds: int = 3) -> None:
        self.spans_per_second = 0.0
        self.cpu_us_per_span = float("inf")
        for _ in range(rounds):
            cpu_before, began = time.process_time(), time.perf_counter()
            for start in range(0, len(spans), BATCH):
                export(spans[start : start + BATCH])
            wall, cpu = time.perf_counter() - began, time.process_time() - cpu_before
            self.spans_per_second = max(self.spans_per_second, len(spans) / wall)
            self.cpu_us_per_span = min(self.cpu_us_per_span, cpu / len(spans) * 1e6)


def measure_both(
    url: str, spans: Sequence[Any], measure: Callable[[Sequence[Any], Any], Measured]
) -> tuple[Measured, Measured]:
    """``measure`` of otel-dynamiq's exporter, then of the stock OTLP/HTTP exporter, over the same spans, each
    exporter sending to ``url`` and shut down after."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from otel_dynamiq import DynamiqSpanExporter

    dynamiq = DynamiqSpanExporter(endpoint=url)
    ours = measure(spans, dynamiq.export)
    assert dynamiq.stats.runs_dropped_total == 0, dynamiq.stats
    dynamiq.shutdown()
    otlp_exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces")
    otlp = measure(spans, otlp_exporter.export)
    otlp_exporter.shutdown()
    return ours, otlp


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--spans", type=int, default=20_000, help="spans per mix")
    args = arguments.parse_args()

    NODE_ATTRIBUTES.update(dynamiq_node_attributes(0))
    count = 1_024 if args.tiny else args.spans
    rows = []
    with sink_server() as url:
        for mix, (name, attributes) in MIXES.items():
            ours, otlp = measure_both(url, make_spans(count, name, attributes), Cost)
            rows.append(
                [
                    mix,
                    ours.cpu_us_per_span,
                    otlp.cpu_us_per_span,
                    ours.cpu_us_per_span / otlp.cpu_us_per_span,
                    ours.spans_per_second,
                    otlp.spans_per_second,
                ]
            )
    print(f"Export cost, {count:,} spans per mix in batches of {BATCH} ({machine()})")
    headers = ["span mix", "CPU µs/span otel-dynamiq", "CPU µs/span OTLP", "CPU ratio", "spans/s otel", "spans/s OTLP"]
    print(table(headers, rows))
    print()
    print(mask_costs(count))


EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
CUSTOMER_ID = re.compile(r"cust-\d+")


def mask_everywhere(value: Any) -> Any:
    """The first mask of docs/configuration.md, as written there: every string at any depth of the run."""
    if isinstance(value, str):
        return CUSTOMER_ID.sub("[customer]", EMAIL.sub("[email]", value))
    if isinstance(value, dict):
        return {key: mask_everywhere(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_everywhere(item) for item in value]
    return value


def mask_costs(count: int) -> str:
    """Export CPU per run on the GenAI mix: without a mask, with one that returns the run, with the regex mask."""
    from otel_dynamiq import DynamiqSpanExporter

    name, attributes = MIXES["GenAI spans"]
    spans = make_spans(count, name, attributes)
    masks: dict[str, Callable[[dict[str, Any]], Any] | None] = {
        "no mask": None,
        "trivial mask (returns the run)": lambda run: run,
        "regex mask, every string": mask_everywhere,
    }
    rows: list[list[Any]] = []
    with sink_server() as url:
        baseline = 0.0
        for label, mask in masks.items():
            exporter = DynamiqSpanExporter(endpoint=url, mask=mask)
            cost = Cost(spans, exporter.export)
            assert exporter.stats.runs_dropped_total == 0, exporter.stats
            exporter.shutdown()
            baseline = baseline or cost.cpu_us_per_span
            rows.append([label, cost.cpu_us_per_span, cost.cpu_us_per_span - baseline])
    heading = f"The mask hook's cost, {count:,} GenAI spans in batches of {BATCH} ({machine()})"
    return heading + "\n" + table(["mask", "CPU µs/run", "added µs/run"], rows)


if __name__ == "__main__":
    main()
