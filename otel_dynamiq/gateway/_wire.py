"""OTLP protobuf bytes to a request: counted before decoding, and one span's bad text refused alone. Pure.

Decoding is fast C, but it builds every message it meets, so a large body of
tiny messages is counted first, on the wire, without building anything.
Protobuf refuses a whole message when one string in it is not UTF-8; such a
body is decoded again with every string read as bytes, and each resource,
scope and span is checked alone, so one span's bad text costs only that span.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from otel_dynamiq._http_server.request_body import BodyError
from otel_dynamiq.gateway._limits import (
    MAX_MESSAGES,
    MAX_NESTING,
    MAX_SPANS,
    SCAN_ABOVE_BYTES,
    too_large,
)

_Schema = Mapping[int, Any]
"""Field number to the schema of the message it holds, for every message-typed field."""
_LENIENT_PREFIX = "lenient."
_WIRE_NESTING = 3 * MAX_NESTING + 12
"""A value nested MAX_NESTING deep is three messages a level, under the twelve of a span's own path."""


def parse_protobuf(body: bytes) -> tuple[ExportTraceServiceRequest, list[str]]:
    """The request and the reasons for the spans left out of it (text that is not UTF-8)."""
    counted = len(body) > SCAN_ABOVE_BYTES
    if counted:
        count_messages(body)
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError:
        if not counted:  # recovery is Python work per message: a small body of many messages is counted first
            count_messages(body)
        return _recover(body)
    return request, []


def count_messages(body: bytes, limit: int = MAX_MESSAGES) -> int:
    """Messages in ``body``, refusing past ``limit`` or too deep.

    Depth first, remembering only where to resume in each enclosing message, so counting costs no
    memory beyond the nesting. Stops at the first malformed field: the decoder then refuses the body
    in its own words. A group (wire types 3 and 4) is counted through, never a place to stop: the
    decoder skips it and decodes everything after it.
    """
    count = 0
    resume: list[tuple[int, int, _Schema]] = []  # where each enclosing message goes on
    position, end, fields = 0, len(body), _schema(ExportTraceServiceRequest.DESCRIPTOR)
    try:
        while True:
            while position < end:
                tag = body[position]  # one-byte varints inline: this loop runs once per field
                if tag < 0x80:
                    position += 1
                else:
                    tag, position = _varint(body, position)
                wire_type = tag & 7
                if wire_type == 2:
                    length = body[position]
                    if length < 0x80:
                        position += 1
                    else:
                        length, position = _varint(body, position)
                    inner = fields.get(tag >> 3)
                    if inner is None:
                        position += length
                        continue
                    count += 1
                    if count > limit:
                        raise too_large(f"body holds over {limit} protobuf messages")
                    if len(resume) >= _WIRE_NESTING:
                        raise BodyError(HTTPStatus.BAD_REQUEST, f"values nested over {MAX_NESTING} deep")
                    resume.append((position + length, end, fields))
                    end, fields = min(position + length, end), inner
                elif wire_type == 0:
                    _, position = _varint(body, position)
                elif wire_type == 1:
                    position += 8
                elif wire_type == 5:
                    position += 4
                elif wire_type > 4:  # no such wire type: the decoder refuses the body in its own words
                    break
                # 3 and 4 open and close a group (OTLP has none): its fields are counted as the enclosing
                # message's, so the messages after it are counted too; the decoder would skip it whole.
            if not resume:
                return count
            position, end, fields = resume.pop()
    except IndexError:  # truncated: the decoder refuses it with its own words
        return count


def _varint(data: bytes, position: int) -> tuple[int, int]:
    byte = data[position]
    if byte < 0x80:
        return byte, position + 1
    value, shift = byte & 0x7F, 7
    while True:
        position += 1
        byte = data[position]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position + 1
        shift += 7
        if shift > 63:
            raise IndexError("varint too long")


_SCHEMAS: dict[str, dict[int, Any]] = {}


