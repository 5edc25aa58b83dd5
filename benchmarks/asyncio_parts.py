"""The CPU each piece of tracing costs an asyncio process, on the thread it runs on, against what 0.9 allows.

A 5-node workflow run by ``Flow.run_async``: Dynamiq hands each node to a
thread pool it makes for the flow run, so a node's span is started, recorded
and ended on a pool thread, and the flow's and workflow's on the event loop.
Thread CPU (``time.thread_time``) is counted around each piece, on whatever
thread it runs, exclusive of the pieces inside it:

- SDK, start a span: ``Tracer.start_span`` (sampler, ids, the span's objects,
  the processors' ``on_start``), what any OpenTelemetry tracer pays;
- SDK, end a span: ``Span.end`` (the processors' ``on_end``: the batch queue);
- Dynamiq's run-building logic: the native tracing handler's own methods,
  fed each event, which make each run equal the native one;
- the run's fields as span attributes (JSON text, capped);
- otel-dynamiq's glue: the wrappers and each event's bookkeeping;
- the garbage collector: every collection, taken out of the piece it
  interrupted.

Four settings: one task whose nodes do nothing (no I/O wait, though each
node still wakes a pool thread), one task whose nodes wait 20 ms, and 50 and 100 tasks
whose nodes wait 20 ms. Beside them, untimed and alternated in one process:
process CPU per node run at 50 and 100 tasks, untraced, with the speed-ups
alone and traced, with the garbage collector's share of it. With one core of
GIL, keeping 0.9 of untraced throughput allows tracing (untraced CPU / 0.9 -
speed-ups' CPU) per node run; the pieces say what fills it. Last, one SDK span
started and ended in a loop and after a wait of 1 and 20 ms: what running right
after a wait costs on the machine.

    .venv/bin/python benchmarks/asyncio_parts.py [--rounds N] [--tiny]
"""

from __future__ import annotations

import gc
import logging
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from _support import DiscardingExporter, asyncio_workflow_runs, machine, otel_tracing, parser, table
from asyncio_floor import speedups_alone

NODES = 5
GC = "garbage collector"
PARTS: tuple[tuple[str, str, str], ...] = (
    ("opentelemetry.sdk.trace", "Tracer.start_span", "SDK: start a span"),
    ("opentelemetry.sdk.trace", "Span.end", "SDK: end a span"),
    ("opentelemetry.instrumentation.dynamiq._recorder", "RunRecorder._feed", "Dynamiq's run-building logic"),
    ("opentelemetry.instrumentation.dynamiq._wrappers", "RunTracer._annotate", "the run's fields as span attributes"),
    ("opentelemetry.instrumentation.dynamiq._wrappers", "RunTracer._prepare", "otel-dynamiq's glue"),
    ("opentelemetry.instrumentation.dynamiq._wrappers", "RunTracer._enter", "otel-dynamiq's glue"),
    ("opentelemetry.instrumentation.dynamiq._wrappers", "RunTracer._leave", "otel-dynamiq's glue"),
    ("opentelemetry.instrumentation.dynamiq._recorder", "RunRecorder.observe", "otel-dynamiq's glue"),
)
LABELS = tuple(dict.fromkeys([label for _, _, label in PARTS] + [GC]))


