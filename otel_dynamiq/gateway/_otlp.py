"""OTLP trace requests in, SDK spans out, and the OTLP answer back. Pure: no I/O.

The gateway hands the exporter the same ``ReadableSpan`` objects an
in-process SDK would, so a span sent over OTLP becomes exactly the run it
would have become inside the application: one translation, one transport, one
spool. Decoding uses the OpenTelemetry protobuf package (``opentelemetry-proto``);
the JSON form is the protobuf JSON mapping with OTLP's two exceptions (ids as
hex, not base64; enums as integers), as the OTLP specification defines it.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from otel_dynamiq import attributes as attr
from otel_dynamiq._http_server.request_body import BodyError
from otel_dynamiq.gateway._json import parse_json
from otel_dynamiq.gateway._json_values import json_values
from otel_dynamiq.gateway._limits import (
    MAX_ATTRIBUTES,
    MAX_EVENTS,
    MAX_IDENTIFYING_BYTES,
    MAX_NESTING,
    MAX_SPANS,
    MAX_TIME_UNIX_NANO,
    MAX_VALUES,
    too_large,
)
from otel_dynamiq.gateway._wire import parse_protobuf

__all__ = [
    "JSON",
    "PROTOBUF",
    "Decoded",
    "encode_response",
    "export_response",
    "parse_request",
    "spans_of",
]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_KINDS = {1: SpanKind.INTERNAL, 2: SpanKind.SERVER, 3: SpanKind.CLIENT, 4: SpanKind.PRODUCER, 5: SpanKind.CONSUMER}
_STATUS_CODES = {0: StatusCode.UNSET, 1: StatusCode.OK, 2: StatusCode.ERROR}
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200
"""OTLP span flags: whether the parent was in another process, when the sender knows."""
_IDENTIFYING_ATTRIBUTES = (attr.RUN_NAME, attr.SESSION_ID, attr.OPENINFERENCE_SESSION_ID, attr.GEN_AI_CONVERSATION_ID)
"""Attributes a run carries whole (its name, its session): the encoder cuts payloads, never these."""


@dataclass
class Decoded:
    spans: list[ReadableSpan] = field(default_factory=list)
    rejected: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def error_message(self) -> str:
        shown = "; ".join(self.problems[:5])
        more = len(self.problems) - 5
        return f"{shown}; and {more} more" if more > 0 else shown

    def reject(self, problem: str) -> None:
        self.rejected += 1
        self.problems.append(problem)


def media_type(content_type: str | None) -> str:
    """``application/json; charset=utf-8`` is JSON; anything but the two OTLP types is refused."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind not in (PROTOBUF, JSON):
        raise BodyError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"Content-Type must be {PROTOBUF} or {JSON}, got {kind[:60]!r}"
        )
    return kind


def parse_request(body: bytes, kind: str) -> tuple[ExportTraceServiceRequest, list[str]]:
    """The request, and why each span left out of it (one that could not be decoded alone) was refused."""
    return parse_protobuf(body) if kind == PROTOBUF else parse_json(body)


def export_response(decoded: Decoded) -> ExportTraceServiceResponse:
    """``partial_success`` only when something was rejected, as the specification asks."""
    response = ExportTraceServiceResponse()
    if decoded.rejected:
        response.partial_success.CopyFrom(
            ExportTracePartialSuccess(rejected_spans=decoded.rejected, error_message=decoded.error_message)
        )
    return response


def encode_response(decoded: Decoded, kind: str) -> bytes:
    """The export response in the request's own encoding."""
    response = export_response(decoded)
    if kind == JSON:
        return str(json_format.MessageToJson(response, indent=None)).encode()
    return bytes(response.SerializeToString())


