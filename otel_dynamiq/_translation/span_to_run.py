"""Turn one finished OpenTelemetry span into one Dynamiq run.

Pure functions, no I/O: the exporter calls them on its worker thread and the
tests call them directly. A span written by the Dynamiq instrumentation
(it carries ``dynamiq.run.type``) becomes exactly the run its attributes
describe; any other span becomes a ``node`` run built from the OpenTelemetry,
GenAI and OpenInference conventions, so spans from openai, litellm or
langchain instrumentations show up in Dynamiq with their inputs and usage.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeGuard

import orjson
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind, StatusCode

from otel_dynamiq import attributes as attr
from otel_dynamiq._translation import vercel_ai
from otel_dynamiq._translation.llm_content import ContentEvent, tool_answers_as_text
from otel_dynamiq._translation.media import DEFAULT_INLINE_LIMIT, limit_inline_media
from otel_dynamiq._translation.redaction import MASK, Redactor
from otel_dynamiq._translation.run_shapes import (
    INPUT_KEYS,
    OUTPUT_KEYS,
    is_model_call,
    is_usage_aggregate,
    node_group,
    shape_ai_run,
    take_value,
)

JsonValue = Any
Run = dict[str, Any]

_RUN_ID_NAMESPACE = uuid.UUID("5b0f8a8e-2f53-4c57-9d8e-6f2c5d1e7a10")
"""Fixed forever: changing it would change every run id already sent."""
_NAMESPACE_BYTES = _RUN_ID_NAMESPACE.bytes
_EXCEPTION_EVENT = "exception"
_ERROR_TYPE = "error.type"
_INVALID_ATTRIBUTES_KEY = "invalid_attributes"
_HTTP_STATUS_CODE = "http.response.status_code"
_OLD_HTTP_STATUS_CODE = "http.status_code"


class SharedDescriptions:
    """The last resource's ``service.*`` attributes and the last scope's name and version, made once for many runs.

    Every span of a provider shares one resource, and consecutive spans mostly one scope: their runs
    share one description of each (the same dict), until a span with another comes. Each slot is one
    tuple, replaced whole, so threads that translate at once read a pair that belongs together.
    """

    def __init__(self) -> None:
        self._resource: tuple[Resource | None, dict[str, JsonValue]] = (None, {})
        self._scope: tuple[InstrumentationScope | None, dict[str, JsonValue] | None] = (None, None)

    def scope(self, scope: InstrumentationScope | None) -> dict[str, JsonValue] | None:
        """The instrumentation's name and version."""
        remembered, described = self._scope
        if scope is remembered:
            return described
        described = {"name": scope.name, "version": scope.version} if scope is not None else None
        self._scope = (scope, described)
        return described

    def service_attributes(self, resource: Resource | None) -> dict[str, JsonValue]:
        """The resource's ``service.*`` attributes."""
        remembered, attributes = self._resource
        if resource is remembered:
            return attributes
        everything = resource.attributes if resource is not None else {}
        attributes = {key: _plain(value) for key, value in everything.items() if key.startswith("service.")}
        self._resource = (resource, attributes)
        return attributes


@dataclass(frozen=True)
class RunDefaults:
    """Values a span does not carry, the exporter's redaction, and what its runs share; one per exporter."""

    source_id: str
    session_id: str
    redactor: Redactor | None = None
    media_inline_bytes: int = DEFAULT_INLINE_LIMIT
    """Images, audio and files in messages larger than this are described, not carried."""
    descriptions: SharedDescriptions = dataclasses.field(default_factory=SharedDescriptions, compare=False, repr=False)
    """Resource and scope descriptions shared by the runs of one exporter (or of whoever made these defaults)."""


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


_SPAN_KIND_NAMES = MappingProxyType({kind: kind.name for kind in SpanKind})
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


MAX_TOKEN_COUNT = 2**53 - 1
"""The largest count every JSON reader holds exactly; a count above it, or below zero, is no count."""


