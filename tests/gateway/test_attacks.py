"""The gateway under attack: every request bounded before its work, one bad span refused alone, slow senders cut off.

Each test sends what an adversarial review sent to ``otel-dynamiq gateway`` and
checks the answer a sender sees and what reached the service behind it (the
local collector): a clear refusal with nothing stored, or every good span
stored and each bad one named in ``partial_success``.
"""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from otel_dynamiq import environment_variables as env
from otel_dynamiq._http_server.request_body import MAX_BODY_BYTES
from otel_dynamiq.collector import LocalCollector
from otel_dynamiq.gateway import Gateway
from otel_dynamiq.gateway._grpc import EXPORT_METHOD, GRPC_WORKERS
from otel_dynamiq.gateway._json import MAX_JSON_VALUES
from otel_dynamiq.gateway._limits import MAX_ATTRIBUTES, MAX_MESSAGES, MAX_SPANS, MAX_VALUES
from tests.support.common import wait_for_runs
from tests.support.servers import Recorded, Reply, ScriptedServer

# Not on the Python matrix: deadlines measured in seconds; the gateway's parsers run in tests/gateway/test_gateway.py.
pytestmark = pytest.mark.same_on_every_python

START = 1_764_316_800_000_000_000
TRACE = bytes.fromhex("5b8efff798038103d269b633813fc60c")


@pytest.fixture
def gateway(collector_behind: LocalCollector) -> Iterator[Gateway]:
    with Gateway(port=0, grpc_port=0, connection_timeout=5.0, request_timeout=1.0) as running:
        yield running


def span(name: str, number: int = 1, **fields: Any) -> Span:
    values = {"start_time_unix_nano": START, "end_time_unix_nano": START + 10**9, **fields}
    return Span(trace_id=TRACE, span_id=number.to_bytes(8, "big"), name=name, **values)


def request_of(*spans: Span) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    scope_spans = request.resource_spans.add().scope_spans.add()
    scope_spans.spans.extend(spans)
    return request


def post(gateway: Gateway, body: bytes, kind: str = "application/x-protobuf", **headers: str) -> httpx.Response:
    # A long client timeout: refusing a hostile body is quick alone, but not on a machine busy with other tests.
    return httpx.post(
        f"{gateway.http_url}/v1/traces", content=body, headers={"Content-Type": kind, **headers}, timeout=60
    )


def grpc_call(gateway: Gateway, body: bytes, **options: Any) -> ExportTraceServiceResponse:
    """One Export call with the message as raw bytes: what a sender with its own encoder could send."""
    with grpc.insecure_channel(f"127.0.0.1:{gateway.grpc_port}", **options) as channel:
        export = channel.unary_unary(EXPORT_METHOD, request_serializer=None, response_deserializer=None)
        answer = export(body, timeout=10)
    return ExportTraceServiceResponse.FromString(answer)


