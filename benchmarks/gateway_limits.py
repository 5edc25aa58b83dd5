"""The gateway under attack: peak memory and answer per attack, and what legitimate senders wait meanwhile.

``otel-dynamiq gateway`` runs in a process of its own (with a token),
delivering to a loopback sink. Before each attack its peak resident memory is
reset (``/proc/<pid>/clear_refs``), so each row shows the peak that attack
caused (``VmHWM``), with the answer the attacker got:

- a nested map attribute (each level was escaped again inside the next);
- 100,000 tiny spans; 400,000 spans; 10,001 empty ``ResourceSpans`` in one body;
- gzip bombs of empty messages, one and three at once;
- 8 gRPC calls of 30 MiB with a wrong token; a gRPC gzip bomb;
- one span with a 4 MiB name beside a good one.

Then slow senders (70 HTTP connections trickling a header byte every 2 s, and
32 gRPC calls that never send their message) and three gzip bombs are kept in
flight while legitimate senders post 50-span requests over HTTP and gRPC: the
latency they see. Last, what syncing the spool's directory costs per body.

    .venv/bin/python benchmarks/gateway_limits.py [--tiny]
"""

from __future__ import annotations

import gzip
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
from _support import ROOT, free_port, machine, parser, peak_rss_mib, sink_server, table

TOKEN = "benchmark-gateway-token"
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
START = 1_764_316_800_000_000_000


def reset_peak(pid: int) -> None:
    with open(f"/proc/{pid}/clear_refs", "w") as refs:
        refs.write("5")  # the peak becomes the current resident size


def request_bytes(spans: int, name: bytes = b"s", first: int = 1, attributes: int = 0) -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for number in range(spans):
        scope.spans.add(
            trace_id=(number // 1000 + 1).to_bytes(16, "big"),
            span_id=(number + first).to_bytes(8, "big"),
            name=name.decode(),
            start_time_unix_nano=START,
            end_time_unix_nano=START + 1000,
        )
        for index in range(attributes):
            scope.spans[-1].attributes.add(key=f"attribute.{index}").value.int_value = index
    return bytes(request.SerializeToString())


def _field(number: int, payload: bytes) -> bytes:
    header, length = bytearray([number << 3 | 2]), len(payload)
    while length >= 0x80:
        header.append(length & 0x7F | 0x80)
        length >>= 7
    return bytes(header) + bytes([length]) + payload


def nested_map_request(levels: int) -> bytes:
    value = _field(1, b"leaf")
    for level in range(levels):
        value = _field(6, _field(1, _field(1, f"k{level}".encode()) + _field(2, value)))
    span = request_bytes(1)[6:]  # the span inside resource and scope, as written above
    span_with_attribute = span + _field(9, _field(1, b"deep") + _field(2, value))
    return _field(1, _field(2, _field(2, span_with_attribute)))


class GatewayProcess:
    def __init__(self, sink: str, spool_dir: str) -> None:
        self.port, self.grpc_port = free_port(), free_port()
        environment = {
            **os.environ,
            "OTEL_EXPORTER_DYNAMIQ_ENDPOINT": sink,
            "OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR": spool_dir,
            "OTEL_DYNAMIQ_GATEWAY_TOKEN": TOKEN,
        }
        command = [sys.executable, "-m", "otel_dynamiq.cli", "gateway", "--port", str(self.port)]
        command += ["--grpc-port", str(self.grpc_port)]
        self.process = subprocess.Popen(command, env=environment, cwd=ROOT, stdout=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}/v1/traces"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the gateway did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def post(url: str, body: bytes, token: str = TOKEN, **headers: str) -> str:
    try:
        answer = httpx.post(
            url,
            content=body,
            headers={"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {token}", **headers},
            timeout=120,
        )
    except httpx.TransportError as exc:
        return type(exc).__name__
    return str(answer.status_code)


def grpc_export(port: int, body: bytes, token: str = TOKEN, compressed: bool = False, timeout: float = 120) -> str:
    options: dict[str, Any] = {"compression": grpc.Compression.Gzip} if compressed else {}
    with grpc.insecure_channel(f"127.0.0.1:{port}", **options) as channel:
        export = channel.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)
        try:
            export(body, timeout=timeout, metadata=[("authorization", f"Bearer {token}")])
        except grpc.RpcError as exc:
            return str(exc.code().name)  # type: ignore[attr-defined]
    return "OK"


