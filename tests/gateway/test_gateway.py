"""The OTLP gateway with real senders: the Python OTLP exporters, and raw HTTP for what they never send.

The Node.js sender and the Collector fleet need more than Python: ``tests/gateway/test_fleet.py``.

Every test reads back what the local collector received through the gateway:
the runs, their tree and usage, or nothing at all for refused input.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from otel_dynamiq import environment_variables as env
from otel_dynamiq._http_server.request_body import MAX_BODY_BYTES, MAX_DECOMPRESSED_BYTES
from otel_dynamiq.collector import LocalCollector
from otel_dynamiq.gateway import Gateway
from tests.support.common import FAKE_KEY, SpanRecorder, wait_for, wait_for_runs
from tests.support.gateways import assert_agent_trace, healthy
from tests.support.processes import BIN, ROOT, clean_env
from tests.support.servers import free_port

TOKEN = "gw-test-token-41c9e2"


def send_trace(exporter: SpanExporter, service: str = "python-agent") -> str:
    """A small agent trace with a GenAI LLM span, sent the way any instrumented app sends it."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("agent")
    with tracer.start_as_current_span("agent run") as root:
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 11,
            "gen_ai.usage.output_tokens": 3,
        }
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes=attributes):
            pass
    provider.shutdown()
    return format(root.get_span_context().trace_id, "032x")


def test_python_otlp_http_protobuf(gateway: Gateway, collector_behind: LocalCollector) -> None:
    trace_hex = send_trace(HttpSpanExporter(endpoint=f"{gateway.http_url}/v1/traces"))
    assert_agent_trace(collector_behind, trace_hex, "python-agent")
    assert gateway.counts().spans_accepted == 2


def test_python_otlp_grpc(gateway: Gateway, collector_behind: LocalCollector) -> None:
    trace_hex = send_trace(GrpcSpanExporter(endpoint=f"127.0.0.1:{gateway.grpc_port}", insecure=True))
    assert_agent_trace(collector_behind, trace_hex, "python-agent")


