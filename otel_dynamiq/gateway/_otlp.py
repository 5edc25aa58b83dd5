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
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
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

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_KINDS = {1: SpanKind.INTERNAL, 2: SpanKind.SERVER, 3: SpanKind.CLIENT, 4: SpanKind.PRODUCER, 5: SpanKind.CONSUMER}
_STATUS_CODES = {0: StatusCode.UNSET, 1: StatusCode.OK, 2: StatusCode.ERROR}
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200
"""OTLP span flags: whether the parent was in another process, when the sender knows."""


class OtlpError(Exception):
    """A request that cannot be taken, with the HTTP status to answer."""

    def __init__(self, status: HTTPStatus, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class Decoded:
    spans: list[ReadableSpan] = field(default_factory=list)
    rejected: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def error_message(self) -> str:
        return "; ".join(self.problems[:5])


def media_type(content_type: str | None) -> str:
    """``application/json; charset=utf-8`` is JSON; anything but the two OTLP types is refused."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind not in (PROTOBUF, JSON):
        raise OtlpError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"Content-Type must be {PROTOBUF} or {JSON}, got {kind[:60]!r}"
        )
    return kind


def parse_request(body: bytes, kind: str) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    if kind == PROTOBUF:
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            raise OtlpError(HTTPStatus.BAD_REQUEST, f"body is not an OTLP protobuf trace request: {exc}") from None
        return request
    try:
        document = orjson.loads(body)
        json_format.ParseDict(_ids_as_base64(document), request, ignore_unknown_fields=True)
    except (orjson.JSONDecodeError, json_format.ParseError, ValueError, TypeError, binascii.Error) as exc:
        raise OtlpError(HTTPStatus.BAD_REQUEST, f"body is not an OTLP JSON trace request: {exc}") from None
    return request


def _ids_as_base64(document: Any) -> Any:
    """OTLP/JSON writes trace and span ids as hex; the protobuf JSON mapping reads bytes as base64."""
    if not isinstance(document, dict):
        raise ValueError("the body must be a JSON object")
    for resource_spans in document.get("resourceSpans") or ():
        for scope_spans in resource_spans.get("scopeSpans") or ():
            for span in scope_spans.get("spans") or ():
                _hex_fields_to_base64(span, ("traceId", "spanId", "parentSpanId"))
                for link in span.get("links") or ():
                    _hex_fields_to_base64(link, ("traceId", "spanId"))
    return document


def _hex_fields_to_base64(item: dict[str, Any], names: Iterable[str]) -> None:
    for name in names:
        value = item.get(name)
        if isinstance(value, str) and value:
            item[name] = base64.b64encode(bytes.fromhex(value)).decode()


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


def spans_of(request: ExportTraceServiceRequest) -> Decoded:
    """Every span as an SDK span; one with an invalid id is rejected alone, the rest go on."""
    decoded = Decoded()
    for resource_spans in request.resource_spans:
        resource = Resource(_attributes(resource_spans.resource.attributes))
        for scope_spans in resource_spans.scope_spans:
            scope = InstrumentationScope(scope_spans.scope.name, scope_spans.scope.version or None)
            for span in scope_spans.spans:
                problem = _invalid(span)
                if problem:
                    decoded.rejected += 1
                    decoded.problems.append(problem)
                    continue
                decoded.spans.append(_span(span, resource, scope))
    return decoded


def _invalid(span: ProtoSpan) -> str | None:
    if len(span.trace_id) != 16 or not any(span.trace_id):
        return f"span {span.name[:60]!r}: trace_id must be 16 bytes, not all zero"
    if len(span.span_id) != 8 or not any(span.span_id):
        return f"span {span.name[:60]!r}: span_id must be 8 bytes, not all zero"
    if span.parent_span_id and len(span.parent_span_id) != 8:
        return f"span {span.name[:60]!r}: parent_span_id must be 8 bytes"
    return None


def _span(span: ProtoSpan, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    trace_id = int.from_bytes(span.trace_id, "big")
    parent = None
    if span.parent_span_id and any(span.parent_span_id):
        remote = bool(span.flags & _IS_REMOTE) if span.flags & _HAS_IS_REMOTE else False
        parent = SpanContext(trace_id, int.from_bytes(span.parent_span_id, "big"), is_remote=remote)
    status = span.status
    return ReadableSpan(
        name=span.name,
        context=SpanContext(trace_id, int.from_bytes(span.span_id, "big"), is_remote=False, trace_flags=_SAMPLED),
        parent=parent,
        resource=resource,
        attributes=_attributes(span.attributes),
        events=[Event(event.name, _attributes(event.attributes), event.time_unix_nano) for event in span.events],
        links=[_link(link) for link in span.links],
        kind=_KINDS.get(span.kind, SpanKind.INTERNAL),
        status=Status(_STATUS_CODES.get(status.code, StatusCode.UNSET), status.message or None),
        start_time=span.start_time_unix_nano or None,
        end_time=span.end_time_unix_nano or None,
        instrumentation_scope=scope,
    )


def _link(link: ProtoSpan.Link) -> Link:
    context = SpanContext(int.from_bytes(link.trace_id, "big"), int.from_bytes(link.span_id, "big"), is_remote=True)
    return Link(context, _attributes(link.attributes))


def _attributes(pairs: Sequence[KeyValue]) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _value(value: AnyValue) -> Any:
    """What an SDK attribute can hold; maps and mixed arrays travel as JSON text rather than being lost."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        items = [_value(item) for item in value.array_value.values]
        if all(isinstance(item, (str, bool, int, float)) for item in items) and len({type(i) for i in items}) <= 1:
            return tuple(items)
        return orjson.dumps(items, default=str).decode()
    if which == "kvlist_value":
        return orjson.dumps(_attributes(value.kvlist_value.values), default=str).decode()
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, which)