def stored_names(collector: LocalCollector) -> list[str]:
    return sorted(run["name"] for run in collector.store.runs())


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field, for what the protobuf library refuses to build."""
    header, length = bytearray([number << 3 | 2]), len(payload)
    while length >= 0x80:
        header.append(length & 0x7F | 0x80)
        length >>= 7
    return bytes(header) + bytes([length]) + payload


def nested_request(levels: int) -> bytes:
    """A span with one attribute whose value is a map in a map ... ``levels`` deep."""
    value = _field(1, b"leaf")  # AnyValue.string_value
    for level in range(levels):
        pair = _field(1, f"k{level}".encode()) + _field(2, value)  # KeyValue
        value = _field(6, _field(1, pair))  # AnyValue.kvlist_value of a KeyValueList
    span_bytes = span("deeper").SerializeToString() + _field(9, _field(1, b"deep") + _field(2, value))
    return _field(1, _field(2, _field(2, span_bytes)))


def nested_kvlist(levels: int) -> AnyValue:
    value = AnyValue(string_value="leaf")
    for level in range(levels):
        value = AnyValue(kvlist_value={"values": [KeyValue(key=f"k{level}", value=value)]})
    return value


# Bounds before work: a clear refusal, nothing stored.


def test_nested_maps_cost_their_size_not_twice_per_level(gateway: Gateway, collector_behind: LocalCollector) -> None:
    """Each level used to be escaped again inside the next: 24 levels of 321 bytes cost 401 MiB."""
    value = nested_kvlist(16)
    body = request_of(span("nested", attributes=[KeyValue(key="deep", value=value)])).SerializeToString()
    assert post(gateway, body).status_code == 200
    [run] = wait_for_runs(collector_behind, 1)
    text = run["metadata"]["otel"]["attributes"]["deep"]
    assert len(text) <= 6 * value.ByteSize() and "\\\\" not in text
    assert json.loads(text)["k15"]["k14"]["k13"] is not None  # one JSON document, not text inside text

    answer = post(gateway, nested_request(20))
    assert answer.status_code == 400 and b"nested over" in answer.content
    assert stored_names(collector_behind) == ["nested"]


@pytest.mark.parametrize(
    ("request_body", "says"),
    [
        (lambda: request_of(*(span(f"s{n}", n + 1) for n in range(MAX_SPANS + 1))), b"spans in one request"),
        (
            lambda: request_of(
                span(
                    "wide",
                    attributes=[KeyValue(key=f"a{n}", value=AnyValue(int_value=n)) for n in range(MAX_ATTRIBUTES + 1)],
                )
            ),
            b"attributes on a span",
        ),
        (lambda: ExportTraceServiceRequest.FromString(b"\x0a\x00" * (MAX_SPANS + 1)), b"resourceSpans"),
        # Above 4 MiB a body is counted before it is decoded: 3 MiB of an unknown field, then empty messages.
        (lambda: _field(15, b"x" * (3 << 20)) + b"\x0a\x00" * (MAX_MESSAGES + 1), b"protobuf messages"),
        # An empty group (wire types 3 and 4, field 99) the decoder skips must not stop the count.
        (
            lambda: b"\x9b\x06\x9c\x06" + _field(15, b"x" * (3 << 20)) + b"\x0a\x00" * (MAX_MESSAGES + 1),
            b"protobuf messages",
        ),
        # Under 4 MiB, but one string that is not UTF-8 sends it to the slow recovery: counted first.
        (lambda: b"\x0a\x07\x12\x05\x0a\x03\x0a\x01\xff" + b"\x0a\x00" * (MAX_MESSAGES + 1), b"protobuf messages"),
    ],
    ids=["spans", "attributes", "empty-resources", "messages", "after-a-group", "bad-text"],
)
def test_counts_are_bounded_on_both_protocols(
    gateway: Gateway, collector_behind: LocalCollector, request_body: Any, says: bytes
) -> None:
    made = request_body()
    body = made if isinstance(made, bytes) else made.SerializeToString()
    compressed = gzip.compress(body, compresslevel=1)
    answer = post(gateway, compressed, **{"Content-Encoding": "gzip"})
    assert answer.status_code == 413 and says in answer.content
    with pytest.raises(grpc.RpcError) as refused:
        grpc_call(gateway, body)
    assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED and says.decode() in str(refused.value.details())
    assert collector_behind.store.runs() == []


def test_grpc_takes_16_mib_as_http_does_and_inflates_within_the_bound(
    gateway: Gateway, collector_behind: LocalCollector
) -> None:
    big = request_of(span("big", attributes=[KeyValue(key="x", value=AnyValue(string_value="x" * MAX_BODY_BYTES))]))
    with pytest.raises(grpc.RpcError) as refused:
        grpc_call(gateway, big.SerializeToString())
    assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    with pytest.raises(grpc.RpcError) as bomb:  # 40 MiB of zeros, 40 KB compressed
        grpc_call(gateway, b"\0" * (40 * 1024 * 1024), compression=grpc.Compression.Gzip)
    assert bomb.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED and "inflates past" in str(bomb.value.details())
    assert collector_behind.store.runs() == []
    for number, compression in enumerate((grpc.Compression.Gzip, grpc.Compression.Deflate), start=1):
        grpc_call(gateway, request_of(span(compression.name, number)).SerializeToString(), compression=compression)
    assert stored_names(collector_behind) == ["Deflate", "Gzip"]


# One bad span never sinks the rest.


def _one_of_each_bad_span() -> tuple[bytes, list[str]]:
    spans = [
        span("good", 1),
        span("zero start", 2, start_time_unix_nano=0),
        span("year 2500", 3, end_time_unix_nano=16_725_225_600 * 10**9),
        span("good again", 1),  # the same ids as "good"
        span("BADTEXT!", 5),
        span("n" * (64 * 1024 + 1), 6),
        span("also good", 7),
    ]
    body = request_of(*spans).SerializeToString().replace(b"BADTEXT!", b"BAD\xff\xfeXT!")
    reasons = ["must be set, not 0", "after the year 2200", "appears twice", "not valid UTF-8", "name over"]
    return body, reasons


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_each_bad_span_is_refused_alone_and_the_rest_arrive(
    gateway: Gateway, collector_behind: LocalCollector, protocol: str
) -> None:
    body, reasons = _one_of_each_bad_span()
    if protocol == "http":
        answer = post(gateway, body)
        assert answer.status_code == 200
        response = ExportTraceServiceResponse.FromString(answer.content)
    else:
        response = grpc_call(gateway, body)
    assert response.partial_success.rejected_spans == 5
    for reason in reasons:
        assert reason in response.partial_success.error_message
    assert stored_names(collector_behind) == ["also good", "good"]


def test_otlp_json_takes_what_the_specification_allows(gateway: Gateway, collector_behind: LocalCollector) -> None:
    """Proto field names, numbers for 64-bit integers; a malformed id or a mistyped span costs that span only."""
    good = {
        "trace_id": TRACE.hex(),
        "span_id": "00000000000000a1",
        "name": "snake case",
        "start_time_unix_nano": START,
        "end_time_unix_nano": str(START + 10**9),
    }
    document = {
        "resource_spans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json"}}]},
                "scope_spans": [
                    {
                        "spans": [
                            good,
                            {**good, "spanId": "xyz", "span_id": None, "name": "bad id"},
                            {**good, "span_id": "00000000000000a3", "name": "bad kind", "kind": {"x": 1}},
                            "not a span",
                        ]
                    }
                ],
            }
        ]
    }
    answer = post(gateway, json.dumps(document).encode(), "application/json")
    assert answer.status_code == 200, answer.text
    partial = answer.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "3"
    assert "'bad id': spanId 'xyz' is not hex" in partial["errorMessage"]
    assert "'bad kind'" in partial["errorMessage"] and "not an object" in partial["errorMessage"]
    [run] = wait_for_runs(collector_behind, 1)
    assert run["name"] == "snake case" and run["metadata"]["otel"]["span_id"] == "00000000000000a1"
    assert run["metadata"]["otel"]["resource"] == {"service.name": "json"}


@pytest.mark.parametrize(
    "document",
    [{"resourceSpans": ["x"]}, {"resourceSpans": [{"scopeSpans": "abc"}]}, ["a list"], {"resourceSpans": 3}],
)
def test_otlp_json_of_the_wrong_shape_is_a_400_without_a_traceback(
    gateway: Gateway, collector_behind: LocalCollector, caplog: pytest.LogCaptureFixture, document: Any
) -> None:
    caplog.set_level(logging.DEBUG, logger="otel_dynamiq")
    answer = post(gateway, json.dumps(document).encode(), "application/json")
    assert answer.status_code == 400 and "not an OTLP JSON trace request" in answer.json()["message"]
    assert [record for record in caplog.records if record.levelno >= logging.WARNING or record.exc_info] == []
    assert collector_behind.store.runs() == []


def test_otlp_json_counts_every_value_before_parsing_unknown_fields_too(
    gateway: Gateway, collector_behind: LocalCollector
) -> None:
    """Short strings in a field OTLP does not have cost memory as attribute values do; commas in text do not count."""
    bomb = b'{"resourceSpans":[],"x":[' + b",".join([b'"a"'] * (MAX_JSON_VALUES + 1)) + b"]}"
    answer = post(gateway, gzip.compress(bomb, compresslevel=1), "application/json", **{"Content-Encoding": "gzip"})
    assert answer.status_code == 413 and "JSON values" in answer.json()["message"]
    text = "," * (MAX_JSON_VALUES + 1)
    good = {"traceId": TRACE.hex(), "spanId": "00000000000000a1", "name": "commas", "startTimeUnixNano": START}
    good |= {"endTimeUnixNano": START + 1, "attributes": [{"key": "text", "value": {"stringValue": text}}]}
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [good]}]}]}
    assert post(gateway, json.dumps(document).encode(), "application/json").status_code == 200
    [run] = wait_for_runs(collector_behind, 1)
    assert run["name"] == "commas"


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_json_text_a_run_will_parse_counts_against_the_request_values(
    gateway: Gateway, collector_behind: LocalCollector, protocol: str
) -> None:
    """Translation parses dynamiq.run.input as JSON: half a million tiny strings in it would all be built."""
    many = "[" + '"a",' * MAX_VALUES + '"a"]'
    prose = json.dumps({"text": "," * (MAX_VALUES + 1)})  # commas inside a string are not values
    node = KeyValue(key="dynamiq.run.type", value=AnyValue(string_value="node"))  # a Dynamiq run: its text is parsed

    def text(key: str, value: str) -> KeyValue:
        return KeyValue(key=key, value=AnyValue(string_value=value))

    spans = [
        span("too many values", 1, attributes=[node, text("dynamiq.run.input", many)]),
        span("prose", 2, attributes=[node, text("dynamiq.run.output", prose)]),
    ]
    body = request_of(*spans).SerializeToString()
    if protocol == "http":
        answer = ExportTraceServiceResponse.FromString(post(gateway, body).content)
    else:
        answer = grpc_call(gateway, body)
    assert answer.partial_success.rejected_spans == 1
    assert "'too many values': attribute dynamiq.run.input holds over" in answer.partial_success.error_message
    [run] = wait_for_runs(collector_behind, 1)
    assert run["name"] == "prose" and run["output"] == {"text": "," * (MAX_VALUES + 1)}


def test_a_run_too_large_even_when_cut_is_named_in_partial_success(
    collector_behind: LocalCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tags are never cut: a run whose tags alone pass the size cap cannot be sent, and the sender is told."""
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_MAX_REQUEST_BYTES, str(16 * 1024))
    tags = AnyValue(array_value={"values": [AnyValue(string_value=f"tag {n:04} " + "t" * 20) for n in range(1000)]})
    node = KeyValue(key="dynamiq.run.type", value=AnyValue(string_value="node"))
    body = request_of(
        span("tagged", 1, attributes=[node, KeyValue(key="dynamiq.run.tags", value=tags)]), span("plain", 2)
    )
    with Gateway(port=0, grpc_port=None) as running:
        answer = post(running, body.SerializeToString())
        assert answer.status_code == 200
        partial = ExportTraceServiceResponse.FromString(answer.content).partial_success
        assert partial.rejected_spans == 1 and "'tagged'" in partial.error_message
        assert "after truncation" in partial.error_message
        [run] = wait_for_runs(collector_behind, 1)
        assert run["name"] == "plain"
        assert running.core.counts().spans_rejected == 1 and running.core.counts().spans_accepted == 1


