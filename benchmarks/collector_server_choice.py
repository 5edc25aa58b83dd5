"""Which HTTP server to build the local collector on: the measurement behind the choice.

The same store and the same work per request (read the body, parse it,
store the runs) behind two servers: the standard library's threading server
as the collector now configures it (backlog 1024, 64 handlers, timeouts),
and uvicorn with a minimal ASGI app (one event loop, no threads). Measured:
runs stored from 256 simultaneous connections, requests per second with 16
senders, and resident memory at rest and at peak.

    .venv/bin/python benchmarks/collector_server_choice.py

uvicorn is not a dependency of otel-dynamiq: ``pip install uvicorn`` to run
this. Not part of ``make bench``; its figures are in the README.
"""

from __future__ import annotations

import json
import multiprocessing
import socket
import threading
import time
import urllib.request
import uuid
from typing import Any

from _support import free_port, machine, table

BURST = 256


def serve_stdlib(port: int) -> None:
    from otel_dynamiq.collector import LocalCollector

    LocalCollector(port=port).serve_forever()


def serve_uvicorn(port: int) -> None:
    import orjson
    import uvicorn

    from otel_dynamiq.collector._store import RunStore
    from otel_dynamiq.collector._validate import validate_body

    store = RunStore()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = orjson.loads(b"".join(chunks))
        status, answer = (400, {"detail": "invalid"}) if validate_body(body) else (200, {"accepted": 0})
        if status == 200:
            store.add(body["runs"], 0, None)
            answer = {"accepted": len(body["runs"])}
        payload = orjson.dumps(answer)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", backlog=1024, timeout_keep_alive=10)


def rss_mib(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return float("nan")


def post(port: int, runs: list[dict[str, Any]]) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/traces",
        data=json.dumps({"runs": runs}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except OSError:
        return 0


def a_run(trace_id: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "name": "run",
        "type": "node",
        "trace_id": trace_id,
        "source_id": "benchmark",
        "session_id": "benchmark",
        "start_time": "2026-01-01T00:00:00+00:00",
    }


def measure(target: Any) -> list[Any]:
    port = free_port()
    process = multiprocessing.Process(target=target, args=(port,), daemon=True)
    process.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    assert process.pid is not None
    at_rest = rss_mib(process.pid, "VmRSS:")
    gate = threading.Barrier(BURST)
    statuses: list[int] = []

    def one() -> None:
        gate.wait()
        statuses.append(post(port, [a_run(str(uuid.uuid4()))]))

    threads = [threading.Thread(target=one) for _ in range(BURST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    began = time.perf_counter()

    def sender() -> None:
        for _ in range(100):
            post(port, [a_run(str(uuid.uuid4())) for _ in range(20)])

    senders = [threading.Thread(target=sender) for _ in range(16)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    rate = 1600 / (time.perf_counter() - began)
    peak = rss_mib(process.pid, "VmHWM:")
    process.terminate()
    process.join(10)
    return [statuses.count(200), rate, at_rest, peak]


def main() -> None:
    rows = [["standard library, as configured", *measure(serve_stdlib)]]
    rows.append(["uvicorn + minimal ASGI app", *measure(serve_uvicorn)])
    print(f"Collector server choice ({machine()})")
    print(table(["server", f"of {BURST} burst stored", "requests/s", "RSS at rest MiB", "peak RSS MiB"], rows))


if __name__ == "__main__":
    main()