def spans_of(request: ExportTraceServiceRequest, rejections: Sequence[str] = ()) -> Decoded:
    """Every span as an SDK span; one that cannot become a run is refused alone, and the rest go on.

    The counts are checked on the decoded message before any SDK object is built.
    """
    decoded = Decoded()
    for reason in rejections:
        decoded.reject(reason)
    _check_counts(request)
    values = _ValueBudget()
    seen: set[tuple[bytes, bytes]] = set()
    for resource_spans in request.resource_spans:
        resource = Resource(values.attributes(resource_spans.resource.attributes))
        for scope_spans in resource_spans.scope_spans:
            values.attributes(scope_spans.scope.attributes)
            scope = InstrumentationScope(scope_spans.scope.name, scope_spans.scope.version or None)
            for span in scope_spans.spans:
                problem = _invalid(span) or _duplicate(span, seen)
                if problem is not None:
                    decoded.reject(problem)
                    continue
                try:
                    decoded.spans.append(_span(span, resource, scope, values))
                except _TooLarge as exc:
                    decoded.reject(f"span {span.name[:60]!r}: {exc}")
    return decoded


def _check_counts(request: ExportTraceServiceRequest) -> None:
    """Spans and their groups per request, from lengths alone: nothing is built yet.

    What one span holds (attributes, events, links) is checked as that span is built.
    """
    spans = groups = 0
    _at_most(len(request.resource_spans), MAX_SPANS, "resourceSpans in one request")
    for resource_spans in request.resource_spans:
        groups += len(resource_spans.scope_spans)
        _at_most(groups, MAX_SPANS, "scopeSpans in one request")
        for scope_spans in resource_spans.scope_spans:
            spans += len(scope_spans.spans)
            _at_most(spans, MAX_SPANS, "spans in one request")


def _at_most(count: int, limit: int, what: str) -> None:
    if count > limit:
        raise too_large(f"over {limit} {what}")


def _invalid(span: ProtoSpan) -> str | None:
    if len(span.trace_id) != 16 or not any(span.trace_id):
        return f"span {span.name[:60]!r}: trace_id must be 16 bytes, not all zero"
    if len(span.span_id) != 8 or not any(span.span_id):
        return f"span {span.name[:60]!r}: span_id must be 8 bytes, not all zero"
    if span.parent_span_id and len(span.parent_span_id) != 8:
        return f"span {span.name[:60]!r}: parent_span_id must be 8 bytes"
    if not span.start_time_unix_nano or not span.end_time_unix_nano:
        return f"span {span.name[:60]!r}: start_time_unix_nano and end_time_unix_nano must be set, not 0"
    if max(span.start_time_unix_nano, span.end_time_unix_nano) > MAX_TIME_UNIX_NANO:
        return f"span {span.name[:60]!r}: a time after the year 2200 is not a real time"
    if len(span.name) > MAX_IDENTIFYING_BYTES:
        return f"span {span.name[:60]!r}: name over {MAX_IDENTIFYING_BYTES} characters (a run's name is never cut)"
    return None


def _duplicate(span: ProtoSpan, seen: set[tuple[bytes, bytes]]) -> str | None:
    """The same ids twice would become one run: the second would silently replace the first."""
    key = (span.trace_id, span.span_id)
    if key in seen:
        return f"span {span.name[:60]!r}: span_id {span.span_id.hex()} appears twice in this request"
    seen.add(key)
    return None


class _TooLarge(Exception):
    """A span whose run would carry a field that is never cut over the bound."""


def _span(span: ProtoSpan, resource: Resource, scope: InstrumentationScope, values: _ValueBudget) -> ReadableSpan:
    trace_id = int.from_bytes(span.trace_id, "big")
    parent = None
    if span.parent_span_id and any(span.parent_span_id):
        remote = bool(span.flags & _IS_REMOTE) if span.flags & _HAS_IS_REMOTE else False
        parent = SpanContext(trace_id, int.from_bytes(span.parent_span_id, "big"), is_remote=remote)
    status = span.status
    _at_most(len(span.events), MAX_EVENTS, "events on a span")
    _at_most(len(span.links), MAX_EVENTS, "links on a span")
    attributes = values.attributes(span.attributes)
    for name in _IDENTIFYING_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str) and len(value) > MAX_IDENTIFYING_BYTES:
            raise _TooLarge(f"attribute {name} over {MAX_IDENTIFYING_BYTES} characters (a run never cuts it)")
    for name in attr.JSON_ATTRIBUTES:  # translation parses their text: each value in it is built
        value = attributes.get(name)
        if isinstance(value, str):
            values.parsed_text(name, value)
    return ReadableSpan(
        name=span.name,
        context=SpanContext(trace_id, int.from_bytes(span.span_id, "big"), is_remote=False, trace_flags=_SAMPLED),
        parent=parent,
        resource=resource,
        attributes=attributes,
        events=[Event(event.name, values.attributes(event.attributes), event.time_unix_nano) for event in span.events],
        links=[_link(link, values) for link in span.links],
        kind=_KINDS.get(span.kind, SpanKind.INTERNAL),
        status=Status(_STATUS_CODES.get(status.code, StatusCode.UNSET), status.message or None),
        start_time=span.start_time_unix_nano,
        end_time=span.end_time_unix_nano,
        instrumentation_scope=scope,
    )


