"""Turn one finished OpenTelemetry span into one Dynamiq run.

Pure functions, no I/O: the exporter calls them on its worker thread and the
tests call them directly. A span written by the Dynamiq instrumentation
(it carries ``dynamiq.run.type``) becomes exactly the run its attributes
describe; any other span becomes a ``node`` run built from the OpenTelemetry,
GenAI and OpenInference conventions, so spans from openai, litellm or
langchain instrumentations show up in Dynamiq with their inputs and usage.
"""

from __future__ import annotations

import functools
import hashlib
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind, StatusCode

from otel_dynamiq import attributes as attr
from otel_dynamiq._redact import MASK, Redactor

JsonValue = Any
Run = dict[str, Any]

_RUN_ID_NAMESPACE = uuid.UUID("5b0f8a8e-2f53-4c57-9d8e-6f2c5d1e7a10")
"""Fixed forever: changing it would change every run id already sent."""
_NAMESPACE_BYTES = _RUN_ID_NAMESPACE.bytes
_EXCEPTION_EVENT = "exception"
_ERROR_TYPE = "error.type"
_INVALID_ATTRIBUTES_KEY = "invalid_attributes"


@dataclass(frozen=True)
class RunDefaults:
    """Values a span does not carry, and the exporter's redaction, fixed once per exporter."""

    source_id: str
    session_id: str
    redactor: Redactor | None = None