def _schema(descriptor: Descriptor) -> _Schema:
    """AnyValue holds KeyValueList holds AnyValue: a schema is registered before it is filled, so it can hold itself."""
    schema = _SCHEMAS.get(descriptor.full_name)
    if schema is None:
        schema = _SCHEMAS[descriptor.full_name] = {}
        for field in descriptor.fields:
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                schema[field.number] = _schema(field.message_type)
    return schema


def _recover(body: bytes) -> tuple[ExportTraceServiceRequest, list[str]]:
    """Decode with strings as bytes, and keep every resource, scope and span whose text is valid."""
    try:
        lenient: Any = _lenient_request_class().FromString(body)
    except DecodeError as exc:
        raise BodyError(HTTPStatus.BAD_REQUEST, f"body is not an OTLP protobuf trace request: {exc}") from None
    _check_recovery_counts(lenient)
    request = ExportTraceServiceRequest()
    problems: list[str] = []
    for resource_spans in lenient.resource_spans:
        target = _strict_shell(resource_spans, ResourceSpans, "scope_spans")
        if target is None:
            problems.extend(
                f"span {_name(span)}: its resource's text is not valid UTF-8"
                for scope_spans in resource_spans.scope_spans
                for span in scope_spans.spans
            )
            continue
        for scope_spans in resource_spans.scope_spans:
            scope_target = _strict_shell(scope_spans, ScopeSpans, "spans")
            if scope_target is None:
                why = "its scope's text is not valid UTF-8"
                problems.extend(f"span {_name(span)}: {why}" for span in scope_spans.spans)
                continue
            for span in scope_spans.spans:
                try:
                    scope_target.spans.append(Span.FromString(span.SerializeToString()))
                except DecodeError:
                    problems.append(f"span {_name(span)}: text is not valid UTF-8")
            target.scope_spans.append(scope_target)
        request.resource_spans.append(target)
    return request, problems


def _check_recovery_counts(lenient: Any) -> None:
    """Each resource, scope and span is checked alone in Python: at most ``MAX_SPANS`` of each, as decoding allows."""
    groups = spans = 0
    for resource_spans in lenient.resource_spans:
        groups += 1 + len(resource_spans.scope_spans)
        spans += sum(len(scope_spans.spans) for scope_spans in resource_spans.scope_spans)
        if groups > 2 * MAX_SPANS or spans > MAX_SPANS:
            raise too_large(f"over {MAX_SPANS} spans, resourceSpans or scopeSpans in one request")


def _strict_shell(lenient: Any, kind: type[Message], children: str) -> Any:
    """The message without its children, decoded strictly; None when its own text is not UTF-8."""
    shell = type(lenient)()
    shell.CopyFrom(lenient)
    shell.ClearField(children)
    try:
        return kind.FromString(shell.SerializeToString())
    except DecodeError:
        return None


def _name(span: Any) -> str:
    return repr(bytes(span.name)[:60].decode("utf-8", "replace"))


@functools.cache
def _lenient_request_class() -> type[Message]:
    """The OTLP trace schema again, under another package, with every ``string`` field read as ``bytes``."""
    pool = descriptor_pool.DescriptorPool()
    for module in (common_pb2, resource_pb2, trace_pb2, trace_service_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        dependencies = [_LENIENT_PREFIX + name for name in proto.dependency]
        del proto.dependency[:]
        proto.dependency.extend(dependencies)
        proto.name = _LENIENT_PREFIX + proto.name
        proto.package = _LENIENT_PREFIX + proto.package
        del proto.service[:]
        _as_bytes(proto.message_type)
        pool.Add(proto)
    name = _LENIENT_PREFIX + ExportTraceServiceRequest.DESCRIPTOR.full_name
    lenient: type[Message] = message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
    return lenient


def _as_bytes(messages: Any) -> None:
    for message in messages:
        for field in message.field:
            if field.type == descriptor_pb2.FieldDescriptorProto.TYPE_STRING:
                field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
            if field.type_name.startswith(".opentelemetry."):
                field.type_name = "." + _LENIENT_PREFIX + field.type_name[1:]
        _as_bytes(message.nested_type)
