"""The CPU each piece of tracing costs an asyncio process, on the thread it runs on, against what 0.9 allows.

A 5-node workflow run by ``Flow.run_async``: Dynamiq hands each node to a
thread pool it makes for the flow run, so a node's span is started, recorded
and ended on a pool thread, and the flow's and workflow's on the event loop.
Thread CPU (``time.thread_time``) is counted around each piece, on whatever
thread it runs, exclusive of the pieces inside it:

- SDK, start a span: ``Tracer.start_span`` (sampler, ids, the span's objects,
  the SDK's own processors' ``on_start``), what any OpenTelemetry tracer pays;
- SDK, end a span: ``Span.end`` (the batch processor's ``on_end``: its queue);
- Dynamiq's run-building logic: the native tracing handler's own methods,
  fed each event, which make each run equal the native one;
- the run's fields as span attributes (JSON text, capped);
- otel-dynamiq's glue: the wrappers' steps, each event's bookkeeping and the
  nested-call marker (a span processor of ours, so taken out of the SDK's
  pieces); the wrapper functions' own frames (ours and wrapt's) are not
  timed and fall under "everything else", though they are ours;
- the garbage collector: every collection, on the thread that runs it, taken
  out of the piece it interrupted.

Four settings: one task whose nodes do nothing (no I/O wait, though each node
still wakes a pool thread), one task whose nodes wait 20 ms, and 50 and 100
tasks whose nodes wait 20 ms. Beside them, untimed and alternated in one
process: process CPU per node run at 50 and 100 tasks, untraced, with the
speed-ups alone and traced, with the collector's share of it. With one core of
GIL, keeping 0.9 of untraced throughput allows tracing (untraced CPU / 0.9 -
speed-ups' CPU) per node run; the pieces say what fills it. Every case starts
from a full collection, so a collection owed by the case before does not land
in it. Last, one SDK span started and ended in a loop and after a wait of 1 and
20 ms: what running right after a wait costs on the machine.

    .venv/bin/python benchmarks/asyncio_parts.py [--rounds N] [--tiny]
"""

from __future__ import annotations

import gc
import importlib
import logging
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from typing import Any

from _support import DiscardingExporter, asyncio_workflow_runs, machine, otel_tracing, parser, table
from asyncio_floor import speedups_alone

NODES = 5
IO_SECONDS = 0.02
GC = "garbage collector"
GLUE = "otel-dynamiq's glue"
ATTRIBUTES = "the run's fields as span attributes"
PARTS: tuple[tuple[str, str, str], ...] = (
    ("opentelemetry.sdk.trace", "Tracer.start_span", "SDK: start a span"),
    ("opentelemetry.sdk.trace", "Span.end", "SDK: end a span"),
    ("opentelemetry.instrumentation.dynamiq._recorder", "RunRecorder._feed", "Dynamiq's run-building logic"),
    ("opentelemetry.instrumentation.dynamiq._wrappers", "RunTracer._annotate", ATTRIBUTES),
    ("opentelemetry.instrumentation.dynamiq._wrappers", "RunTracer._prepare", GLUE),
    ("opentelemetry.instrumentation.dynamiq._wrappers", "RunTracer._enter", GLUE),
    ("opentelemetry.instrumentation.dynamiq._wrappers", "RunTracer._leave", GLUE),
    ("opentelemetry.instrumentation.dynamiq._recorder", "RunRecorder.observe", GLUE),
    ("otel_dynamiq.processors._call_nesting", "NestedCallMarker.on_start", GLUE),
    ("otel_dynamiq.processors._call_nesting", "NestedCallMarker.on_end", GLUE),
)
LABELS = tuple(dict.fromkeys([label for _, _, label in PARTS] + [GC]))
OWNED_BY_US = (GLUE, ATTRIBUTES)
EVERYTHING_ELSE = "everything else (Dynamiq, asyncio, threads)"
TIMED_TOTAL = "process CPU, parts timed"


class PartClock:
    """Thread CPU per piece, exclusive of nested pieces; one tally per thread, summed when read.

    A tally per thread rather than one shared: pool threads run pieces at once, and ``+=`` on a shared
    dict is not atomic between them. A frame is pushed before its clock is read, so a collection set off
    by pushing it is not counted inside the piece as well as in the collector's row.
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
        """Start timing ``label`` on this thread, inside whatever piece is running."""
        frame: list[Any] = [label, 0.0, 0.0]
        self._state()[0].append(frame)
        frame[1] = time.thread_time()

    def leave(self, label: str) -> None:
        """Stop timing ``label``: its time less its nested pieces' goes to its tally, all of it to its parent's."""
        stack, tally = self._state()
        if not stack or stack[-1][0] != label:  # a collection whose start came before the clock was installed
            return
        _, began, nested = stack.pop()
        elapsed = time.thread_time() - began
        tally[label] += elapsed - nested
        if stack:
            stack[-1][2] += elapsed

    def read(self) -> dict[str, float]:
        """Seconds per label, every thread's tally summed (threads that have ended included)."""
        total: dict[str, float] = defaultdict(float)
        with self._lock:
            for tally in self._tallies:
                for label, seconds in tally.items():
                    total[label] += seconds
        return total

    def on_collection(self, phase: str, _info: dict[str, Any]) -> None:
        """``gc.callbacks`` entry: a collection is a piece of its own, on the thread that runs it."""
        if phase == "start":
            self.enter(GC)
        else:
            self.leave(GC)


