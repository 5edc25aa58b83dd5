"""Asyncio and the garbage collector: what tracing adds to CPython's full collections, and what freezing saves.

Dynamiq's import leaves about 890,000 objects for the collector to track. A
full collection walks all of them (half a second here), and CPython starts
one when the objects promoted out of the young generations since the last
one reach a quarter of that heap. Objects that outlive a few milliseconds
are promoted even if they die soon after, and a span lives until its batch
is exported: tracing promotes more objects per node run, so full collections
come sooner. This script counts it, for a 5-node workflow whose nodes wait
20 ms, run by 50 asyncio tasks (``Flow.run_async``), in one process:

- per case (untraced; otel-dynamiq with every span sampled out; otel-dynamiq
  traced; the same instrumentation into the stock OTLP/HTTP exporter):
  objects promoted per node run (young objects surviving a generation-1
  collection, counted with ``gc.callbacks``), full collections and their
  pause per 1,000 node runs, CPU per node run;
- then, traced, rounds before and after ``gc.freeze()`` (what an application
  can do once its imports are done: the heap it froze is never walked again).

    .venv/bin/python benchmarks/asyncio_gc.py [--rounds N] [--tiny]
"""

from __future__ import annotations

import gc
import logging
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from _support import asyncio_workflow_runs, machine, otel_tracing, parser, sink_server, table

NODES = 5


@dataclass
class Collections:
    """What the collector did while counting was on, from ``gc.callbacks``."""

    counting: bool = False
    promoted: int = 0
    full: int = 0
    full_seconds: float = 0.0
    _young: int = 0
    _started: float = field(default=0.0, repr=False)

    def observe(self, phase: str, info: dict[str, Any]) -> None:
        if not self.counting:
            return
        generation = info["generation"]
        if generation == 1:
            if phase == "start":  # what a generation-1 collection does not collect moves to the old generation
                self._young = len(gc.get_objects(0)) + len(gc.get_objects(1))
            else:
                self.promoted += self._young - info["collected"]
        elif generation == 2:
            if phase == "start":
                self._started = time.perf_counter()
            else:
                self.full += 1
                self.full_seconds += time.perf_counter() - self._started

    @contextmanager
    def counted(self) -> Iterator[Collections]:
        self.promoted, self.full, self.full_seconds, self.counting = 0, 0, 0.0, True
        try:
            yield self
        finally:
            self.counting = False


def drive(tasks: int, runs: int, io_seconds: float) -> tuple[float, float]:
    """``tasks`` workflows run ``runs`` times each at once: (workflow runs per second, CPU seconds)."""
    return asyncio_workflow_runs(tasks, runs, io_seconds, NODES)


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--rounds", type=int, default=4, help="rounds per case, and before and after freezing")
    args = arguments.parse_args()
    logging.disable(logging.INFO)  # Dynamiq's four INFO lines a node run: an application logging at WARNING
    tasks, runs, io_seconds, rounds = (4, 1, 0.0, 1) if args.tiny else (50, 5, 0.02, args.rounds)
    node_runs = rounds * tasks * runs * NODES
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    collections = Collections()
    gc.callbacks.append(collections.observe)
    rows = []
    with sink_server(0.0) as url:
        drive(2, 1, io_seconds)  # warm-up: Dynamiq imports its tools the first time it formats a value
        cases: dict[str, Callable[[], AbstractContextManager[Any]]] = {
            "untraced": nullcontext,
            "otel-dynamiq, sampled out": lambda: otel_tracing(url, sampler=ALWAYS_OFF),
            "otel-dynamiq": lambda: otel_tracing(url),
            "stock OTLP exporter": lambda: otel_tracing(url, exporter=OTLPSpanExporter(endpoint=f"{url}/v1/traces")),
        }
        for name, tracing in cases.items():
            with tracing(), collections.counted():
                measured = [drive(tasks, runs, io_seconds) for _ in range(rounds)]
            cpu = sum(seconds for _, seconds in measured)
            rows.append(
                [
                    name,
                    collections.promoted / node_runs,
                    collections.full * 1000 / node_runs,
                    collections.full_seconds * 1e6 / node_runs,
                    cpu * 1e6 / node_runs,
                    statistics.mean(throughput for throughput, _ in measured),
                ]
            )
        frozen_rows = []
        with otel_tracing(url):
            for frozen in (False, True):
                if frozen:
                    gc.collect()
                    gc.freeze()
                with collections.counted():
                    measured = [drive(tasks, runs, io_seconds) for _ in range(rounds)]
                cpu = sum(seconds for _, seconds in measured)
                frozen_rows.append(
                    [
                        "frozen after start-up" if frozen else "as started",
                        collections.full_seconds * 1000 / max(collections.full, 1),
                        collections.full_seconds * 1e6 / node_runs,
                        cpu * 1e6 / node_runs,
                        statistics.mean(throughput for throughput, _ in measured),
                    ]
                )
    print(
        f"Garbage collection under asyncio: {tasks} tasks, {NODES}-node workflow, {io_seconds * 1000:.0f} ms nodes,"
        f" {rounds} rounds of {tasks * runs} workflow runs per case ({machine()}); heap after warm-up:"
        f" {len(gc.get_objects()) + gc.get_freeze_count():,} objects"
    )
    print(
        table(
            [
                "case",
                "promoted per node run",
                "full collections per 1,000 node runs",
                "full collection µs per node run",
                "CPU µs per node run",
                "runs/s (mean of rounds)",
            ],
            rows,
        )
    )
    print("otel-dynamiq traced, the same process, before and after gc.freeze():")
    print(
        table(
            ["heap", "ms per full collection", "full collection µs per node run", "CPU µs per node run", "runs/s"],
            frozen_rows,
        )
    )
    frozen_gain = frozen_rows[1][-1] / frozen_rows[0][-1]
    print(f"frozen/as started: {frozen_gain:.3f} of the throughput")


if __name__ == "__main__":
    main()
