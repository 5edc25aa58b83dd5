"""Where an asyncio application's GIL time goes when it is traced: a sampling profile, broken down.

A 5-node workflow whose nodes wait 20 ms, run by 20, 50 and 100 asyncio
tasks (``Flow.run_async``): untraced, instrumented with every span sampled
out, and traced into otel-dynamiq's exporter (a loopback sink answering at
once). Each case runs in a child process that warms up first; py-spy then
attaches with ``--gil`` (only the thread holding the GIL is sampled, which
is what bounds an asyncio process) and the samples are sorted into what
tracing adds:

- run recording: the instrumentor's recorder, feeding Dynamiq's own
  run-building logic (``TracingCallbackHandler``'s methods) with each event;
- span start, span end, context: the run wrappers' own work around the
  OpenTelemetry SDK; the SDK itself (span objects, attributes, context) and
  the span processors' ``on_start``/``on_end`` counted apart;
- span attributes: the run as JSON text on the span;
- speed-ups: Dynamiq's own formatting and polling, made cheaper;
- export: translation, encoding, and delivery with the processor's thread;
- the rest: Dynamiq, asyncio and the application.

Figures are GIL-held microseconds per node run (samples / rate / node runs):
the sampler slows the process, so compare rows with each other, not with
``concurrency.py``. Needs py-spy (in the ``dev`` extra) and the right to
ptrace the child (containers may need ``--cap-add SYS_PTRACE``).

    .venv/bin/python benchmarks/asyncio_profile.py [--tiny] [--rate HZ] [--keep DIR]
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _support import chain_workflow, machine, parser, sink_server, table

NODES = 5
WORKFLOW_RUNS = 1000
"""Workflow runs per case, shared among its tasks: enough samples at every concurrency."""
IO_SECONDS = 0.02

EXPORT_THREAD = ("BatchProcessor.worker", "BatchSpanProcessor.worker")
ENTRIES = (
    ("RunRecorder.observe", "run recording"),
    ("RunTracer._prepare", "span start"),
    ("RunTracer._end", "span end"),
    ("RunTracer._emit_unclaimed", "span end"),
    ("RunTracer._enter", "context"),
    ("RunTracer._leave", "context"),
    ("plain_value_formatter", "speed-ups"),
    ("_polling.py", "speed-ups"),
)
"""Our entry points on the application's threads; the outermost one in a stack names its sample."""
SDK = ("(trace/", "(context/", "(attributes/", "(util/")
"""py-spy names a file by its path inside its package: the OpenTelemetry API and SDK's modules."""
PROCESSORS = ("NestedCallMarker", "BatchProcessor.emit", "BatchSpanProcessor.on_", "SynchronousMultiSpanProcessor")
WRAPPER_FRAMES = ("wrap_async.<locals>.wrapper", "wrap_sync.<locals>.wrapper", "observe.<locals>.wrapper")
CATEGORIES = (
    "run recording",
    "span start",
    "span end",
    "context",
    "SDK: spans, attributes, context",
    "processors: on_start, on_end",
    "span attributes (run as JSON)",
    "wrappers",
    "speed-ups",
    "export: translation",
    "export: encoding",
    "export: delivery, processor thread",
    "Dynamiq, asyncio, application",
)


def classify(frames: list[str]) -> str:
    """One sample's category; ``frames`` run from the thread's root to the leaf."""
    if any(marker in frame for frame in frames for marker in EXPORT_THREAD):
        for frame in reversed(frames):
            if "_translation/" in frame:
                return "export: translation"
            if "_delivery/bodies" in frame or "orjson" in frame:
                return "export: encoding"
        return "export: delivery, processor thread"
    found = [(depth, name) for depth, frame in enumerate(frames) for marker, name in ENTRIES if marker in frame]
    if found:
        depth, entry = found[0]
        if entry == "context" and len(found) > 1:  # leaving a run ends its span: that is span end
            depth, entry = found[1]
        if entry in ("span start", "span end", "context"):
            for inner in reversed(frames[depth + 1 :]):
                if any(marker in inner for marker in PROCESSORS):
                    return "processors: on_start, on_end"
                if "(dynamiq/_attributes" in inner:
                    return "span attributes (run as JSON)"
                if any(marker in inner for marker in SDK):
                    return "SDK: spans, attributes, context"
        return entry
    if any(marker in frames[-1] for marker in WRAPPER_FRAMES):
        return "wrappers"
    return "Dynamiq, asyncio, application"