def _is_count(value: Any) -> TypeGuard[int]:
    """A whole number of tokens every JSON reader holds exactly; a negative or huge one is no count."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKEN_COUNT


def _token_count(attributes: dict[str, Any], *names: str) -> int | None:
    """The first valid count under these names; the names are consumed only when one is valid.

    A negative or impossibly large count is left in ``metadata.otel`` instead:
    summed into a trace's usage it would lower the total or overflow it.
    """
    for name in names:
        value = attributes.get(name)
        if _is_count(value):
            for consumed in names:
                attributes.pop(consumed, None)
            return value
    return None


def _status(span: ReadableSpan) -> str:
    return "failed" if span.status.status_code is StatusCode.ERROR else "succeeded"


def _exception_error(span: ReadableSpan) -> tuple[dict[str, Any], Event | None]:
    """The last recorded exception says why the span failed; the status description is the fallback.

    Also returns the exception event it read, which then has nothing left to tell in ``metadata.otel``.
    """
    for event in reversed(span.events):
        if event.name == _EXCEPTION_EVENT:
            event_attributes = event.attributes or {}
            error = {
                "message": str(event_attributes.get("exception.message", "") or span.status.description or ""),
                "type": event_attributes.get("exception.type") or _error_type(span),
                "traceback": event_attributes.get("exception.stacktrace"),
            }
            return error, event
    # No exception event: instrumentations that only mark the span (HTTP 500 answers) still say what kind.
    attributes = span.attributes or {}
    status = attributes.get(_HTTP_STATUS_CODE, attributes.get(_OLD_HTTP_STATUS_CODE))
    # The HTTP conventions make the status code the error type when nothing else names it.
    error_type = _error_type(span) or (str(status) if status is not None else None)
    message = span.status.description or _http_failure(attributes, status) or error_type or ""
    return {"message": message, "type": error_type, "traceback": None}, None


def _http_failure(attributes: Mapping[str, Any], status: Any) -> str | None:
    """An HTTP client span fails on the status code alone; say so in words."""
    if status is None:
        return None
    method = attributes.get("http.request.method", attributes.get("http.method"))
    return f"{method} answered HTTP {status}" if method else f"answered HTTP {status}"


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


def span_to_run(
    span: ReadableSpan,
    defaults: RunDefaults,
    content_events: Sequence[ContentEvent] = (),
    counted_in_parent: bool = False,
    calls_below: bool = False,
) -> Run:
    """The run Dynamiq should show for this span, with secrets masked as it is built.

    ``content_events`` are the GenAI log events emitted inside the span (prompts and
    completions of instrumentations that log content rather than attach it).
    ``counted_in_parent`` says the span was started inside a span of the same model
    call (``NestedCallMarker`` saw it), when its attribute saying so was evicted; ``calls_below``, that
    a model call ended under it, when the span was too full for the attribute or it was evicted.
    """
    # One copy up front: every lookup on the SDK's read-only view is a Python call,
    # and a missing key raises inside it; a plain dict makes the dozen lookups cheap.
    attributes = dict(span.attributes or ())
    if attr.RUN_TYPE in attributes:
        return _dynamiq_run(span, attributes, defaults)
    return _generic_run(span, attributes, defaults, content_events, counted_in_parent, calls_below)


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
        run["error"], _ = _exception_error(span)

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


def _usage(attributes: dict[str, Any]) -> dict[str, int] | None:
    """Dynamiq's usage fields (``BaseLLMUsageData``) from the GenAI, OpenInference and OpenLLMetry names."""
    prompt = _token_count(
        attributes, attr.GEN_AI_INPUT_TOKENS, attr.GEN_AI_PROMPT_TOKENS, attr.OPENINFERENCE_PROMPT_TOKENS
    )
    completion = _token_count(
        attributes, attr.GEN_AI_OUTPUT_TOKENS, attr.GEN_AI_COMPLETION_TOKENS, attr.OPENINFERENCE_COMPLETION_TOKENS
    )
    total = _token_count(attributes, attr.OPENINFERENCE_TOTAL_TOKENS, attr.GEN_AI_TOTAL_TOKENS, _LLM_TOTAL_TOKENS)
    if prompt is None and completion is None and total is None:
        return None
    if total is None:
        total = min((prompt or 0) + (completion or 0), MAX_TOKEN_COUNT)
    usage = {"prompt_tokens": prompt or 0, "completion_tokens": completion or 0, "total_tokens": total}
    if _DETAIL_NAMES.isdisjoint(attributes):
        return usage  # most calls report no cache or reasoning counts: one pass over the names, not 18 lookups
    details: dict[str, int] | None = None  # LiteLLM's usage object, parsed only when a name gives no count
    for field, names, detail in _USAGE_DETAILS:
        count = _token_count(attributes, *names)
        if count is None:
            details = _usage_object_details(attributes) if details is None else details
            count = details.get(detail)
        if count is not None:
            usage[field] = count
    return usage