def test_a_run_the_service_refuses_is_refused_alone_and_the_sender_is_not_told_to_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Dynamiq answering 400 for one run of a batch: the rest arrive, the sender hears 200 and why one was left out."""

    def refuse_the_bad_one(request: Recorded) -> Reply:
        names = [run["name"] for run in request.runs]
        return Reply(400, body=b'{"detail": "a run Dynamiq refuses"}') if "bad" in names else Reply(200)

    with ScriptedServer(refuse_the_bad_one) as service:
        monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_ENDPOINT, service.url)
        with Gateway(port=0, grpc_port=None) as running:
            body = request_of(*(span(name, number) for number, name in enumerate(["a", "b", "bad", "c"], 1)))
            answer = post(running, body.SerializeToString())
            assert answer.status_code == 200
            partial = ExportTraceServiceResponse.FromString(answer.content).partial_success
            assert partial.rejected_spans == 1 and "a run Dynamiq refuses" in partial.error_message
    names = [[run["name"] for run in request.runs] for request in service.requests]
    assert sorted(name for request in names if "bad" not in request for name in request) == ["a", "b", "c"]


# Framing.


def _address(gateway: Gateway) -> tuple[str, int]:
    host, port = gateway.http_url.removeprefix("http://").split(":")
    return host, int(port)


def _exchange(gateway: Gateway, request: bytes) -> tuple[bytes, bool]:
    """What the gateway answers to raw bytes, and whether it then closed the connection."""
    with socket.create_connection(_address(gateway), timeout=3) as sock:
        sock.sendall(request)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except TimeoutError:
            return answer, False
    return answer, True


@pytest.mark.parametrize(
    ("framing", "status"),
    [
        (b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"400"),
        (b"Content-Length: 5\r\nContent-Length: 6\r\n", b"400"),
        (b"Transfer-Encoding: gzip, chunked\r\n", b"501"),
        (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"501"),
    ],
    ids=["length-and-chunked", "two-lengths", "not-only-chunked", "chunked-twice"],
)
def test_ambiguous_framing_is_refused_and_the_connection_closed(
    gateway: Gateway, collector_behind: LocalCollector, framing: bytes, status: bytes
) -> None:
    """RFC 9112: a proxy in front and the gateway must never disagree about where a request ends."""
    head = b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n" + framing + b"\r\n"
    answer, closed = _exchange(gateway, head + b"0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 " + status) and closed
    assert answer.count(b"HTTP/1.1") == 1  # the bytes after it were never read as a request


@pytest.mark.parametrize("size", [b"0x5", b"+5", b"5_", b" 5"])
def test_a_chunk_size_is_hex_digits_only(gateway: Gateway, size: bytes) -> None:
    head = b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
    answer, closed = _exchange(gateway, head + b"Transfer-Encoding: chunked\r\n\r\n" + size + b"\r\nabcde\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400") and b"malformed chunked body" in answer and closed


def test_the_bearer_scheme_in_any_case_and_100_continue_only_after_the_token(collector_behind: LocalCollector) -> None:
    body = request_of(span("lower-case scheme")).SerializeToString()
    with Gateway(port=0, grpc_port=None, token="gw-token-7f3a") as running:
        head = (
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            b"Expect: 100-continue\r\nContent-Length: %d\r\n" % len(body)
        )
        wrong, _ = _exchange(running, head + b"Authorization: Bearer wrong\r\n\r\n")
        assert wrong.startswith(b"HTTP/1.1 401")  # no "100 Continue" first: the body was never asked for
        with socket.create_connection(_address(running), timeout=5) as sock:
            sock.sendall(head + b"Authorization: bearer gw-token-7f3a\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 100")
            sock.sendall(body)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert [run["name"] for run in wait_for_runs(collector_behind, 1)] == ["lower-case scheme"]


def test_a_lone_surrogate_in_one_json_span_refuses_that_span_only(
    gateway: Gateway, collector_behind: LocalCollector
) -> None:
    def json_span(number: int, name: str) -> bytes:
        ids = f'"traceId":"{TRACE.hex()}","spanId":"{number:016x}"'
        times = f'"startTimeUnixNano":"{START}","endTimeUnixNano":"{START + 1}"'
        return ("{" + ids + "," + times + f',"name":"{name}"' + "}").encode()

    spans = json_span(1, "good") + b"," + json_span(2, "lone \\ud800 surrogate")
    answer = post(gateway, b'{"resourceSpans":[{"scopeSpans":[{"spans":[' + spans + b"]}]}]}", "application/json")
    assert answer.status_code == 200, answer.text
    assert answer.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert [run["name"] for run in wait_for_runs(collector_behind, 1)] == ["good"]


def test_every_gzip_member_is_read_and_trailing_bytes_refused(
    gateway: Gateway, collector_behind: LocalCollector
) -> None:
    first = request_of(span("first member", 1)).SerializeToString()
    second = request_of(span("second member", 2)).SerializeToString()
    two_members = gzip.compress(first) + gzip.compress(second)
    assert post(gateway, two_members, **{"Content-Encoding": "gzip"}).status_code == 200
    assert stored_names(collector_behind) == ["first member", "second member"]

    trailing = gzip.compress(request_of(span("trailing", 3)).SerializeToString()) + b"garbage"
    answer = post(gateway, trailing, **{"Content-Encoding": "gzip"})
    assert answer.status_code == 400 and b"follow the end of the gzip stream" in answer.content
    assert stored_names(collector_behind) == ["first member", "second member"]


def test_chunked_framing_counts_against_the_bound(gateway: Gateway) -> None:
    """Data just under 16 MiB in 4 KiB chunks: with its framing, the body is over."""
    chunk = b"\0" * 4096
    count = (MAX_BODY_BYTES - 1024) // len(chunk)
    connection = http.client.HTTPConnection(gateway.http_url.removeprefix("http://"), timeout=30)
    connection.request(
        "POST",
        "/v1/traces",
        body=(chunk for _ in range(count)),
        headers={"Content-Type": "application/x-protobuf"},
        encode_chunked=True,
    )
    answer = connection.getresponse()
    assert answer.status == 413 and b"body over" in answer.read()


# Slow senders, early answers, resets.


def _closed_while_trickling(gateway: Gateway, at_once: bytes, trickled: bytes, seconds: float = 4.0) -> bool:
    """Send ``at_once``, then ``trickled`` a byte every 0.25 s; True when the gateway has closed the connection."""
    host, port = gateway.http_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(at_once)
        deadline = time.monotonic() + seconds
        for byte in trickled:
            if time.monotonic() > deadline:
                break
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                return True
            time.sleep(0.25)
        connection.settimeout(1.0)
        try:
            return connection.recv(1024) == b""
        except TimeoutError:
            return False  # still open, still holding a handler
        except OSError:
            return True


def test_a_request_that_does_not_arrive_whole_in_time_is_closed(gateway: Gateway) -> None:
    """A byte every 0.25 s never trips the per-read timeout of 5 s; the whole-request deadline of 1 s does."""
    headers = b"POST /v1/traces HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/x-protobuf\r\n" * 4
    assert _closed_while_trickling(gateway, b"", headers)
    head = b"POST /v1/traces HTTP/1.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: 100\r\n\r\n"
    assert _closed_while_trickling(gateway, head, b"x" * 99)
    assert httpx.get(f"{gateway.http_url}/healthz").status_code == 200


def test_a_slow_body_does_not_hold_the_drain(gateway: Gateway) -> None:
    host, port = gateway.http_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(
            b"POST /v1/traces HTTP/1.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\nxx"
        )
        time.sleep(0.2)  # the handler is now reading the body
        assert gateway.core.drain(timeout=0.5) is True


@pytest.mark.parametrize("method", ["POST /v1/traces", "GET /healthz"])
def test_an_early_answer_closes_the_connection_instead_of_reading_the_body_as_a_request(
    gateway: Gateway, method: str
) -> None:
    """A 429 before the body (the spool is nearly full), or a GET that never reads its body."""
    gateway.core.set_spool_full(True)
    hidden = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n"
    host, port = gateway.http_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(
            f"{method} HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n".encode()
            + f"Content-Length: {len(hidden)}\r\n\r\n".encode()
            + hidden
        )
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    assert received.count(b"HTTP/1.1 ") == 1, received
    assert received.startswith(b"HTTP/1.1 429" if method.startswith("POST") else b"HTTP/1.1 200"), received


@pytest.mark.parametrize("server", ["gateway", "collector"])
def test_a_reset_connection_is_one_debug_line_never_a_traceback(
    gateway: Gateway,
    collector_behind: LocalCollector,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    server: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="otel_dynamiq")
    url = gateway.http_url if server == "gateway" else collector_behind.url
    host, port = url.removeprefix("http://").split(":")
    for _ in range(3):
        connection = socket.create_connection((host, int(port)), timeout=5)
        connection.sendall(b"POST /v1/traces HTTP/1.1\r\nContent-Le")
        time.sleep(0.1)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()  # a reset, as a replica killed mid-request sends
    time.sleep(0.5)
    if server == "gateway":
        assert httpx.get(f"{url}/healthz").status_code == 200
    assert "Traceback" not in capfd.readouterr().err
    assert [record for record in caplog.records if record.levelno > logging.DEBUG or record.exc_info] == []


def _silent_calls(gateway: Gateway, count: int, release: threading.Event, **metadata: str) -> list[Any]:
    """Calls that send their metadata and then nothing, until ``release`` is set."""

    def nothing() -> Iterator[bytes]:
        release.wait(30)
        return
        yield b""

    channel = grpc.insecure_channel(f"127.0.0.1:{gateway.grpc_port}")
    export = channel.stream_unary(EXPORT_METHOD, request_serializer=None, response_deserializer=None)
    return [export.future(nothing(), timeout=20, metadata=list(metadata.items())) for _ in range(count)]


def test_grpc_calls_without_a_message_are_cancelled_and_busy_workers_say_retry(
    collector_behind: LocalCollector,
) -> None:
    release = threading.Event()
    with Gateway(port=0, grpc_port=0, request_timeout=3.0) as gateway:
        try:
            silent = _silent_calls(gateway, GRPC_WORKERS, release)
            # Until every silent call holds a worker (on a loaded machine they take a while to arrive), a call
            # gets through and is stored: probe until one is refused, and count those that got in.
            got_in = 0
            refused = None
            give_up_at = time.monotonic() + 10
            while refused is None and time.monotonic() < give_up_at:
                try:
                    grpc_call(gateway, request_of(span("while busy")).SerializeToString())
                    got_in += 1
                    time.sleep(0.05)
                except grpc.RpcError as busy:
                    refused = busy
            assert refused is not None, "the silent calls never held every worker"
            assert refused.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "google.rpc.retryinfo-bin" in dict(refused.trailing_metadata())  # type: ignore[attr-defined]
            codes = {call.exception(timeout=10).code() for call in silent}
            assert codes == {grpc.StatusCode.CANCELLED}  # by the gateway: not the callers' 20 s deadline
        finally:
            release.set()
        response = grpc_call(gateway, request_of(span("after")).SerializeToString())
        assert not response.HasField("partial_success")
        assert stored_names(collector_behind) == ["after"] + ["while busy"] * got_in  # sorted


def test_while_every_grpc_worker_is_taken_a_silent_call_is_cancelled_soon(collector_behind: LocalCollector) -> None:
    """A real sender retrying RESOURCE_EXHAUSTED gets in well before the 10 s request timeout frees the workers."""
    release = threading.Event()
    with Gateway(port=0, grpc_port=0, request_timeout=10.0) as gateway:
        try:
            silent = _silent_calls(gateway, GRPC_WORKERS, release)
            time.sleep(0.5)  # every worker now waits for a message
            body, stored, give_up_at = request_of(span("real sender")).SerializeToString(), False, time.monotonic() + 5
            while not stored and time.monotonic() < give_up_at:
                try:
                    grpc_call(gateway, body)
                    stored = True
                except grpc.RpcError as busy:
                    assert busy.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
                    time.sleep(0.2)
            assert stored, "the silent calls held every worker for 5 s"
            assert {call.exception(timeout=10).code() for call in silent} == {grpc.StatusCode.CANCELLED}
        finally:
            release.set()
        assert stored_names(collector_behind) == ["real sender"]


def test_grpc_checks_the_token_before_the_message(collector_behind: LocalCollector) -> None:
    with Gateway(port=0, grpc_port=0, token="gw-token-7f3a", request_timeout=30.0) as gateway:
        release = threading.Event()
        try:
            [call] = _silent_calls(gateway, 1, release, authorization="Bearer wrong")
            assert call.exception(timeout=5).code() is grpc.StatusCode.UNAUTHENTICATED  # no message was needed
        finally:
            release.set()
