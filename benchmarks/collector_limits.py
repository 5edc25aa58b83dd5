"""The local collector under attack and under load: its memory, and what a burst of senders gets.

The collector runs as ``otel-dynamiq collector`` in a process of its own (with
an access key), and its peak resident memory (``VmHWM``) is read after each
attack:

- ``Content-Length: -1`` followed by 200 MB;
- a gzip bomb (a small body that inflates past 500 MB);
- 8 bodies of 60 MB with a wrong key;
- 900,000 empty runs in one 2.7 MB body.

Then 256 connections at once each post one run (all must be stored), and
requests per second with 16 senders posting 20-run bodies.

    .venv/bin/python benchmarks/collector_limits.py [--tiny]
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

from _support import machine, parser, peak_rss_mib, table

KEY = "benchmark-collector-key"


def send_raw(port: int, head: bytes, body_chunks: Callable[[], Any] = lambda: ()) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head)
        try:
            for chunk in body_chunks():
                connection.sendall(chunk)
        except OSError:
            pass  # the collector answered and closed early: what a bounded server does
        try:
            return connection.recv(4096)
        except OSError:
            return b""


def head(key: str, length: int | str, *extra: str) -> bytes:
    lines = ["POST /v1/traces HTTP/1.1", f"Authorization: Bearer {key}", *extra, f"Content-Length: {length}", "", ""]
    return "\r\n".join(lines).encode()


def run(index: int, trace_id: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "name": f"run {index}",
        "type": "node",
        "trace_id": trace_id,
        "source_id": "benchmark",
        "session_id": "benchmark",
        "start_time": "2026-01-01T00:00:00+00:00",
        "end_time": "2026-01-01T00:00:01+00:00",
        "status": "succeeded",
        "executions": [],
        "tags": [],
    }


def post(port: int, runs: list[dict[str, Any]]) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/traces",
        data=json.dumps({"runs": runs}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(response.status)


def main() -> None:
    args = parser(__doc__).parse_args()
    scale = 0.01 if args.tiny else 1.0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "otel_dynamiq.cli", "collector", "--port", str(port)],
        env={**os.environ, "OTEL_DYNAMIQ_COLLECTOR_ACCESS_KEY": KEY},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.readline()  # listening
    rows: list[list[Any]] = [["at rest", "-", peak_rss_mib(process.pid)]]
    megabyte = b"x" * (1 << 20)

    def attack(name: str, act: Callable[[], bytes]) -> None:
        answer = act()
        status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "closed"
        rows.append([name, status, peak_rss_mib(process.pid)])

    attack(
        "Content-Length: -1, then 200 MB",
        lambda: send_raw(
            port,
            head(KEY, -1),
            lambda: (megabyte for _ in range(int(200 * scale) or 1)),
        ),
    )
    bomb = gzip.compress(b" " * int(512 * scale * (1 << 20)))
    attack(
        f"gzip bomb ({len(bomb) // 1024} KiB inflating to {int(512 * scale)} MiB)",
        lambda: send_raw(
            port,
            head(KEY, len(bomb), "Content-Encoding: gzip"),
            lambda: (bomb,),
        ),
    )

    def wrong_key_bodies() -> bytes:
        answers = [
            send_raw(
                port,
                head("wrong", 60 << 20),
                lambda: (megabyte for _ in range(int(60 * scale) or 1)),
            )
            for _ in range(8)
        ]
        return answers[-1]

    attack("8 x 60 MB with a wrong key", wrong_key_bodies)
    empty_runs = b'{"runs": [' + b",".join([b"{}"] * int(900_000 * scale)) + b"]}"
    attack(
        f"{int(900_000 * scale):,} empty runs in {len(empty_runs) / 1e6:.1f} MB",
        lambda: send_raw(
            port,
            head(KEY, len(empty_runs)),
            lambda: (empty_runs,),
        ),
    )

    burst = 256
    trace_id = str(uuid.uuid4())
    runs = [run(index, trace_id) for index in range(burst)]
    gate = threading.Barrier(burst)
    statuses: list[int] = []

    def one(item: dict[str, Any]) -> None:
        gate.wait()
        try:
            statuses.append(post(port, [item]))
        except OSError:
            statuses.append(0)

    threads = [threading.Thread(target=one, args=(item,)) for item in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/traces/{trace_id}", headers={"Authorization": f"Bearer {KEY}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        stored = len(json.load(response)["runs"])
    rows.append([f"{burst} connections at once", f"{statuses.count(200)} answered 200", peak_rss_mib(process.pid)])

    senders, per_sender = 16, int(100 * scale) or 2
    began = time.perf_counter()

    def sender() -> None:
        for _ in range(per_sender):
            post(port, [run(index, str(uuid.uuid4())) for index in range(20)])

    pool = [threading.Thread(target=sender) for _ in range(senders)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    requests_per_second = senders * per_sender / (time.perf_counter() - began)
    process.terminate()
    process.wait(timeout=10)

    print(f"Local collector under attack and load ({machine()})")
    print(table(["what was sent", "answer", "peak RSS (MiB)"], rows))
    print(f"burst: {stored} of {burst} runs stored")
    print(f"throughput: {requests_per_second:,.0f} requests/s (16 senders, 20 runs per request)")


if __name__ == "__main__":
    main()