_LLM_TOTAL_TOKENS = "llm.usage.total_tokens"
"""OpenLLMetry 0.4x's total."""
_USAGE_DETAILS = (
    # (the usage field, its names newest first, its name in LiteLLM's usage object)
    (
        "cache_read_input_tokens",
        (
            attr.GEN_AI_CACHE_READ_TOKENS,
            "gen_ai.usage.cache_read_input_tokens",  # OpenLLMetry 0.4x
            "gen_ai.usage.input_tokens.cached",
            "llm.token_count.prompt_details.cache_read",  # OpenInference
            "gen_ai.usage.details.cache_read_tokens",  # pydantic-ai
        ),
        "cache_read_input_tokens",
    ),
    (
        "cache_creation_input_tokens",
        (
            attr.GEN_AI_CACHE_CREATION_TOKENS,
            "gen_ai.usage.cache_creation_input_tokens",
            "gen_ai.usage.cache_write.input_tokens",
            "gen_ai.usage.input_tokens.cache_write",
            "llm.token_count.prompt_details.cache_write",
            "gen_ai.usage.details.cache_write_tokens",
        ),
        "cache_creation_input_tokens",
    ),
    (
        "reasoning_output_tokens",
        (
            attr.GEN_AI_REASONING_TOKENS,
            "gen_ai.usage.reasoning_tokens",  # OpenLLMetry
            "llm.usage.reasoning_tokens",
            "gen_ai.usage.output_tokens.reasoning",
            "llm.token_count.completion_details.reasoning",
            "gen_ai.usage.details.reasoning_tokens",
        ),
        "reasoning_tokens",
    ),
)
_LITELLM_USAGE_OBJECT = "metadata.usage_object"
_DETAIL_NAMES = frozenset((_LITELLM_USAGE_OBJECT, *(name for _, names, _ in _USAGE_DETAILS for name in names)))
"""Every attribute a usage detail may come from: a span holding none of them has none to read."""
_MAX_USAGE_OBJECT_CHARS = 4096
"""A usage object is a few hundred characters; anything longer is not read as one (parsing costs time)."""


def _usage_object_details(attributes: Mapping[str, Any]) -> dict[str, int]:
    """The cache and reasoning counts LiteLLM's ``otel`` callback records only inside its usage object.

    It writes the object with ``str(dict)``, so it is read as a Python literal (never evaluated).
    The attribute itself stays in ``metadata.otel``: it holds more than these counts.
    """
    text = attributes.get(_LITELLM_USAGE_OBJECT)
    if not isinstance(text, str) or len(text) > _MAX_USAGE_OBJECT_CHARS:
        return {}
    usage = _literal(text)
    if not isinstance(usage, dict):
        return {}
    details: dict[str, int] = {}
    prompt_details = usage.get("prompt_tokens_details")
    prompt_details = prompt_details if isinstance(prompt_details, dict) else {}
    completion_details = usage.get("completion_tokens_details")
    completion_details = completion_details if isinstance(completion_details, dict) else {}
    candidates = {
        "cache_read_input_tokens": (usage.get("cache_read_input_tokens"), prompt_details.get("cached_tokens")),
        "cache_creation_input_tokens": (
            usage.get("cache_creation_input_tokens"),
            prompt_details.get("cache_creation_tokens"),
        ),
        "reasoning_tokens": (completion_details.get("reasoning_tokens"),),
    }
    for name, values in candidates.items():
        for value in values:  # the first one given, 0 included: a reported 0 is kept, as for the other names
            if _is_count(value):
                details[name] = value
                break
    return details


def _literal(text: str) -> Any:
    """JSON, else a Python literal (``str(dict)``); None when it is neither."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


_CHUNK_EVENT_SUFFIX = ".chunk"
"""OpenLLMetry records one span event per streamed chunk (``gen_ai.content.completion.chunk``)."""


def _otel_events(events: Sequence[Event], redactor: Redactor | None) -> list[dict[str, Any]]:
    """The span's events; per-chunk events of a stream as one, with their count: runs must not grow with answers."""
    shown: list[dict[str, Any]] = []
    chunks: dict[str, dict[str, Any]] = {}
    for event in events:
        name = event.name
        if name.endswith(_CHUNK_EVENT_SUFFIX):
            summary = chunks.get(name)
            if summary is not None:
                summary["attributes"]["count"] += 1
                summary["attributes"]["last_timestamp"] = iso_time(event.timestamp)
                continue
            summary = chunks[name] = {
                "name": name,
                "timestamp": iso_time(event.timestamp),
                "attributes": {"count": 1, "last_timestamp": iso_time(event.timestamp)},
            }
            shown.append(summary)
            continue
        shown.append(
            {"name": name, "timestamp": iso_time(event.timestamp), "attributes": _plain_map(event.attributes, redactor)}
        )
    return shown


def _otel_metadata(
    span: ReadableSpan,
    remaining: Mapping[str, Any],
    redactor: Redactor | None,
    used_events: set[int],
    descriptions: SharedDescriptions,
) -> dict[str, Any]:
    """Everything OpenTelemetry knew that has no Dynamiq field, so nothing is lost and nothing repeated."""
    context = span.context
    events, links = span.events, span.links
    if used_events:
        events = tuple(event for event in events if id(event) not in used_events)
    otel: dict[str, Any] = {
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "kind": _SPAN_KIND_NAMES.get(span.kind, "INTERNAL"),
        "attributes": _plain_map(remaining, redactor),
        "events": _otel_events(events, redactor) if events else [],
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
        "scope": descriptions.scope(span.instrumentation_scope),
        "resource": descriptions.service_attributes(span.resource),
    }
    if span.parent is not None and span.parent.is_remote:
        otel["remote_parent_span_id"] = f"{span.parent.span_id:016x}"
    return otel


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


