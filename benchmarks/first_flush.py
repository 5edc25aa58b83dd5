"""The first flush after start-up: ours beside the stock OTLP/HTTP exporter, each in fresh processes.

A serverless function flushes its provider before its first invocation returns,
often within milliseconds of building the exporter; whatever the exporter has
not readied by then (its HTTP stack's imports, its client) lands on that flush.
Each sample is a fresh subprocess that imports an exporter, builds it, sets up
a TracerProvider with a BatchSpanProcessor, waits 0 or 20 ms, ends a span and
calls ``provider.force_flush()`` (the first flush), then ends another span and
flushes again (a warm flush). Both sides send to the same loopback server
(answering 200 to every POST): ours to ``/v1/traces`` as Dynamiq runs,
``opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter`` to
``/v1/traces`` as OTLP protobuf.

Measured, on the application's thread: the import of the exporter's module,
the exporter's construction, and each flush, in wall time and in the whole
process's CPU time (the exporter's own threads included). The subprocesses
write and read bytecode in a cache of their own (one discarded run per side
fills it), as an installed package's modules are compiled when installed.

    .venv/bin/python benchmarks/first_flush.py [--repeat N] [--tiny]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _support import ROOT, machine, median, parser, sink_server, table

_PROBE = """
import json, sys, time
side, delay, url = sys.argv[1], float(sys.argv[2]), sys.argv[3]
clock, cpu = time.perf_counter, time.process_time
started, started_cpu = clock(), cpu()
if side == "ours":
    from otel_dynamiq import DynamiqSpanExporter
    make = lambda: DynamiqSpanExporter(endpoint=url)
else:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    make = lambda: OTLPSpanExporter(endpoint=url + "/v1/traces")
imported, imported_cpu = clock() - started, cpu() - started_cpu
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
started, started_cpu = clock(), cpu()
exporter = make()
built, built_cpu = clock() - started, cpu() - started_cpu
provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(exporter))
tracer = provider.get_tracer("first-flush")

def flush(name):
    with tracer.start_as_current_span(name):
        pass
    started, started_cpu = clock(), cpu()
    assert provider.force_flush(10_000)
    return clock() - started, cpu() - started_cpu

time.sleep(delay)
first, first_cpu = flush("first")
warm, warm_cpu = flush("warm")
if side == "ours":
    assert exporter.stats.runs_sent == 2, exporter.stats
provider.shutdown()
print(json.dumps({
    "import": imported, "import_cpu": imported_cpu, "construction": built, "construction_cpu": built_cpu,
    "first flush": first, "first flush_cpu": first_cpu, "warm flush": warm, "warm flush_cpu": warm_cpu,
}))
"""

SIDES = ("ours", "stock")
MEASURES = ("import", "construction", "first flush", "warm flush")


def environment(pycache: str, spool: str) -> dict[str, str]:
    keep = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "DYNAMIQ_")) and key != "PYTHONDONTWRITEBYTECODE"
    }
    keep.update(
        PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'instrumentation'}",
        PYTHONPYCACHEPREFIX=pycache,
        OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR=spool,
        LITELLM_LOCAL_MODEL_COST_MAP="True",
    )
    return keep


def probe(side: str, delay: float, url: str, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, side, str(delay), url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise SystemExit(f"the {side} probe failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.splitlines()[-1]))


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--repeat", type=int, default=9)
    options = arguments.parse_args()
    repeat = 1 if options.tiny else options.repeat
    delays = (0.0, 0.02)
    print(f"the first flush after start-up, {machine()}, {repeat} fresh processes per cell, median\n")

    with sink_server() as url, tempfile.TemporaryDirectory() as scratch:
        env = environment(str(Path(scratch) / "pycache"), str(Path(scratch) / "spool"))
        for side in SIDES:  # fills the bytecode cache; not measured
            probe(side, 0.0, url, env)
        samples: dict[tuple[float, str, str], list[float]] = {}
        for _ in range(repeat):
            for delay in delays:
                for side in SIDES:  # interleaved, so a busy moment costs both sides alike
                    for key, value in probe(side, delay, url, env).items():
                        samples.setdefault((delay, side, key), []).append(value * 1000)

    for delay in delays:
        rows: list[list[Any]] = []
        for what in MEASURES:
            for clock in ("", "_cpu"):
                ours, stock = (median(samples[(delay, side, what + clock)]) for side in SIDES)
                rows.append([what + (" (CPU)" if clock else ""), ours, stock, ours / stock if stock else float("nan")])
        print(f"first flush {delay * 1000:.0f} ms after construction")
        print(table(["ms", "ours", "stock", "ours/stock"], rows))
        print()


if __name__ == "__main__":
    main()
