"""What ``NestedCallMarker`` costs the application's thread per span, with and without model calls.

The marker runs at every span's start and end, on the thread that makes the
span: it marks spans started inside a model call, and the live spans above a
model call (``dynamiq.usage.calls_below``). Both sides run in this process,
alternated, with the garbage collector paused while each side runs; the
figure is the median difference of process time per span.

    .venv/bin/python benchmarks/nested_call_marker.py [--tiny]
"""

from __future__ import annotations

import gc
import statistics
import time
from typing import Any

from _support import machine, parser, table

SHAPES = {
    "agent > step > plain span": {"x": "plain"},
    "agent > step > chat (a model call)": {"gen_ai.operation.name": "chat"},
}


def tracer(with_marker: bool) -> Any:
    from opentelemetry.sdk.trace import TracerProvider

    from otel_dynamiq import NestedCallMarker

    provider = TracerProvider()
    if with_marker:
        provider.add_span_processor(NestedCallMarker())
    return provider.get_tracer("benchmark")


def per_span_us(tracer: Any, innermost: dict[str, Any], traces: int) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        for _ in range(traces):
            with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
                with tracer.start_as_current_span("step"):
                    with tracer.start_as_current_span("innermost", attributes=innermost):
                        pass
        return (time.process_time() - start) / (3 * traces) * 1e6
    finally:
        gc.enable()


def main() -> None:
    arguments = parser(__doc__).parse_args()
    traces, rounds = (500, 3) if arguments.tiny else (20_000, 9)
    plain, marked = tracer(False), tracer(True)
    rows = []
    for name, innermost in SHAPES.items():
        per_span_us(plain, innermost, traces // 10)
        per_span_us(marked, innermost, traces // 10)
        bare, added = [], []
        for _ in range(rounds):
            without = per_span_us(plain, innermost, traces)
            bare.append(without)
            added.append(per_span_us(marked, innermost, traces) - without)
        rows.append((name, f"{statistics.median(bare):.2f}", f"{statistics.median(added):.2f}"))
    print(f"NestedCallMarker on the application's thread ({machine()}), median of {rounds} alternated rounds")
    print(table(["spans", "SDK alone, CPU µs/span", "marker adds, CPU µs/span"], rows))


if __name__ == "__main__":
    main()