class PartClock:
    """Thread CPU per piece, exclusive of nested pieces; one tally per thread, summed when read.

    A tally per thread rather than one shared: pool threads run pieces at once, and ``+=`` on a shared
    dict is not atomic between them.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._tallies: list[dict[str, float]] = []
        self._lock = threading.Lock()

    def _state(self) -> tuple[list[list[Any]], dict[str, float]]:
        state = getattr(self._local, "state", None)
        if state is None:
            tally: dict[str, float] = defaultdict(float)
            with self._lock:
                self._tallies.append(tally)
            state = self._local.state = ([], tally)
        return state

    def enter(self, label: str) -> None:
        self._state()[0].append([label, time.thread_time(), 0.0])

    def leave(self) -> None:
        stack, tally = self._state()
        if not stack:  # a collection that began before the clock was installed
            return
        label, began, nested = stack.pop()
        elapsed = time.thread_time() - began
        tally[label] += elapsed - nested
        if stack:
            stack[-1][2] += elapsed

    def read(self) -> dict[str, float]:
        total: dict[str, float] = defaultdict(float)
        with self._lock:
            for tally in self._tallies:
                for label, seconds in tally.items():
                    total[label] += seconds
        return total

    def on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.enter(GC)
        else:
            self.leave()


def timed(clock: PartClock, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def timing(*args: Any, **kwargs: Any) -> Any:
        clock.enter(label)
        try:
            return function(*args, **kwargs)
        finally:
            clock.leave()

    return timing


@contextmanager
def parts_timed(clock: PartClock) -> Iterator[None]:
    """Each piece wrapped on its class, and the collector's callbacks, for the time of one case."""
    import importlib

    originals: list[tuple[Any, str, Any]] = []
    for module_name, attribute, label in PARTS:
        owner_name, method = attribute.split(".")
        owner = getattr(importlib.import_module(module_name), owner_name)
        original = owner.__dict__[method]
        originals.append((owner, method, original))
        setattr(owner, method, timed(clock, label, original))
    gc.callbacks.append(clock.on_collection)
    try:
        yield
    finally:
        gc.callbacks.remove(clock.on_collection)
        for owner, method, original in reversed(originals):
            setattr(owner, method, original)


@contextmanager
def traced() -> Iterator[None]:
    """otel-dynamiq's instrumentor and a BatchSpanProcessor whose exporter drops the spans.

    Export is left out on purpose: it is measured against the stock exporter in ``export_profile.py``;
    here the question is what recording costs the application's threads.
    """
    with otel_tracing("http://127.0.0.1:9", exporter=DiscardingExporter()):
        yield