def _link(link: ProtoSpan.Link, values: _ValueBudget) -> Link:
    context = SpanContext(int.from_bytes(link.trace_id, "big"), int.from_bytes(link.span_id, "big"), is_remote=True)
    return Link(context, values.attributes(link.attributes))


class _ValueBudget:
    """Attribute values as SDK values, counted across the request, and nested no deeper than ``MAX_NESTING``.

    A map or mixed array travels as JSON text, written once for the whole
    value: text written at every level would be escaped again at each, and
    double in size per level.
    """

    def __init__(self) -> None:
        self.remaining = MAX_VALUES

    def _spend(self, count: int) -> None:
        self.remaining -= count
        if self.remaining < 0:
            raise too_large(f"over {MAX_VALUES} attribute values in one request")

    def attributes(self, pairs: Sequence[KeyValue]) -> dict[str, Any]:
        count = len(pairs)
        if not count:
            return {}
        if count > MAX_ATTRIBUTES:
            raise too_large(f"over {MAX_ATTRIBUTES} attributes on a span, event, link, resource or scope")
        self._spend(count)
        top = self._top
        return {pair.key: top(pair.value) for pair in pairs}

    def _top(self, value: AnyValue) -> Any:
        which = value.WhichOneof("value")
        if which is None:
            return None
        if which == "array_value":
            items = [self._nested(item, 1) for item in self._counted(value.array_value.values)]
            if all(isinstance(item, (str, bool, int, float)) for item in items) and len({type(i) for i in items}) <= 1:
                return tuple(items)
            return orjson.dumps(items, default=str).decode()
        if which == "kvlist_value":
            return orjson.dumps(self._map(value, 1), default=str).decode()
        if which == "bytes_value":
            return base64.b64encode(value.bytes_value).decode()
        return getattr(value, which)

    def parsed_text(self, name: str, text: str) -> None:
        """JSON text the run will parse counts its values; a span whose text would pass the budget is refused alone."""
        count = json_values(text, self.remaining)
        if count > self.remaining:
            raise _TooLarge(
                f"attribute {name} holds over {self.remaining} JSON values, more than is left of the request's"
                f" {MAX_VALUES}"
            )
        self._spend(count)

    def _counted(self, items: Sequence[Any]) -> Sequence[Any]:
        self._spend(len(items))
        return items

    def _map(self, value: AnyValue, level: int) -> dict[str, Any]:
        self._check_level(level)
        return {pair.key: self._nested(pair.value, level) for pair in self._counted(value.kvlist_value.values)}

    def _nested(self, value: AnyValue, level: int) -> Any:
        """Inside ``level`` maps or arrays: plain JSON values, serialized once by the caller."""
        which = value.WhichOneof("value")
        if which is None:
            return None
        if which == "array_value":
            self._check_level(level + 1)
            return [self._nested(item, level + 1) for item in self._counted(value.array_value.values)]
        if which == "kvlist_value":
            return self._map(value, level + 1)
        if which == "bytes_value":
            return base64.b64encode(value.bytes_value).decode()
        return getattr(value, which)

    @staticmethod
    def _check_level(level: int) -> None:
        if level > MAX_NESTING:
            raise BodyError(HTTPStatus.BAD_REQUEST, f"attribute values nested over {MAX_NESTING} deep")