def otlp_json(trace_hex: str = "5b8efff798038103d269b633813fc60c", bad_span_id: bool = False) -> dict[str, Any]:
    """OTLP/JSON as the specification writes it: hex ids, integer enums, strings for 64-bit numbers."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-agent"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "agent", "version": "1.0"},
                        "spans": [
                            {
                                "traceId": trace_hex,
                                "spanId": "eee19b7ec3c1b174",
                                "name": "agent run",
                                "kind": 1,
                                "startTimeUnixNano": "1764316800000000000",
                                "endTimeUnixNano": "1764316801000000000",
                            },
                            {
                                "traceId": trace_hex,
                                "spanId": "eee19b7e" if bad_span_id else "eee19b7ec3c1b175",
                                "parentSpanId": "eee19b7ec3c1b174",
                                "name": "chat gpt-4o-mini",
                                "kind": 3,
                                "startTimeUnixNano": "1764316800100000000",
                                "endTimeUnixNano": "1764316800900000000",
                                "attributes": [
                                    {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                                    {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
                                    {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
                                    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "11"}},
                                    {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 3}},
                                ],
                                "status": {"code": 1},
                            },
                        ],
                    }
                ],
            }
        ]
    }


@pytest.mark.parametrize("compressed", [False, True])
def test_otlp_json_plain_and_gzip(gateway: Gateway, collector_behind: LocalCollector, compressed: bool) -> None:
    body = json.dumps(otlp_json()).encode()
    headers = {"Content-Type": "application/json"}
    if compressed:
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    answer = httpx.post(f"{gateway.http_url}/v1/traces", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {}  # no partial_success: everything was taken
    assert_agent_trace(collector_behind, "5b8efff798038103d269b633813fc60c", "json-agent")


def test_a_chunked_body_is_taken(gateway: Gateway, collector_behind: LocalCollector) -> None:
    request = ExportTraceServiceRequest()
    from google.protobuf import json_format

    json_format.ParseDict(_with_base64_ids(otlp_json()), request)
    data = request.SerializeToString()
    connection = http.client.HTTPConnection(gateway.http_url.removeprefix("http://"), timeout=10)
    pieces = iter([data[:10], data[10:100], data[100:]])
    connection.request(
        "POST", "/v1/traces", body=pieces, headers={"Content-Type": "application/x-protobuf"}, encode_chunked=True
    )
    answer = connection.getresponse()
    assert answer.status == 200, answer.read()
    assert_agent_trace(collector_behind, "5b8efff798038103d269b633813fc60c", "json-agent")


def _with_base64_ids(document: dict[str, Any]) -> dict[str, Any]:
    """The protobuf JSON mapping of an OTLP/JSON document: ids as base64, not hex."""
    copied = json.loads(json.dumps(document))
    for span in copied["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for name in ("traceId", "spanId", "parentSpanId"):
            if name in span:
                span[name] = base64.b64encode(bytes.fromhex(span[name])).decode()
    return copied


def test_a_span_with_a_bad_id_is_rejected_alone(gateway: Gateway, collector_behind: LocalCollector) -> None:
    answer = post_json(gateway.http_url, otlp_json(bad_span_id=True))
    assert answer.status_code == 200
    partial = answer.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1" and "span_id must be 8 bytes" in partial["errorMessage"]
    assert [run["name"] for run in wait_for_runs(collector_behind, 1)] == ["agent run"]


# Refusals: a clear 4xx, and nothing stored.


def post(url: str, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/traces", content=body, headers={"Content-Type": "application/x-protobuf", **headers})


def post_json(url: str, document: dict[str, Any], **headers: str) -> httpx.Response:
    """OTLP/JSON to the gateway at ``url``, as a sender without a protobuf encoder sends it."""
    return httpx.post(
        f"{url}/v1/traces",
        content=json.dumps(document).encode(),
        headers={"Content-Type": "application/json", **headers},
        timeout=30,
    )


def bomb() -> bytes:
    return gzip.compress(b"\0" * (MAX_DECOMPRESSED_BYTES + 1024))


@pytest.mark.parametrize(
    ("body", "headers", "status", "says"),
    [
        (b"\xff\xfe not protobuf", {}, 400, "not an OTLP protobuf trace request"),
        (b"{not json", {"Content-Type": "application/json"}, 400, "not an OTLP JSON trace request"),
        (b"{}", {"Content-Type": "text/plain"}, 415, "Content-Type must be"),
        (b"x", {"Content-Length": str(MAX_BODY_BYTES + 1)}, 413, "body over"),
        (None, {"Content-Encoding": "gzip"}, 413, "inflates past"),
        (b"x", {"Content-Encoding": "br"}, 415, "use gzip or deflate"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(
    gateway: Gateway,
    collector_behind: LocalCollector,
    body: bytes | None,
    headers: dict[str, str],
    status: int,
    says: str,
) -> None:
    if "Content-Length" in headers:  # declared, not sent: the refusal must come before the body is read
        connection = http.client.HTTPConnection(gateway.http_url.removeprefix("http://"), timeout=10)
        connection.putrequest("POST", "/v1/traces")
        connection.putheader("Content-Type", "application/x-protobuf")
        connection.putheader("Content-Length", headers["Content-Length"])
        connection.endheaders()
        answer = connection.getresponse()
        code, text = answer.status, answer.read().decode("utf-8", "replace")
    else:
        answer = post(gateway.http_url, body if body is not None else bomb(), **headers)
        code, text = answer.status_code, answer.content.decode("utf-8", "replace")
    assert code == status and says in text
    time.sleep(0.2)
    assert collector_behind.store.runs() == []
    assert gateway.counts().requests_refused == 1


def test_the_gateway_token_is_required_when_set(collector_behind: LocalCollector) -> None:
    with Gateway(port=0, grpc_port=0, token=TOKEN) as gateway:
        for authorization in (None, "Bearer wrong-token", f"Basic {TOKEN}"):
            answer = post_json(
                gateway.http_url, otlp_json(), **({"Authorization": authorization} if authorization else {})
            )
            assert answer.status_code == 401 and "gateway token" in answer.json()["message"]
        channel = grpc.insecure_channel(f"127.0.0.1:{gateway.grpc_port}")
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Export(ExportTraceServiceRequest(), timeout=10)
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        channel.close()
        time.sleep(0.2)
        assert collector_behind.store.runs() == []

        answer = post_json(gateway.http_url, otlp_json(), Authorization=f"Bearer {TOKEN}")
        assert answer.status_code == 200
        trace_hex = send_trace(
            GrpcSpanExporter(
                endpoint=f"127.0.0.1:{gateway.grpc_port}", insecure=True, headers={"authorization": f"Bearer {TOKEN}"}
            )
        )
        assert_agent_trace(collector_behind, trace_hex, "python-agent")


def test_listening_beyond_loopback_needs_a_token(collector_behind: LocalCollector) -> None:
    with pytest.raises(ValueError, match="set OTEL_DYNAMIQ_GATEWAY_TOKEN"):
        Gateway(host="0.0.0.0", port=0, grpc_port=0)


def test_no_disk_spool_no_gateway(collector_behind: LocalCollector, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_SPOOL, "false")
    with pytest.raises(ValueError, match="OTEL_EXPORTER_DYNAMIQ_SPOOL=true"):
        Gateway(port=0, grpc_port=0)


def test_runs_the_service_refuses_are_retried_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dynamiq refused the key: the spans are not on disk, so the sender is told to retry (503, Retry-After)."""
    with LocalCollector(access_key=FAKE_KEY) as collector:
        monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_ENDPOINT, collector.url)
        monkeypatch.setenv(env.DYNAMIQ_ACCESS_KEY, "not-the-key")
        with Gateway(port=0, grpc_port=None) as gateway:
            answer = post_json(gateway.http_url, otlp_json())
            assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
            assert collector.store.runs() == []


