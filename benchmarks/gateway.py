"""The gateway's cost: spans/s and CPU per span of ``otel-dynamiq gateway``, against the in-process exporter.

The same spans (the three mixes of ``export_throughput.py``) reach Dynamiq two
ways: exported in-process by ``DynamiqSpanExporter``, and sent over OTLP to the
gateway, which decodes them and runs the same exporter. The gateway runs as its
own process (``otel-dynamiq gateway``), and its CPU is read from
``/proc/<pid>/stat`` (every thread), so the senders' CPU is not counted.
Requests are encoded before the clock starts: what is measured is the gateway.
Both deliver to the same loopback sink, in a third process, that discards bodies.

    .venv/bin/python benchmarks/gateway.py [--spans N] [--senders N] [--tiny]

The last rows show many concurrent senders (one connection each) with small
requests: the server base queues them in its backlog instead of failing any.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from _support import ROOT, free_port, machine, parser, sink_server, table
from export_throughput import BATCH, MIXES, NODE_ATTRIBUTES, dynamiq_node_attributes, make_spans

_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User plus system time of every thread of ``pid``."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def encode(spans: Sequence[Any], kind: str) -> bytes:
    from google.protobuf import json_format
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    request = encode_spans(spans)
    if kind == "protobuf":
        return bytes(request.SerializeToString())
    document = json_format.MessageToDict(request)
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for name in ("traceId", "spanId", "parentSpanId"):
                    if name in span:  # OTLP/JSON writes ids as hex, not as protobuf's base64
                        span[name] = base64.b64decode(span[name]).hex()
    import orjson

    return orjson.dumps(document)


class Gateway:
    """``otel-dynamiq gateway`` in its own process, delivering to ``sink``."""

    def __init__(self, sink: str, spool_dir: str) -> None:
        self.port, self.grpc_port = free_port(), free_port()
        environment = {
            **os.environ,
            "OTEL_EXPORTER_DYNAMIQ_ENDPOINT": sink,
            "OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR": spool_dir,
        }
        command = [
            sys.executable,
            "-m",
            "otel_dynamiq.cli",
            "gateway",
            "--port",
            str(self.port),
            "--grpc-port",
            str(self.grpc_port),
        ]
        self.process = subprocess.Popen(command, env=environment, cwd=ROOT, stdout=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}/v1/traces"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.1)

    def cpu(self) -> float:
        return process_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


Request = Callable[[int], None]
"""One request, sent by the sender of the given number (each sender has its own connection)."""


def send_all(requests: Sequence[Request], senders: int) -> float:
    """Run every request, ``senders`` at a time; the wall time it took."""
    position = iter(range(len(requests)))
    lock = threading.Lock()
    failures: list[BaseException] = []

    def work(sender: int) -> None:
        while True:
            with lock:
                index = next(position, None)
            if index is None:
                return
            try:
                requests[index](sender)
            except BaseException as exc:
                failures.append(exc)
                return

    threads = [threading.Thread(target=work, args=(sender,)) for sender in range(senders)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return time.perf_counter() - began


def http_requests(url: str, bodies: Sequence[bytes], kind: str, senders: int) -> list[Request]:
    """One keep-alive client per sender, made before the clock starts (making one costs milliseconds)."""
    content_type = "application/x-protobuf" if kind == "protobuf" else "application/json"
    clients = [httpx.Client(timeout=60) for _ in range(senders)]

    def request(body: bytes) -> Request:
        def send(sender: int) -> None:
            answer = clients[sender].post(url, content=body, headers={"Content-Type": content_type})
            if answer.status_code != 200:
                raise RuntimeError(f"the gateway answered {answer.status_code}: {answer.text[:200]}")

        return send

    return [request(body) for body in bodies]


def grpc_requests(port: int, batches: Sequence[Sequence[Any]]) -> list[Request]:
    import grpc
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    stub = trace_service_pb2_grpc.TraceServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    encoded = [encode_spans(batch) for batch in batches]
    return [lambda sender, request=request: stub.Export(request, timeout=60) for request in encoded]


def in_process_cost(spans: Sequence[Any], sink: str) -> tuple[float, float]:
    """The exporter inside the application: spans/s and CPU µs/span (this process's time)."""
    from otel_dynamiq import DynamiqSpanExporter

    exporter = DynamiqSpanExporter(endpoint=sink, spool=False)
    best_rate, best_cpu = 0.0, float("inf")
    for _ in range(3):
        cpu_before, began = time.process_time(), time.perf_counter()
        for start in range(0, len(spans), BATCH):
            exporter.export(spans[start : start + BATCH])
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu_before
        best_rate, best_cpu = max(best_rate, len(spans) / wall), min(best_cpu, cpu / len(spans) * 1e6)
    exporter.shutdown()
    return best_rate, best_cpu


def gateway_cost(
    gateway: Gateway, requests: Sequence[Callable[[], None]], spans: int, senders: int
) -> tuple[float, float]:
    """The gateway's spans/s and CPU µs/span, best of three passes (the first also warms it up)."""
    best_rate, best_cpu = 0.0, float("inf")
    for _ in range(3):
        cpu_before = gateway.cpu()
        wall = send_all(requests, senders)
        cpu = gateway.cpu() - cpu_before
        best_rate, best_cpu = max(best_rate, spans / wall), min(best_cpu, cpu / spans * 1e6)
    return best_rate, best_cpu


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--spans", type=int, default=10_240, help="spans per mix")
    arguments.add_argument("--senders", type=int, default=4, help="concurrent senders for the mixes")
    arguments.add_argument("--crowd", type=int, default=200, help="concurrent senders in the last rows")
    args = arguments.parse_args()
    import tempfile

    NODE_ATTRIBUTES.update(dynamiq_node_attributes(0))
    count = 1_024 if args.tiny else args.spans
    crowd = 20 if args.tiny else args.crowd
    rows = []
    with sink_server() as sink, tempfile.TemporaryDirectory() as spool:
        gateway = Gateway(sink, spool)
        try:
            for mix, (name, attributes) in MIXES.items():
                spans = make_spans(count, name, attributes)
                batches = [spans[start : start + BATCH] for start in range(0, len(spans), BATCH)]
                inside_rate, inside_cpu = in_process_cost(spans, sink)
                for kind in ("protobuf", "JSON", "gRPC"):
                    if kind == "gRPC":
                        requests = grpc_requests(gateway.grpc_port, batches)
                    else:
                        bodies = [encode(batch, kind.lower()) for batch in batches]
                        requests = http_requests(gateway.url, bodies, kind.lower(), args.senders)
                    rate, cpu = gateway_cost(gateway, requests, len(spans), args.senders)
                    rows.append([mix, kind, rate, cpu, inside_cpu, cpu / inside_cpu, inside_rate])
            small = make_spans(crowd * 50, *MIXES["GenAI spans"])
            bodies = [encode(small[start : start + 50], "protobuf") for start in range(0, len(small), 50)]
            requests = http_requests(gateway.url, bodies, "protobuf", crowd)
            rate, cpu = gateway_cost(gateway, requests, len(small), crowd)
            inside_rate, inside_cpu = in_process_cost(small, sink)
            rows.append(
                [f"GenAI, {crowd} senders x 50 spans", "protobuf", rate, cpu, inside_cpu, cpu / inside_cpu, inside_rate]
            )
        finally:
            gateway.stop()
    print(f"Gateway cost, {count:,} spans per mix in requests of {BATCH}, {args.senders} senders ({machine()})")
    headers = [
        "span mix",
        "OTLP form",
        "gateway spans/s",
        "gateway CPU µs/span",
        "in-process CPU µs/span",
        "gateway/in-process",
        "in-process spans/s",
    ]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