def _generic_run(
    span: ReadableSpan,
    attributes: dict[str, Any],
    defaults: RunDefaults,
    content_events: Sequence[ContentEvent],
    counted_in_parent: bool,
    calls_below: bool = False,
) -> Run:
    """A run built by taking attributes out of ``attributes``, in an order that matters.

    Every step removes the attributes it used, because what is left at the
    end becomes ``metadata.otel``, and nothing should travel twice. So:
    1. the session ids; 2. the run's shape (``run_shapes.shape_ai_run``: it
    renames the Vercel AI SDK's keys to GenAI ones first, so the later steps
    read one vocabulary, then takes name, model, provider and content, via
    ``llm_content``), or the plain input and output; 3. usage, which must come
    after the renaming; 4. the nesting marker and the error type; 5. the rest,
    to ``metadata.otel``, last, so that it holds only what no step took.
    """
    run = _base_run(span, defaults, _session_id(attributes, defaults))
    for consumed in (attr.SESSION_ID, attr.OPENINFERENCE_SESSION_ID, attr.GEN_AI_CONVERSATION_ID):
        attributes.pop(consumed, None)

    redactor = defaults.redactor
    metadata: dict[str, Any] = {}
    used_events: set[int] = set()
    tools: Any = None
    group = node_group(attributes)
    model_call = is_model_call(attributes) or (vercel_ai.OPERATION_ID in attributes and group in ("llms", "embedders"))
    calls_below = attributes.pop(attr.USAGE_CALLS_BELOW, None) is True or calls_below
    aggregate = is_usage_aggregate(group, model_call, span.kind, calls_below)
    if group is not None:
        ai_run = shape_ai_run(span.name, group, attributes, span.events, content_events)
        run["input"], run["output"] = ai_run.input, ai_run.output
        if ai_run.user_metadata:  # as a Dynamiq handler's own metadata: beside node and usage
            metadata.update(redactor.redact(ai_run.user_metadata) if redactor is not None else ai_run.user_metadata)
        metadata["node"] = ai_run.node
        run["tags"] = ai_run.tags
        used_events = ai_run.used_events
        tools = ai_run.tools
        if group == "tools" and ai_run.node["name"] != span.name:
            run["name"] = ai_run.node["name"]  # a Dynamiq tool run is named for its tool
    else:
        for field, keys in (("input", INPUT_KEYS), ("output", OUTPUT_KEYS)):
            found, value = take_value(attributes, *keys)
            run[field] = _plain(value) if found else None
    if group is not None:
        run["input"] = limit_inline_media(run["input"], defaults.media_inline_bytes)
        run["output"] = limit_inline_media(run["output"], defaults.media_inline_bytes)
    if redactor is not None:
        run["input"], run["output"] = redactor.redact(run["input"]), redactor.redact(run["output"])
    if group is not None:
        redact = redactor.redact if redactor is not None else None
        run["input"] = tool_answers_as_text(run["input"], redact)
        run["output"] = tool_answers_as_text(run["output"], redact)
    if tools is not None and (run["input"] is None or isinstance(run["input"], dict)):
        # Added after masking: schemas name parameters (a "password" parameter), they hold no values.
        run["input"] = {**(run["input"] or {}), "tools": tools}
    usage = _usage(attributes)
    parent = span.parent
    marked = attributes.pop(attr.USAGE_COUNTED_IN_PARENT, False) is True or counted_in_parent
    counted_in = parent if marked else None
    if usage is not None and counted_in is None and not aggregate:
        metadata["usage"] = usage
    if run["status"] == "failed":
        run["error"], exception_event = _exception_error(span)
        if exception_event is not None:
            used_events.add(id(exception_event))
        if run["error"]["type"] is not None and run["error"]["type"] == _error_type(span):
            attributes.pop(_ERROR_TYPE, None)  # it is the run's error type now
    metadata["otel"] = _otel_metadata(span, attributes, redactor, used_events, defaults.descriptions)
    if usage is not None and counted_in is not None:
        # The same call's usage is on the run this span was started in: shown here, counted there.
        metadata["otel"]["usage"] = usage
        metadata["otel"]["usage_counted_in"] = run_uuid(span.context.trace_id, counted_in.span_id)
    elif usage is not None and aggregate:
        # An agent's, a chain's or a step's total of the model calls under it, each counted in its own run.
        metadata["otel"]["usage"] = usage
        metadata["otel"]["usage_aggregate"] = True
    run["metadata"] = metadata
    return run
