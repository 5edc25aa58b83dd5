"""OTLP/JSON bytes to a request: a body of the wrong shape is a 400, a span of the wrong shape is refused alone. Pure.

The OTLP/JSON encoding is the protobuf JSON mapping with two exceptions: trace
and span ids are hex, not base64, and enums are integers. The mapping reads
lowerCamelCase and the proto's own snake_case names alike, and 64-bit
integers as strings or numbers; so does this. Each span is decoded on its
own, so one malformed id or mistyped field costs that span only.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_dynamiq._http_server.request_body import BodyError
from otel_dynamiq.gateway._json_values import json_values
from otel_dynamiq.gateway._limits import MAX_SPANS, MAX_VALUES, too_large

MAX_JSON_VALUES = 4 * MAX_VALUES
"""JSON values in one body (strings, numbers, objects, arrays, known fields or not), counted before parsing:
each costs memory whatever its size. An attribute is four (its object, key, value object and value)."""
_SPAN_IDS = (("traceId", "trace_id"), ("spanId", "span_id"), ("parentSpanId", "parent_span_id"))
_LINK_IDS = (("traceId", "trace_id"), ("spanId", "span_id"))
_PARSE_ERRORS = (json_format.ParseError, ValueError, TypeError, AttributeError, KeyError, RecursionError)


class _SpanRejected(Exception):
    """One span that cannot be decoded, and why."""


def parse_json(body: bytes) -> tuple[ExportTraceServiceRequest, list[str]]:
    """The request and the reasons for the spans left out of it."""
    _count_values(body)
    try:
        document = _loads(body)
    except (ValueError, RecursionError) as exc:  # the standard library's reader recurses
        raise BodyError(HTTPStatus.BAD_REQUEST, f"body is not an OTLP JSON trace request: {exc}") from None
    request = ExportTraceServiceRequest()
    problems: list[str] = []
    spans = 0
    for resource_spans in _items(_shape_error, document, "resourceSpans", "resource_spans", "the body"):
        target = request.resource_spans.add()
        _parse_shell(resource_spans, ("scopeSpans", "scope_spans"), target, "a resourceSpans item")
        for scope_spans in _items(_shape_error, resource_spans, "scopeSpans", "scope_spans", "a resourceSpans item"):
            scope_target = target.scope_spans.add()
            _parse_shell(scope_spans, ("spans",), scope_target, "a scopeSpans item")
            for span in _items(_shape_error, scope_spans, "spans", "spans", "a scopeSpans item"):
                spans += 1
                if spans > MAX_SPANS:
                    raise too_large(f"over {MAX_SPANS} spans in one request")
                added = scope_target.spans.add()
                try:
                    _parse_span(span, added)
                except _SpanRejected as rejected:
                    del scope_target.spans[-1]
                    problems.append(str(rejected))
    return request, problems


def _loads(body: bytes) -> Any:
    """orjson refuses a lone surrogate (``"\\ud800"``) anywhere; the standard library reads it, and the one span
    holding it is then refused alone, as protobuf refuses to take such text."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "surrogate" not in str(exc):
            raise
        return json.loads(body)


def _count_values(body: bytes) -> None:
    if json_values(body, MAX_JSON_VALUES) > MAX_JSON_VALUES:
        raise too_large(f"body holds over {MAX_JSON_VALUES} JSON values")


def _shape_error(detail: str) -> BodyError:
    return BodyError(HTTPStatus.BAD_REQUEST, f"body is not an OTLP JSON trace request: {detail}")


def _items(error: Any, parent: Any, camel: str, snake: str, what: str) -> list[Any]:
    if not isinstance(parent, dict):
        raise error(f"{what} must be an object")
    value = parent.get(camel, parent.get(snake))
    if value is None:
        return []
    if not isinstance(value, list):
        raise error(f"{camel} of {what} must be an array")
    return value


def _parse_shell(item: dict[str, Any], children: Iterable[str], target: Message, what: str) -> None:
    """The resource or scope part of an item, without its children (they are decoded one by one)."""
    if not isinstance(item, dict):
        raise _shape_error(f"{what} must be an object")
    shell = {key: value for key, value in item.items() if key not in children}
    try:
        json_format.ParseDict(shell, target, ignore_unknown_fields=True)
    except _PARSE_ERRORS as exc:
        raise _shape_error(f"{what}: {str(exc)[:200]}") from None


def _parse_span(span: Any, target: Message) -> None:
    if not isinstance(span, dict):
        raise _SpanRejected(f"a span is {type(span).__name__}, not an object")
    name = span.get("name")
    label = repr(name[:60]) if isinstance(name, str) else "without a name"
    document = dict(span)
    _hex_ids(document, _SPAN_IDS, label)
    links = document.get("links")
    if isinstance(links, list):
        document["links"] = [
            _hex_ids(dict(link), _LINK_IDS, label) if isinstance(link, dict) else link for link in links
        ]
    try:
        json_format.ParseDict(document, target, ignore_unknown_fields=True)
    except _PARSE_ERRORS as exc:
        raise _SpanRejected(f"span {label}: {str(exc)[:200]}") from None


def _hex_ids(item: dict[str, Any], names: Iterable[tuple[str, str]], label: str) -> dict[str, Any]:
    """OTLP/JSON ids are hex; the protobuf mapping reads bytes as base64."""
    for camel, snake in names:
        for key in (camel, snake):
            value = item.get(key)
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                raise _SpanRejected(f"span {label}: {camel} must be a hex string")
            try:
                item[key] = base64.b64encode(bytes.fromhex(value)).decode()
            except (ValueError, binascii.Error):
                raise _SpanRejected(f"span {label}: {camel} {value[:40]!r} is not hex") from None
    return item