def at_once(count: int, act: Callable[[], str]) -> str:
    answers: list[str] = []
    threads = [threading.Thread(target=lambda: answers.append(act())) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ", ".join(sorted(set(answers)))


def trickle(port: int, stop: threading.Event) -> None:
    """A header byte every 2 s, reconnecting whenever the gateway closes the connection."""
    head = b"POST /v1/traces HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/x-protobuf\r\n" * 100
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                for byte in head:
                    if stop.wait(2.0):
                        return
                    connection.sendall(bytes([byte]))
        except OSError:
            continue


def silent_grpc_calls(port: int, count: int, stop: threading.Event) -> None:
    """Calls that send their metadata and never a message, started again whenever the gateway ends them."""

    def nothing() -> Iterator[bytes]:
        stop.wait(600)
        return
        yield b""

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        export = channel.stream_unary(EXPORT, request_serializer=None, response_deserializer=None)
        metadata = [("authorization", f"Bearer {TOKEN}")]
        calls = [export.future(nothing(), metadata=metadata) for _ in range(count)]
        while not stop.is_set():
            for index, call in enumerate(calls):
                if call.done():
                    calls[index] = export.future(nothing(), metadata=metadata)
            stop.wait(0.2)


def repeat(stop: threading.Event, act: Callable[[], str]) -> None:
    while not stop.is_set():
        act()


def latencies(act: Callable[[], str], seconds: float) -> tuple[list[float], list[str]]:
    samples, answers = [], []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        began = time.perf_counter()
        answers.append(act())
        samples.append(time.perf_counter() - began)
    return samples, answers


def spool_put_cost(bodies: int) -> tuple[float, float]:
    """µs per 100 KB body put in the disk spool, with and without syncing the directory after the rename."""
    from otel_dynamiq._config import SpoolConfig
    from otel_dynamiq._delivery import spool as _spool

    body = b"x" * 100_000
    results = []
    real_sync = _spool._sync_directory
    for sync in (True, False):
        _spool._sync_directory = real_sync if sync else (lambda directory: None)  # type: ignore[assignment]
        with tempfile.TemporaryDirectory(dir=ROOT) as base:
            spool = _spool.DiskSpool(Path(base) / "s", SpoolConfig(Path(base)), 30.0, lambda reason, runs: None)
            began = time.perf_counter()
            for _ in range(bodies):
                spool.put(body, 1)
            results.append((time.perf_counter() - began) / bodies * 1e6)
    _spool._sync_directory = real_sync
    return results[0], results[1]


def main() -> None:
    args = parser(__doc__).parse_args()
    scale = 0.05 if args.tiny else 1.0
    with sink_server() as sink, tempfile.TemporaryDirectory() as spool_dir:
        rows: list[list[Any]] = []

        shared = GatewayProcess(sink, spool_dir) if args.tiny else None  # a smoke run: one gateway for all

        def attack(name: str, wire_bytes: int, act: Callable[[GatewayProcess], str]) -> None:
            """Each attack on a fresh gateway: its peak is then this attack's, not a leftover of the last."""
            target = shared or GatewayProcess(sink, spool_dir)
            try:
                rest = peak_rss_mib(target.process.pid)
                began = time.perf_counter()
                answer = act(target)
                seconds = time.perf_counter() - began
                peak = peak_rss_mib(target.process.pid)
            finally:
                if target is not shared:
                    target.stop()
            rows.append([name, f"{wire_bytes:,}", answer, rest, peak, peak - rest, seconds])

        gzip_header = {"Content-Encoding": "gzip"}
        widest = request_bytes(int(10_000 * scale), attributes=50)
        attack(
            f"{int(10_000 * scale):,} spans x 50 attributes (the most a request may hold)",
            len(widest),
            lambda g: post(g.url, gzip.compress(widest, 1), **gzip_header),
        )
        for levels in (16, 24, 31):
            body = nested_map_request(levels)
            attack(f"map nested {levels} deep", len(body), lambda g, body=body: post(g.url, body))  # type: ignore[misc]
        for spans in (int(100_000 * scale), int(400_000 * scale)):
            body = request_bytes(spans)
            attack(f"{spans:,} tiny spans", len(body), lambda g, body=body: post(g.url, body))  # type: ignore[misc]
        empty = b"\x0a\x00" * 10_001
        attack("10,001 empty ResourceSpans", len(empty), lambda g: post(g.url, empty))
        bomb = gzip.compress(b"\x0a\x00" * int(16_700_000 * scale), compresslevel=9)
        attack(
            f"gzip bomb: {int(16_700_000 * scale):,} empty ResourceSpans",
            len(bomb),
            lambda g: post(g.url, bomb, **gzip_header),
        )
        attack(
            "3 such bombs at once",
            3 * len(bomb),
            lambda g: at_once(3, lambda: post(g.url, bomb, **gzip_header)),
        )
        small = b"\x0a\x00" * int(2_000_000 * scale)  # under the size that is counted first
        attack(
            f"{len(small) // 2:,} empty ResourceSpans, 3 at once",
            3 * len(small),
            lambda g: at_once(3, lambda: post(g.url, small)),
        )
        big = b"\x0a\x00" * int(15 * (1 << 20) * scale)
        attack(
            "8 gRPC calls of 30 MiB, wrong token",
            8 * 2 * len(big),
            lambda g: at_once(8, lambda: grpc_export(g.grpc_port, big + big, token="wrong")),
        )
        grpc_bomb = b"\x0a\x00" * int(20 * (1 << 20) * scale)
        attack(
            f"gRPC gzip bomb ({len(grpc_bomb) >> 20} MiB inflated)",
            len(gzip.compress(grpc_bomb)),
            lambda g: grpc_export(g.grpc_port, grpc_bomb, compressed=True),
        )
        # Two requests end to end are one request of two ResourceSpans: the long name, and a good span.
        two = request_bytes(1, name=b"n" * (4 << 20)) + request_bytes(1, name=b"good", first=2)
        attack("a 4 MiB span name beside a good span", len(two), lambda g: post(g.url, two))
        worst = max(float(row[5]) for row in rows)

        gateway = shared or GatewayProcess(sink, spool_dir)
        pid = gateway.process.pid
        # Legitimate senders while slow senders and bombs are in flight.
        legit = request_bytes(50)
        quiet_http, _ = latencies(lambda: post(gateway.url, legit), 3.0)
        quiet_grpc, _ = latencies(lambda: grpc_export(gateway.grpc_port, legit, timeout=60), 3.0)
        stop = threading.Event()
        attackers = [threading.Thread(target=trickle, args=(gateway.port, stop), daemon=True) for _ in range(70)]
        attackers.append(threading.Thread(target=silent_grpc_calls, args=(gateway.grpc_port, 32, stop), daemon=True))
        for _ in range(3):
            attackers.append(
                threading.Thread(
                    target=repeat, args=(stop, lambda: post(gateway.url, bomb, **gzip_header)), daemon=True
                )
            )
        reset_peak(pid)
        for thread in attackers:
            thread.start()
        time.sleep(1.0 if args.tiny else 3.0)  # every attacker is connected and holding what it can
        seconds = 2.0 if args.tiny else 30.0
        busy_http, http_answers = latencies(lambda: post(gateway.url, legit), seconds)
        busy_grpc, grpc_answers = latencies(lambda: grpc_export(gateway.grpc_port, legit, timeout=60), seconds / 2)
        stop.set()
        under_attack_peak = peak_rss_mib(pid)
        gateway.stop()

    put_synced, put_unsynced = spool_put_cost(int(2000 * scale) or 50)

    print(f"Gateway under attack ({machine()})")
    headers = ["what was sent", "bytes (inflated)", "answer", "RSS at rest MiB", "peak MiB", "peak - rest", "seconds"]
    print(table(headers, rows))
    print(f"most memory one attack added: {worst:.0f} MiB")

    def describe(samples: list[float]) -> list[str]:
        ordered = sorted(samples)
        return [
            f"{len(samples)}",
            f"{statistics.median(ordered) * 1000:.1f}",
            f"{ordered[int(0.99 * (len(ordered) - 1))] * 1000:.1f}",
            f"{ordered[-1] * 1000:.1f}",
        ]

    print("Legitimate senders, 50 spans per request, alone and while the attacks are in flight")
    print(
        table(
            ["sender", "requests", "median ms", "p99 ms", "max ms", "answers"],
            [
                ["OTLP/HTTP, alone", *describe(quiet_http), "200"],
                ["OTLP/gRPC, alone", *describe(quiet_grpc), "OK"],
                ["OTLP/HTTP, under attack", *describe(busy_http), ", ".join(sorted(set(http_answers)))],
                ["OTLP/gRPC, under attack", *describe(busy_grpc), ", ".join(sorted(set(grpc_answers)))],
            ],
        )
    )
    print(f"peak RSS while under attack: {under_attack_peak:.0f} MiB")
    print(f"spool put of a 100 KB body: {put_synced:,.0f} µs with the directory synced, {put_unsynced:,.0f} µs without")


if __name__ == "__main__":
    main()
