"""Span attributes for one finished Dynamiq run. Pure: no I/O, no OpenTelemetry calls.

Three audiences read the same span: the Dynamiq exporter reads the
``dynamiq.run.*`` attributes (the exact native run, as JSON text); other
backends read the GenAI semantic conventions; OpenInference-based tools read
``openinference.span.kind`` and ``input.value``/``output.value``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry.instrumentation.dynamiq._settings import CaptureSettings

from otel_dynamiq import attributes as dq

AttributeValue = str | bool | int | float | tuple[str, ...]
Encoder = Callable[[Any], Any]
TRUNCATION_MARKER = "…[truncated by otel-dynamiq: {dropped} of {total} characters dropped]"

_CONTENT_METADATA_KEYS = ("tool_data",)
"""Metadata entries that are payloads, dropped when content capture is off."""


@dataclass(frozen=True)
class RunnableFacts:
    """What the instrumentation knows about a workflow, flow or node before it runs."""

    kind: str  # workflow, flow or node
    name: str
    group: str | None = None
    model: str | None = None
    provider: str | None = None


def split_model(model: str | None, provider: str | None) -> tuple[str | None, str | None]:
    """Dynamiq passes models as litellm names (``openai/gpt-4o-mini``): split off the provider."""
    if model and "/" in model:
        prefix, _, bare = model.partition("/")
        return bare, provider or prefix.lower()
    return model, provider


def span_name(facts: RunnableFacts) -> str:
    """GenAI-convention span names: ``{operation} {target}``; plain names for the rest."""
    if facts.kind == "workflow":
        return "invoke_workflow Workflow"
    if facts.kind == "flow":
        return "Flow"
    operation = dq.GEN_AI_OPERATION_BY_GROUP.get(facts.group or "")
    if operation in ("chat", "embeddings") and facts.model:
        return f"{operation} {facts.model}"
    if operation is not None:
        return f"{operation} {facts.name}"
    return facts.name


def start_attributes(facts: RunnableFacts) -> dict[str, AttributeValue] | None:
    """What a node's span says from its start: that an LLM node is a model call.

    Spans started inside it (the LLM client's, traced by another instrumentation)
    are then marked as describing the same call, and their usage is not counted twice.
    Embedder nodes are not marked so: Dynamiq's embedder runs carry no usage, so the
    client's span under one is the only run that can count its tokens.
    """
    operation = dq.GEN_AI_OPERATION_BY_GROUP.get(facts.group or "") if facts.kind == "node" else None
    if operation == "chat":
        return {"gen_ai.operation.name": operation}
    return None


def enum_value(value: Any) -> str | None:
    """Dynamiq's run types and statuses are ``str`` enums; ``str()`` of one is its class-qualified name."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def encode_json(value: Any, encoder: Encoder | None = None) -> str:
    """JSON text the way Dynamiq's own client encodes runs; text that JSON cannot hold is stringified."""
    try:
        return orjson.dumps(value, default=encoder, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return orjson.dumps(str(value)).decode()


def cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + TRUNCATION_MARKER.format(dropped=len(text) - limit, total=len(text))


def capped_json(value: Any, limit: int, encoder: Encoder | None = None) -> str:
    """JSON text of at most about ``limit`` characters, and always valid JSON.

    A value too long is cut as text, marked, and carried as a JSON string, so
    whoever reads the attribute can always parse it.
    """
    text = encode_json(value, encoder)
    if len(text) <= limit:
        return text
    return orjson.dumps(cap(text, limit)).decode()


def _without_content(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata minus prompts and tool payloads; structure, usage, status data stay."""
    kept = {key: value for key, value in metadata.items() if key not in _CONTENT_METADATA_KEYS}
    node = kept.get("node")
    if isinstance(node, dict) and "prompt" in node:
        kept["node"] = {key: value for key, value in node.items() if key != "prompt"}
    return kept


def _without_payload(execution: Any) -> Any:
    """An execution attempt without its input and output (a dataclass or a mapping)."""
    if dataclasses.is_dataclass(execution) and not isinstance(execution, type):
        return dataclasses.replace(execution, input=None, output=None)
    return {**execution, "input": None, "output": None}


def _usage(run: Mapping[str, Any] | None) -> Mapping[str, Any]:
    metadata = (run or {}).get("metadata") or {}
    usage = metadata.get("usage") if isinstance(metadata, dict) else None
    return usage if isinstance(usage, dict) else {}


def span_attributes(
    facts: RunnableFacts,
    run: Mapping[str, Any] | None,
    settings: CaptureSettings,
    encoder: Encoder | None = None,
) -> dict[str, AttributeValue]:
    """Everything the span says: the conventions, and the run itself when Dynamiq built one.

    ``run`` maps the native run's field names to their values (not copied:
    encoding reads them in place). Input and output are encoded once and
    shared by the Dynamiq and OpenInference attributes.
    """
    attributes = convention_attributes(facts, run)
    if run is None:
        return attributes
    limit = settings.max_content_length
    attributes[dq.RUN_TYPE] = enum_value(run.get("type")) or "node"
    attributes[dq.RUN_ID] = str(run.get("id"))
    attributes[dq.RUN_NAME] = str(run.get("name") or "")
    status = enum_value(run.get("status"))
    if status is not None:
        attributes[dq.RUN_STATUS] = status
    metadata = run.get("metadata") or {}
    executions = run.get("executions") or []
    if settings.capture_content:
        input_json = capped_json(run.get("input"), limit, encoder)
        output_json = capped_json(run.get("output"), limit, encoder)
        attributes[dq.RUN_INPUT] = attributes["input.value"] = input_json
        attributes[dq.RUN_OUTPUT] = attributes["output.value"] = output_json
        attributes["input.mime_type"] = attributes["output.mime_type"] = "application/json"
    else:
        metadata = _without_content(metadata)
        executions = [_without_payload(execution) for execution in executions]
    attributes[dq.RUN_METADATA] = capped_json(metadata, limit, encoder)
    if run.get("error") is not None:
        attributes[dq.RUN_ERROR] = capped_json(run["error"], limit, encoder)
    attributes[dq.RUN_EXECUTIONS] = capped_json(executions, limit, encoder)
    tags = run.get("tags") or []
    if tags:
        attributes[dq.RUN_TAGS] = tuple(str(tag) for tag in tags)
    return attributes


def convention_attributes(facts: RunnableFacts, run: Mapping[str, Any] | None) -> dict[str, AttributeValue]:
    """GenAI and OpenInference attributes, for every backend that is not Dynamiq."""
    attributes: dict[str, AttributeValue] = {}
    if facts.kind == "workflow":
        attributes["gen_ai.operation.name"] = "invoke_workflow"
        attributes["gen_ai.workflow.name"] = facts.name
        attributes["openinference.span.kind"] = "CHAIN"
    elif facts.kind == "flow":
        attributes["openinference.span.kind"] = "CHAIN"
    else:
        operation = dq.GEN_AI_OPERATION_BY_GROUP.get(facts.group or "")
        if operation is not None:
            attributes["gen_ai.operation.name"] = operation
        attributes["openinference.span.kind"] = dq.OPENINFERENCE_KIND_BY_GROUP.get(facts.group or "", "CHAIN")
        if facts.group == dq.GROUP_AGENTS:
            attributes["gen_ai.agent.name"] = facts.name
        if facts.group == dq.GROUP_TOOLS:
            attributes["gen_ai.tool.name"] = facts.name
        if facts.model:
            attributes["gen_ai.request.model"] = facts.model
        if facts.provider:
            attributes["gen_ai.provider.name"] = facts.provider
    usage = _usage(run)
    for source, target in (
        ("prompt_tokens", "gen_ai.usage.input_tokens"),
        ("completion_tokens", "gen_ai.usage.output_tokens"),
    ):
        value = usage.get(source)
        if isinstance(value, int) and not isinstance(value, bool):
            attributes[target] = value
    return attributes