class CollectionClock:
    """Wall time inside the garbage collector, from ``gc.callbacks``: the pauses hold the GIL, so they are CPU."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._began


def node_run_cpu(tasks: int, runs_each: int, io_seconds: float) -> tuple[float, float, float]:
    """(workflow runs per second, process CPU µs per node run, garbage collector µs per node run)."""
    collections = CollectionClock()
    gc.callbacks.append(collections)
    try:
        throughput, cpu = asyncio_workflow_runs(tasks, runs_each, io_seconds, NODES)
    finally:
        gc.callbacks.remove(collections)
    node_runs = tasks * runs_each * NODES
    return throughput, cpu * 1e6 / node_runs, collections.seconds * 1e6 / node_runs


def parts_per_node_run(tasks: int, runs_each: int, io_seconds: float) -> dict[str, float]:
    clock = PartClock()
    with traced(), parts_timed(clock):
        _, cpu, _ = node_run_cpu(tasks, runs_each, io_seconds)
    node_runs = tasks * runs_each * NODES
    parts = {label: seconds * 1e6 / node_runs for label, seconds in clock.read().items()}
    parts["everything else (Dynamiq, asyncio, threads)"] = cpu - sum(parts.values())
    parts["process CPU, parts timed"] = cpu
    return parts


def span_after_a_wait(wait_seconds: float, spans: int) -> float:
    """Median thread CPU µs of starting and ending one SDK span, ``wait_seconds`` after the thread last ran."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DiscardingExporter()))
    tracer = provider.get_tracer("asyncio_parts")
    costs = []
    try:
        for _ in range(spans):
            if wait_seconds:
                time.sleep(wait_seconds)
            began = time.thread_time()
            tracer.start_span("node", attributes={"dynamiq.run.type": "node"}).end()
            costs.append((time.thread_time() - began) * 1e6)
    finally:
        provider.shutdown()
    return statistics.median(costs)


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--rounds", type=int, default=3, help="alternated rounds; medians are printed")
    args = arguments.parse_args()
    logging.disable(logging.INFO)  # Dynamiq's INFO lines a node run: an application logging at WARNING
    rounds = 1 if args.tiny else args.rounds
    shapes = [(1, 2, 0.02)] if args.tiny else [(1, 300, 0.0), (1, 40, 0.02), (50, 12, 0.02), (100, 6, 0.02)]
    settings = [
        (f"{tasks} task{'s' if tasks > 1 else ''}, {io_seconds * 1000:g} ms nodes", tasks, runs_each, io_seconds)
        for tasks, runs_each, io_seconds in shapes
    ]
    concurrencies = [(2, 1)] if args.tiny else [(50, 12), (100, 6)]
    cases: dict[str, Callable[[], AbstractContextManager[Any]]] = {
        "untraced": nullcontext,
        "speed-ups alone": speedups_alone,
        "otel-dynamiq, spans dropped": traced,
    }
    asyncio_workflow_runs(2, 1, 0.0, NODES)  # warm-up: Dynamiq imports its tools the first time it formats a value
    whole: dict[tuple[int, str], list[tuple[float, float, float]]] = defaultdict(list)
    parts: dict[str, list[dict[str, float]]] = defaultdict(list)
    for _ in range(rounds):
        for tasks, runs_each in concurrencies:
            for name, case in cases.items():
                with case():
                    whole[(tasks, name)].append(node_run_cpu(tasks, runs_each, 0.02))
        for setting, tasks, runs_each, io_seconds in settings:
            parts[setting].append(parts_per_node_run(tasks, runs_each, io_seconds))

    print(
        f"Asyncio CPU per node run, whole process: {NODES}-node workflow, 20 ms nodes, about 600 workflow runs per"
        f" case and round, medians of {rounds} alternated rounds ({machine()})"
    )
    piece = {
        setting: {
            label: statistics.median(run.get(label, 0.0) for run in parts[setting]) for label in parts[setting][0]
        }
        for setting, *_ in settings
    }
    owned_by_us = ("otel-dynamiq's glue", "the run's fields as span attributes")
    rows = []
    budgets = []
    for tasks, _ in concurrencies:
        medians = {
            name: [statistics.median(run[i] for run in whole[(tasks, name)]) for i in range(3)] for name in cases
        }
        rows += [
            [tasks, name, rate, rate / medians["untraced"][0], cpu, pauses]
            for name, (rate, cpu, pauses) in medians.items()
        ]
        owned = next(
            (sum(piece[s][label] for label in owned_by_us) for s, t, _, io in settings if t == tasks and io == 0.02),
            None,
        )
        for what, without_pauses in (("", False), (", collector pauses left out", True)):
            untraced, speedups, traced_cpu = (
                medians[name][1] - (medians[name][2] if without_pauses else 0.0) for name in cases
            )
            budget, added = untraced / 0.9 - speedups, traced_cpu - speedups
            line = (
                f"{tasks} tasks{what}: 0.9 of untraced allows tracing {budget:.0f} µs per node run beyond the"
                f" speed-ups' CPU (untraced {untraced:.0f} / 0.9 - speed-ups alone {speedups:.0f});"
                f" it takes {added:.0f}"
            )
            if owned is not None:
                line += f", {added - owned:.0f} without the pieces otel-dynamiq owns (its glue and the attributes)"
            budgets.append(line)
    print(table(["tasks", "case", "runs/s", "of untraced", "CPU µs per node run", "of which collector µs"], rows))
    print("\n".join(budgets))
    print()
    print(f"Thread CPU µs per node run by piece, on every thread, medians of {rounds} rounds; spans dropped at export")
    labels = [*list(LABELS), "everything else (Dynamiq, asyncio, threads)", "process CPU, parts timed"]
    rows = [[label] + [piece[s].get(label, 0.0) for s, *_ in settings] for label in labels]
    rows.append(
        ["SDK's span, start and end"] + [sum(piece[s].get(label, 0.0) for label in LABELS[:2]) for s, *_ in settings]
    )
    print(table(["piece"] + [setting for setting, *_ in settings], rows))
    print()
    spans = 20 if args.tiny else 200
    waits = [(0.0, "none (a loop)"), (0.001, "1 ms"), (0.02, "20 ms")]
    print(f"Thread CPU µs to start and end one SDK span, by how long the thread waited before (median of {spans})")
    print(table(["wait before", "µs"], [[label, span_after_a_wait(wait, spans)] for wait, label in waits]))


if __name__ == "__main__":
    main()
