"""Caller latency: how long the application waits for a traced Dynamiq run.

Three ways, in one process, against the same loopback collector answering in
0, 50 and 200 ms: untraced (stock Dynamiq); Dynamiq's native tracing
(``TracingCallbackHandler`` with ``DynamiqTracingClient``, one handler per run
as per request); otel-dynamiq (instrumentor + BatchSpanProcessor + exporter).

    .venv/bin/python benchmarks/caller_latency.py [--repeat N] [--tiny]

Targets: otel-dynamiq / untraced <= 1.15 (median) at every latency;
native / otel-dynamiq >= 10 at 200 ms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from _support import chain_workflow, machine, median, otel_tracing, p99, parser, sink_server, table, time_calls


def runner(workflow: Any, mode: str, config_factory: Callable[[], Any]) -> Callable[[], Any]:
    if mode == "sync":
        return lambda: workflow.run_sync(input_data={"q": 1}, config=config_factory())
    loop = asyncio.new_event_loop()
    return lambda: loop.run_until_complete(workflow.run_async(input_data={"q": 1}, config=config_factory()))


def measure(workflow: Any, mode: str, config_factory: Callable[[], Any], repeat: int) -> list[float]:
    call = runner(workflow, mode, config_factory)
    time_calls(call, 3)  # warm-up
    return time_calls(call, repeat)


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--repeat", type=int, default=30)
    args = arguments.parse_args()
    from dynamiq.callbacks import TracingCallbackHandler
    from dynamiq.clients import DynamiqTracingClient

    sizes = [5] if args.tiny else [5, 20]
    latencies = [0.0, 0.05] if args.tiny else [0.0, 0.05, 0.2]
    repeat = 2 if args.tiny else args.repeat
    rows = []
    for latency in latencies:
        with sink_server(latency) as url:

            def native_config(url: str = url) -> Any:
                from dynamiq.runnables import RunnableConfig

                client = DynamiqTracingClient(base_url=url, access_key="benchmark")
                return RunnableConfig(callbacks=[TracingCallbackHandler(client=client)])

            for size in sizes:
                workflow = chain_workflow(size)
                for mode in ("sync", "async"):
                    untraced = measure(workflow, mode, lambda: None, repeat)
                    native = measure(workflow, mode, native_config, repeat)
                    with otel_tracing(url):
                        traced = measure(workflow, mode, lambda: None, repeat)
                    rows.append(
                        [
                            f"{size} nodes",
                            mode,
                            f"{latency * 1000:.0f} ms",
                            median(untraced) * 1000,
                            p99(untraced) * 1000,
                            median(native) * 1000,
                            p99(native) * 1000,
                            median(traced) * 1000,
                            p99(traced) * 1000,
                            median(traced) / median(untraced),
                            median(native) / median(traced),
                        ]
                    )
    print(f"Caller latency, ms per workflow run ({repeat} runs each; {machine()})")
    headers = [
        "flow",
        "run",
        "collector",
        "untraced p50",
        "untraced p99",
        "native p50",
        "native p99",
        "otel p50",
        "otel p99",
        "otel/untraced",
        "native/otel",
    ]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