def _uuid_text(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"


@functools.lru_cache(maxsize=1024)
def trace_uuid(trace_id: int) -> str:
    """The OpenTelemetry trace id is 128 bits: it is a UUID already (remembered: a batch shares few traces)."""
    return _uuid_text(f"{trace_id:032x}")


@functools.lru_cache(maxsize=16_384)
def run_uuid(trace_id: int, span_id: int) -> str:
    """A run id that any process can compute from the span's identity alone.

    Because it is derived rather than remembered, a child exported in an
    earlier batch than its parent still names the parent's id correctly. The
    value is ``uuid5(namespace, trace hex + span hex)``, computed without
    building ``UUID`` objects because the exporter makes two per span, and
    remembered because a span's own id is usually some other span's parent id.
    """
    name = _NAMESPACE_BYTES + f"{trace_id:032x}{span_id:016x}".encode()
    digest = bytearray(hashlib.sha1(name, usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    return _uuid_text(digest.hex())


@functools.lru_cache(maxsize=4096)
def _second_text(epoch_seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_seconds))


def iso_time(epoch_nanos: int | None) -> str | None:
    """ISO 8601 with a UTC offset, to the microsecond, as the service expects.

    Spans of a batch share their seconds, so the formatted second is cached.
    """
    if epoch_nanos is None:
        return None
    seconds, micros = divmod(epoch_nanos // 1000, 1_000_000)
    return f"{_second_text(seconds)}.{micros:06d}+00:00"


def _plain(value: Any) -> JsonValue:
    """Attribute values are primitives or tuples of them; JSON wants lists."""
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return value


_SPAN_KIND_NAMES = {kind: kind.name for kind in SpanKind}
"""``SpanKind.name`` is a descriptor call per span; the exporter reads it for every span."""


def _parse_json(text: Any, redactor: Redactor | None = None) -> tuple[bool, JsonValue]:
    """Parse JSON text, masking secrets; on failure report it, so the caller can keep the text."""
    if not isinstance(text, str):
        return True, _plain(text)
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False, text
    return True, redactor.redact(parsed) if redactor is not None else parsed


def _token_count(attributes: dict[str, Any], *names: str) -> int | None:
    for name in names:
        value = attributes.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            for consumed in names:
                attributes.pop(consumed, None)
            return value
    return None


def _status(span: ReadableSpan) -> str:
    return "failed" if span.status.status_code is StatusCode.ERROR else "succeeded"


def _exception_error(span: ReadableSpan) -> dict[str, Any]:
    """The last recorded exception says why the span failed; the status description is the fallback."""
    for event in reversed(span.events):
        if event.name == _EXCEPTION_EVENT:
            event_attributes = event.attributes or {}
            return {
                "message": str(event_attributes.get("exception.message", "") or span.status.description or ""),
                "type": event_attributes.get("exception.type") or _error_type(span),
                "traceback": event_attributes.get("exception.stacktrace"),
            }
    # No exception event: instrumentations that only mark the span (HTTP 500 answers) still say what kind.
    error_type = _error_type(span)
    return {"message": span.status.description or error_type or "", "type": error_type, "traceback": None}


def _error_type(span: ReadableSpan) -> str | None:
    value = (span.attributes or {}).get(_ERROR_TYPE)
    return str(value) if value is not None and value != "" else None


def _session_id(attributes: Mapping[str, Any], defaults: RunDefaults) -> str:
    for name in (attr.SESSION_ID, attr.OPENINFERENCE_SESSION_ID, attr.GEN_AI_CONVERSATION_ID):
        value = attributes.get(name)
        if value is not None and value != "":
            return str(value)
    return defaults.session_id


def _parent_run_id(span: ReadableSpan) -> str | None:
    """A local parent links by derived id; a remote parent (another process) starts a new tree.

    The remote caller may not export to Dynamiq at all, and a run whose parent
    never arrives is hidden in the Dynamiq UI. Its span id stays in
    ``metadata.otel.remote_parent_span_id``.
    """
    parent = span.parent
    if parent is None or parent.is_remote:
        return None
    return run_uuid(span.context.trace_id, parent.span_id)


def _base_run(span: ReadableSpan, defaults: RunDefaults, session_id: str) -> Run:
    context = span.context
    return {
        "id": run_uuid(context.trace_id, context.span_id),
        "name": span.name,
        "type": "node",
        "trace_id": trace_uuid(context.trace_id),
        "source_id": defaults.source_id,
        "session_id": session_id,
        "start_time": iso_time(span.start_time),
        "end_time": iso_time(span.end_time),
        "parent_run_id": _parent_run_id(span),
        "status": _status(span),
        "input": None,
        "output": None,
        "metadata": {},
        "error": None,
        "executions": [],
        "tags": [],
    }


def span_to_run(span: ReadableSpan, defaults: RunDefaults) -> Run:
    """The run Dynamiq should show for this span, with secrets masked as it is built."""
    # One copy up front: every lookup on the SDK's read-only view is a Python call,
    # and a missing key raises inside it; a plain dict makes the dozen lookups cheap.
    attributes = dict(span.attributes or ())
    if attr.RUN_TYPE in attributes:
        return _dynamiq_run(span, attributes, defaults)
    return _generic_run(span, attributes, defaults)


def _dynamiq_run(span: ReadableSpan, attributes: Mapping[str, Any], defaults: RunDefaults) -> Run:
    run = _base_run(span, defaults, _session_id(attributes, defaults))
    invalid: dict[str, str] = {}

    run_type = attributes.get(attr.RUN_TYPE)
    run["type"] = run_type if run_type in attr.RUN_TYPES else "node"
    if attributes.get(attr.RUN_NAME):
        run["name"] = str(attributes[attr.RUN_NAME])
    status = attributes.get(attr.RUN_STATUS)
    if status in attr.RUN_STATUSES:
        run["status"] = status

    redactor = defaults.redactor
    for name, field in ((attr.RUN_INPUT, "input"), (attr.RUN_OUTPUT, "output")):
        if name in attributes:
            # Text that is not JSON is still the user's data: keep it as a string.
            _, run[field] = _parse_json(attributes[name], redactor)

    if attr.RUN_METADATA in attributes:
        ok, metadata = _parse_json(attributes[attr.RUN_METADATA], redactor)
        if ok and isinstance(metadata, dict):
            run["metadata"] = metadata
        else:
            invalid[attr.RUN_METADATA] = str(attributes[attr.RUN_METADATA])

    if attr.RUN_ERROR in attributes:
        ok, error = _parse_json(attributes[attr.RUN_ERROR])
        run["error"] = error if ok and isinstance(error, dict) else {"message": str(attributes[attr.RUN_ERROR])}
    elif run["status"] == "failed":
        run["error"] = _exception_error(span)

    if attr.RUN_EXECUTIONS in attributes:
        ok, executions = _parse_json(attributes[attr.RUN_EXECUTIONS], redactor)
        if ok and isinstance(executions, list) and all(isinstance(item, dict) for item in executions):
            run["executions"] = executions
        else:
            invalid[attr.RUN_EXECUTIONS] = str(attributes[attr.RUN_EXECUTIONS])

    tags = attributes.get(attr.RUN_TAGS)
    if isinstance(tags, (tuple, list)):
        run["tags"] = [str(tag) for tag in tags]
    elif isinstance(tags, str):
        run["tags"] = [tags]

    if invalid:
        run["metadata"][_INVALID_ATTRIBUTES_KEY] = invalid
    return run


def _io_value(
    attributes: dict[str, Any], value_key: str, mime_key: str, messages_key: str, redactor: Redactor | None
) -> JsonValue:
    """OpenInference's ``*.value`` (JSON when its mime type says so), else GenAI messages."""
    if value_key in attributes:
        value = attributes.pop(value_key)
        mime = attributes.pop(mime_key, None)
        if mime == "application/json":
            _, parsed = _parse_json(value, redactor)
            return parsed
        return _plain(value)
    if messages_key in attributes:
        _, parsed = _parse_json(attributes.pop(messages_key), redactor)
        return parsed
    return None


def _is_llm_span(attributes: Mapping[str, Any]) -> bool:
    return any(key.startswith(attr.GEN_AI_PREFIX) for key in attributes) or (
        attributes.get("openinference.span.kind") == "LLM"
    )


def _llm_node(span: ReadableSpan, attributes: dict[str, Any]) -> dict[str, Any]:
    model = next(
        (
            attributes.pop(key)
            for key in (attr.GEN_AI_REQUEST_MODEL, attr.GEN_AI_RESPONSE_MODEL, "llm.model_name")
            if key in attributes
        ),
        None,
    )
    provider = next(
        (
            attributes.pop(key)
            for key in (attr.GEN_AI_PROVIDER_NAME, attr.GEN_AI_SYSTEM, "llm.provider", "llm.system")
            if key in attributes
        ),
        None,
    )
    return {"name": span.name, "group": "llms", "model": model, "provider": provider}


def _usage(attributes: dict[str, Any]) -> dict[str, int] | None:
    prompt = _token_count(
        attributes, attr.GEN_AI_INPUT_TOKENS, attr.GEN_AI_PROMPT_TOKENS, attr.OPENINFERENCE_PROMPT_TOKENS
    )
    completion = _token_count(
        attributes, attr.GEN_AI_OUTPUT_TOKENS, attr.GEN_AI_COMPLETION_TOKENS, attr.OPENINFERENCE_COMPLETION_TOKENS
    )
    total = _token_count(attributes, attr.OPENINFERENCE_TOTAL_TOKENS)
    if prompt is None and completion is None and total is None:
        return None
    if total is None:
        total = (prompt or 0) + (completion or 0)
    return {"prompt_tokens": prompt or 0, "completion_tokens": completion or 0, "total_tokens": total}


def _otel_metadata(span: ReadableSpan, remaining: Mapping[str, Any], redactor: Redactor | None) -> dict[str, Any]:
    """Everything OpenTelemetry knew that has no Dynamiq field, so nothing is lost."""
    context = span.context
    events, links = span.events, span.links
    otel: dict[str, Any] = {
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "kind": _SPAN_KIND_NAMES.get(span.kind, "INTERNAL"),
        "attributes": _plain_map(remaining, redactor),
        "events": [
            {
                "name": event.name,
                "timestamp": iso_time(event.timestamp),
                "attributes": _plain_map(event.attributes, redactor),
            }
            for event in events
        ]
        if events
        else [],
        "links": [
            {
                "trace_id": f"{link.context.trace_id:032x}",
                "span_id": f"{link.context.span_id:016x}",
                "attributes": _plain_map(link.attributes, redactor),
            }
            for link in links
        ]
        if links
        else [],
        "scope": _scope(span.instrumentation_scope),
        "resource": _service_attributes(span.resource),
    }
    if span.parent is not None and span.parent.is_remote:
        otel["remote_parent_span_id"] = f"{span.parent.span_id:016x}"
    return otel


_last_resource: tuple[Resource | None, dict[str, JsonValue]] = (None, {})
_last_scope: tuple[InstrumentationScope | None, dict[str, JsonValue] | None] = (None, None)


def _scope(scope: InstrumentationScope | None) -> dict[str, JsonValue] | None:
    """The instrumentation's name and version; consecutive spans mostly share one scope object."""
    global _last_scope
    remembered, described = _last_scope
    if scope is remembered:
        return described
    described = {"name": scope.name, "version": scope.version} if scope is not None else None
    _last_scope = (scope, described)
    return described


def _service_attributes(resource: Resource | None) -> dict[str, JsonValue]:
    """The resource's ``service.*`` attributes; every span of a provider shares one resource, so remember it."""
    global _last_resource
    remembered, attributes = _last_resource
    if resource is remembered:
        return attributes
    everything = resource.attributes if resource is not None else {}
    attributes = {key: _plain(value) for key, value in everything.items() if key.startswith("service.")}
    _last_resource = (resource, attributes)
    return attributes


def _plain_map(values: Mapping[str, Any] | None, redactor: Redactor | None = None) -> dict[str, JsonValue]:
    """Attributes as JSON values; those under secret-looking keys masked."""
    if not values:
        return {}
    is_secret = redactor.is_secret if redactor is not None else _never_secret
    return {
        key: MASK if is_secret(key) else (_plain(value) if isinstance(value, (tuple, list)) else value)
        for key, value in values.items()
    }


def _never_secret(key: str) -> bool:
    return False


def _generic_run(span: ReadableSpan, attributes: dict[str, Any], defaults: RunDefaults) -> Run:
    run = _base_run(span, defaults, _session_id(attributes, defaults))
    for consumed in (attr.SESSION_ID, attr.OPENINFERENCE_SESSION_ID, attr.GEN_AI_CONVERSATION_ID):
        attributes.pop(consumed, None)

    is_llm = _is_llm_span(attributes)
    redactor = defaults.redactor
    run["input"] = _io_value(
        attributes, attr.OPENINFERENCE_INPUT, attr.OPENINFERENCE_INPUT_MIME, attr.GEN_AI_INPUT_MESSAGES, redactor
    )
    run["output"] = _io_value(
        attributes, attr.OPENINFERENCE_OUTPUT, attr.OPENINFERENCE_OUTPUT_MIME, attr.GEN_AI_OUTPUT_MESSAGES, redactor
    )
    # OpenInference repeats the messages flattened beside input.value/output.value: carry them once.
    for prefix, field in (("llm.input_messages.", "input"), ("llm.output_messages.", "output")):
        if run[field] is not None:
            for key in [key for key in attributes if key.startswith(prefix)]:
                del attributes[key]
    metadata: dict[str, Any] = {}
    if is_llm:
        metadata["node"] = _llm_node(span, attributes)
    usage = _usage(attributes)
    if usage is not None:
        metadata["usage"] = usage
    if run["status"] == "failed":
        run["error"] = _exception_error(span)
        if run["error"]["type"] is not None and run["error"]["type"] == _error_type(span):
            attributes.pop(_ERROR_TYPE, None)  # it is the run's error type now
    metadata["otel"] = _otel_metadata(span, attributes, redactor)
    run["metadata"] = metadata
    return run