def breakdown(raw: Path) -> Counter[str]:
    """Samples per category from py-spy's raw output (``stack;frames count`` lines); imports left out."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or "_find_and_load" in stack:
            continue
        counts[classify(stack.split(";"))] += int(count)
    return counts


# --- the child: one case, warmed up, started when py-spy is attached ------------------------------


def child(tasks: int, mode: str, url: str, runs_per_task: int) -> None:
    from opentelemetry.instrumentation.dynamiq import DynamiqInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

    from otel_dynamiq import DynamiqSpanExporter

    provider = None
    if mode != "untraced":
        provider = TracerProvider(sampler=ALWAYS_OFF if mode == "sampled out" else ALWAYS_ON)
        provider.add_span_processor(BatchSpanProcessor(DynamiqSpanExporter(endpoint=url)))
        DynamiqInstrumentor().instrument(tracer_provider=provider)
    workflows = [chain_workflow(NODES, io_seconds=IO_SECONDS) for _ in range(tasks)]

    async def work(workflow: Any, runs: int) -> None:
        for _ in range(runs):
            await workflow.run_async(input_data={"q": 1})

    async def all_of_them(runs: int) -> None:
        await asyncio.gather(*(work(workflow, runs) for workflow in workflows))

    asyncio.run(all_of_them(1))  # imports, pydantic's caches, the exporter's client
    print("ready", flush=True)
    sys.stdin.readline()
    cpu, began = time.process_time(), time.perf_counter()
    asyncio.run(all_of_them(runs_per_task))
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    if provider is not None:
        provider.shutdown()
    print(json.dumps({"node_runs": tasks * runs_per_task * NODES, "wall": wall, "cpu": cpu}), flush=True)


def _line_starting(stream: Any, prefix: str) -> str | None:
    """The child's next line that starts with ``prefix`` (Dynamiq may log to the same stream)."""
    for line in stream:
        if line.startswith(prefix):
            return str(line)
    return None


def profiled(py_spy: str, tasks: int, mode: str, url: str, rate: int, raw: Path, runs: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", str(tasks), mode, url, str(max(1, runs // tasks))]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as worker:
        assert worker.stdin is not None and worker.stdout is not None
        if _line_starting(worker.stdout, "ready") is None:
            raise SystemExit(f"the {mode} case did not start")
        record = [py_spy, "record", "--gil", "--rate", str(rate), "--format", "raw", "-o", str(raw)]
        spy = subprocess.Popen(
            [*record, "--pid", str(worker.pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)  # py-spy attaches
        worker.stdin.write("go\n")
        worker.stdin.flush()
        result: dict[str, Any] = json.loads(_line_starting(worker.stdout, "{") or "{}")
        worker.wait(timeout=120)
        _, spy_errors = spy.communicate(timeout=120)
    if not raw.exists():
        raise SystemExit(f"py-spy wrote no profile ({spy_errors.strip()[-300:]}); it needs the right to ptrace")
    result["samples"] = breakdown(raw)
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]))
        return
    arguments = parser(__doc__)
    arguments.add_argument("--rate", type=int, default=250, help="samples per second")
    arguments.add_argument("--keep", type=Path, help="keep py-spy's raw profiles in this directory")
    args = arguments.parse_args()
    py_spy = shutil.which("py-spy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if py_spy is None:
        raise SystemExit("py-spy is not installed: pip install py-spy (it is in the dev extra)")
    task_counts = [4] if args.tiny else [20, 50, 100]
    modes = ("untraced", "sampled out", "traced")
    columns: list[tuple[str, dict[str, Any]]] = []
    with sink_server(0.0) as url, tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for tasks in task_counts:
            for mode in modes:
                raw = folder / f"{tasks}-{mode.replace(' ', '-')}.txt"
                result = profiled(py_spy, tasks, mode, url, args.rate, raw, 8 if args.tiny else WORKFLOW_RUNS)
                columns.append((f"{tasks} tasks, {mode}", result))
    print(f"GIL-held µs per node run, by what holds it; {NODES}-node workflow, {IO_SECONDS * 1000:.0f} ms nodes,")
    print(f"{WORKFLOW_RUNS} workflow runs per case, py-spy --gil at {args.rate} Hz ({machine()})")

    def per_node(result: dict[str, Any], samples: int) -> float:
        return samples / args.rate / result["node_runs"] * 1e6

    rows: list[list[Any]] = []
    for category in CATEGORIES:
        rows.append([category, *(per_node(result, result["samples"][category]) for _, result in columns)])
    totals = [per_node(result, sum(result["samples"].values())) for _, result in columns]
    rows.append(["all GIL time", *totals])
    added = [total - totals[index - index % len(modes)] for index, total in enumerate(totals)]
    rows.append(["added to untraced", *added])
    throughputs = [result["node_runs"] / NODES / result["wall"] for _, result in columns]
    rows.append(["throughput (runs/s, profiled)", *throughputs])
    print(table(["GIL µs per node run", *(name for name, _ in columns)], rows))


if __name__ == "__main__":
    main()