def timed(clock: PartClock, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with its thread CPU counted under ``label``; the clock costs about a microsecond a call."""

    def timing(*args: Any, **kwargs: Any) -> Any:
        clock.enter(label)
        try:
            return function(*args, **kwargs)
        finally:
            clock.leave(label)

    return timing


@contextmanager
def patched(owner: Any, method: str, replacement: Callable[[Any], Any]) -> Iterator[None]:
    """``owner.method`` replaced by ``replacement(original)`` inside the block, the original put back after."""
    original = owner.__dict__[method]
    setattr(owner, method, replacement(original))
    try:
        yield
    finally:
        setattr(owner, method, original)


@contextmanager
def parts_timed(clock: PartClock) -> Iterator[None]:
    """Each piece wrapped on its class, and the collector's callback, for the time of one measured window.

    On the class, not on an instance: the instrumentor looks each method up when it calls it, so the
    wrapped one is what runs. Every patch is undone on the way out, whichever failed.
    """
    with ExitStack() as undo:
        for module_name, attribute, label in PARTS:
            owner_name, method = attribute.split(".")
            owner = getattr(importlib.import_module(module_name), owner_name)
            undo.enter_context(patched(owner, method, lambda original, label=label: timed(clock, label, original)))
        undo.enter_context(collections_counted(clock))
        yield


@contextmanager
def collections_counted(clock: PartClock) -> Iterator[None]:
    """The collector's CPU counted on ``clock`` (its own piece) inside the block only."""
    gc.callbacks.append(clock.on_collection)
    try:
        yield
    finally:
        gc.callbacks.remove(clock.on_collection)


@contextmanager
def traced() -> Iterator[None]:
    """otel-dynamiq's instrumentor and a BatchSpanProcessor whose exporter drops the spans.

    Export is left out on purpose: it is measured against the stock exporter in ``export_profile.py``;
    here the question is what recording costs the application's threads.
    """
    with otel_tracing("http://127.0.0.1:9", exporter=DiscardingExporter()):
        yield


def node_run_cpu(tasks: int, runs_each: int) -> tuple[float, float, float]:
    """(workflow runs per second, process CPU µs per node run, collector CPU µs per node run).

    A full collection first, so that every case starts at the same point of the collector's cycle.
    """
    gc.collect()
    clock = PartClock()
    throughput, cpu = asyncio_workflow_runs(
        tasks, runs_each, IO_SECONDS, NODES, window=lambda: collections_counted(clock)
    )
    node_runs = tasks * runs_each * NODES
    return throughput, cpu * 1e6 / node_runs, clock.read().get(GC, 0.0) * 1e6 / node_runs


def parts_per_node_run(tasks: int, runs_each: int, io_seconds: float) -> dict[str, float]:
    """Thread CPU µs per node run of each piece, traced, and what the pieces leave of the process's CPU."""
    gc.collect()
    clock = PartClock()
    with traced():
        _, cpu = asyncio_workflow_runs(tasks, runs_each, io_seconds, NODES, window=lambda: parts_timed(clock))
    node_runs = tasks * runs_each * NODES
    seconds = clock.read()
    parts = {label: seconds.get(label, 0.0) * 1e6 / node_runs for label in LABELS}
    parts[EVERYTHING_ELSE] = cpu * 1e6 / node_runs - sum(parts.values())
    parts[TIMED_TOTAL] = cpu * 1e6 / node_runs
    return parts


def span_after_a_wait(wait_seconds: float, spans: int) -> float:
    """Median thread CPU µs of starting and ending one SDK span, ``wait_seconds`` after the thread last ran."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DiscardingExporter()))  # type: ignore[arg-type]
    tracer = provider.get_tracer("asyncio_parts")
    costs: list[float] = []
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


CASES: dict[str, Callable[[], AbstractContextManager[Any]]] = {
    "untraced": nullcontext,
    "speed-ups alone": speedups_alone,
    "otel-dynamiq, spans dropped": traced,
}


def budget_lines(
    tasks: int, rounds: list[dict[str, tuple[float, float, float]]], pieces: list[dict[str, float]] | None
) -> list[str]:
    """The budget 0.9 leaves tracing and what tracing takes, each a median of per-round figures.

    Per round, not a difference of medians: a round's untraced, speed-ups and traced cases ran back to back,
    and its pieces were timed in the same round.
    """
    lines = []
    for what, without_pauses in (("", False), (", collector CPU left out", True)):
        budgets, added, added_without_ours = [], [], []
        for index, cases in enumerate(rounds):
            untraced, speedups, traced_cpu = (
                cases[name][1] - (cases[name][2] if without_pauses else 0.0) for name in CASES
            )
            budgets.append(untraced / 0.9 - speedups)
            added.append(traced_cpu - speedups)
            if pieces is not None:
                added_without_ours.append(added[-1] - sum(pieces[index][label] for label in OWNED_BY_US))
        line = (
            f"{tasks} tasks{what}: 0.9 of untraced allows tracing {statistics.median(budgets):.0f} µs per node run"
            f" beyond the speed-ups' CPU; it takes {statistics.median(added):.0f}"
        )
        if added_without_ours:
            line += (
                f", {statistics.median(added_without_ours):.0f} without the pieces otel-dynamiq owns"
                " (its glue and the attributes)"
            )
        lines.append(line + f" (medians of {len(rounds)} rounds' own figures)")
    return lines


def main() -> None:
    """Alternate the cases round by round; print medians, the budget lines, the pieces and the span after a wait."""
    arguments = parser(__doc__)
    arguments.add_argument("--rounds", type=int, default=5, help="alternated rounds; medians are printed")
    args = arguments.parse_args()
    logging.disable(logging.INFO)  # Dynamiq's INFO lines a node run: an application logging at WARNING
    rounds = 1 if args.tiny else args.rounds
    concurrencies = [(2, 1)] if args.tiny else [(50, 12), (100, 6)]
    shapes = (
        [(2, 1, IO_SECONDS)]
        if args.tiny
        else [(1, 300, 0.0), (1, 40, IO_SECONDS), (50, 12, IO_SECONDS), (100, 6, IO_SECONDS)]
    )
    settings = [
        (f"{tasks} task{'s' if tasks > 1 else ''}, {io_seconds * 1000:g} ms nodes", tasks, runs_each, io_seconds)
        for tasks, runs_each, io_seconds in shapes
    ]
    asyncio_workflow_runs(2, 1, 0.0, NODES)  # warm-up: Dynamiq imports its tools the first time it formats a value
    whole: dict[int, list[dict[str, tuple[float, float, float]]]] = defaultdict(list)
    parts: dict[str, list[dict[str, float]]] = defaultdict(list)
    for _ in range(rounds):
        for tasks, runs_each in concurrencies:
            this_round = {}
            for name, case in CASES.items():
                with case():
                    this_round[name] = node_run_cpu(tasks, runs_each)
            whole[tasks].append(this_round)
        for setting, tasks, runs_each, io_seconds in settings:
            parts[setting].append(parts_per_node_run(tasks, runs_each, io_seconds))

    workflow_runs = ", ".join(f"{tasks * runs_each} at {tasks} tasks" for tasks, runs_each in concurrencies)
    print(
        f"Asyncio CPU per node run, whole process: {NODES}-node workflow, 20 ms nodes, workflow runs per case and"
        f" round: {workflow_runs}; medians of {rounds} alternated rounds, each case after a full collection"
        f" ({machine()})"
    )
    rows = []
    lines = []
    for tasks, _ in concurrencies:
        medians = {name: [statistics.median(r[name][i] for r in whole[tasks]) for i in range(3)] for name in CASES}
        rows += [
            [tasks, name, rate, rate / medians["untraced"][0], cpu, collector]
            for name, (rate, cpu, collector) in medians.items()
        ]
        setting = next((s for s, t, _, io in settings if t == tasks and io == IO_SECONDS), None)
        lines += budget_lines(tasks, whole[tasks], parts[setting] if setting is not None else None)
    print(table(["tasks", "case", "runs/s", "of untraced", "CPU µs per node run", "of which collector µs"], rows))
    print("\n".join(lines))
    print()
    print(f"Thread CPU µs per node run by piece, on every thread, medians of {rounds} rounds; spans dropped at export")
    piece = {
        s: {label: statistics.median(run[label] for run in runs) for label in runs[0]} for s, runs in parts.items()
    }
    rows = [[label] + [piece[s][label] for s, *_ in settings] for label in (*LABELS, EVERYTHING_ELSE, TIMED_TOTAL)]
    rows.append(["SDK's span, start and end"] + [piece[s][LABELS[0]] + piece[s][LABELS[1]] for s, *_ in settings])
    print(table(["piece"] + [setting for setting, *_ in settings], rows))
    print()
    spans = 20 if args.tiny else 200
    waits = [(0.0, "none (a loop)"), (0.001, "1 ms"), (0.02, "20 ms")]
    print(f"Thread CPU µs to start and end one SDK span, by how long the thread waited before (median of {spans})")
    print(table(["wait before", "µs"], [[label, span_after_a_wait(wait, spans)] for wait, label in waits]))


if __name__ == "__main__":
    main()