def test_a_200_means_on_disk_and_a_restarted_gateway_delivers_it(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_ENDPOINT, f"http://127.0.0.1:{port}")  # the service is out
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_TIMEOUT, "2")
    with Gateway(port=0, grpc_port=None) as gateway:
        answer = post_json(gateway.http_url, otlp_json())
        assert answer.status_code == 200
    with LocalCollector(port=port) as collector:  # the service is back; a new replica starts on the same spool
        with Gateway(port=0, grpc_port=None):
            assert_agent_trace(collector, "5b8efff798038103d269b633813fc60c", "json-agent")


def test_draining_answers_503_and_health_says_so(gateway: Gateway) -> None:
    assert httpx.get(f"{gateway.http_url}/healthz").json()["status"] == "serving"
    gateway.core.drain(timeout=1)
    answer = post(gateway.http_url, ExportTraceServiceRequest().SerializeToString())
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    health = httpx.get(f"{gateway.http_url}/healthz")
    assert health.status_code == 503 and health.json()["status"] == "draining"


def test_sigterm_finishes_and_exits(collector_behind: LocalCollector) -> None:
    """`otel-dynamiq gateway` as an orchestrator runs it: health, traffic, SIGTERM, a clean exit."""
    port = free_port()
    environment = clean_env(
        OTEL_EXPORTER_DYNAMIQ_ENDPOINT=collector_behind.url,
        OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR=os.environ[env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR],
    )
    process = subprocess.Popen(
        [str(BIN / "otel-dynamiq"), "gateway", "--port", str(port), "--grpc-port", "0"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: healthy(url), timeout=30)
        trace_hex = send_trace(HttpSpanExporter(endpoint=f"{url}/v1/traces"))
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped: 2 spans accepted, 0 rejected" in out
    assert_agent_trace(collector_behind, trace_hex, "python-agent")


def test_the_cli_without_the_token_says_what_to_set(collector_behind: LocalCollector) -> None:
    done = subprocess.run(
        [str(BIN / "otel-dynamiq"), "gateway", "--host", "0.0.0.0", "--port", str(free_port()), "--grpc-port", "0"],
        env=clean_env(OTEL_EXPORTER_DYNAMIQ_ENDPOINT=collector_behind.url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert (
        done.stderr.startswith("otel-dynamiq: the gateway listens on 0.0.0.0")
        and "OTEL_DYNAMIQ_GATEWAY_TOKEN" in done.stderr
    )


def test_response_body_is_an_export_response(gateway: Gateway) -> None:
    answer = post(gateway.http_url, ExportTraceServiceRequest().SerializeToString())
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/x-protobuf"
    ExportTraceServiceResponse().ParseFromString(answer.content)


def test_a_full_spool_answers_429_and_loses_nothing_it_answered_200(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dynamiq is out: the spool takes spans until near its cap, then senders are told to hold theirs."""
    port = free_port()
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_ENDPOINT, f"http://127.0.0.1:{port}")
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_TIMEOUT, "1")
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_SPOOL_MAX_BYTES, str(1024 * 1024))
    with Gateway(port=0, grpc_port=None) as gateway:
        accepted, answers = 0, []
        for number in range(40):
            document = otlp_json(trace_hex=f"{number + 1:032x}")
            spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
            spans[0]["attributes"] = [{"key": "payload", "value": {"stringValue": "x" * 100_000}}]
            answer = post_json(gateway.http_url, document)
            answers.append(answer.status_code)
            accepted += len(spans) if answer.status_code == 200 else 0
            if answer.status_code == 429:
                assert answer.headers["Retry-After"] == "5"
                break
            time.sleep(0.3)  # the spool watch looks once a second
        # A 503 when the spool refused a body outright, a 429 once the spool watch saw it nearly full.
        assert 429 in answers and answers[0] == 200 and set(answers) <= {200, 503, 429}, answers
        assert httpx.get(f"{gateway.http_url}/healthz").json()["status"] == "spool_full"
        with LocalCollector(port=port) as collector:  # Dynamiq is back: every span answered 200 arrives
            wait_for(lambda: len(collector.store.runs()) >= accepted, timeout=60)
            assert len(collector.store.runs()) == accepted
            wait_for(lambda: not gateway.core.spool_full, timeout=30)


def test_a_port_in_use_is_said_in_one_line_and_nothing_is_left_running(collector_behind: LocalCollector) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="OTLP/gRPC"):
            Gateway(port=0, grpc_port=port)
        done = subprocess.run(
            [str(BIN / "otel-dynamiq"), "gateway", "--port", str(free_port()), "--grpc-port", str(port)],
            env=clean_env(OTEL_EXPORTER_DYNAMIQ_ENDPOINT=collector_behind.url),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("otel-dynamiq: a port on 127.0.0.1 is in use")


def test_the_gateway_applies_the_mask_named_by_the_variable(
    collector_behind: LocalCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One setting for every way in: the gateway masks the runs of any sender as the exporter does."""
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_MASK, "tests.apps.masks:tag_run")
    with Gateway(port=0, grpc_port=0) as masking:
        trace_hex = send_trace(HttpSpanExporter(endpoint=f"{masking.http_url}/v1/traces"))
        runs = wait_for_runs(collector_behind, 2)
    assert {run["trace_id"].replace("-", "") for run in runs} == {trace_hex}
    assert all(run["metadata"]["masked_by"] == "tests.apps.masks:tag_run" for run in runs)


def test_spans_the_mask_drops_are_answered_as_handled(
    collector_behind: LocalCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dropped on purpose is not a failure: a sender told to retry would resend them forever."""
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_MASK, "tests.apps.masks:drop_all")
    recorder = SpanRecorder()
    with recorder.tracer.start_as_current_span("dropped by the mask"):
        pass
    with Gateway(port=0, grpc_port=0) as masking:
        result = HttpSpanExporter(endpoint=f"{masking.http_url}/v1/traces").export(recorder.spans())
    recorder.provider.shutdown()
    assert result is SpanExportResult.SUCCESS
    assert collector_behind.store.runs() == []
