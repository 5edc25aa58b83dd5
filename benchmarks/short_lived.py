"""Short-lived processes: what the exporter costs a process at start-up and how long it holds its exit.

Each sample is a fresh subprocess of ``tests/apps/short_lived.py manual`` (a
provider, the exporter, two spans, then exit without ``shutdown()``):

- import: the wall time of ``import otel_dynamiq``;
- first span: wall time on the application's thread from building the
  provider and exporter to the end of its first span, and the CPU time of the
  whole process meanwhile (the exporter's own threads included);
- exit: the whole process's wall time with the service up (a loopback
  collector), down (a refused port) and slow (answering after 60 s, with the
  exporter's timeout at 1 s), and whether its runs arrived or were spooled.

With ``--compare REV`` the same samples run, interleaved, against the tree at
git revision REV (checked out into a temporary worktree) and the ratios are
printed: how this change moved start-up and exit.

    .venv/bin/python benchmarks/short_lived.py [--compare REV] [--repeat N] [--tiny]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _support import ROOT, free_port, machine, median, parser, table

from examples.loopback import LoopbackServer, QuietHandler
from otel_dynamiq._config import load_config
from otel_dynamiq._delivery.spool import inspect_spool
from otel_dynamiq.collector import LocalCollector

_PROBE = """
import json, sys, time
started, cpu = time.perf_counter(), time.process_time()
import otel_dynamiq
imported = time.perf_counter() - started
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
built = time.perf_counter()
cpu_built = time.process_time()
provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(otel_dynamiq.DynamiqSpanExporter()))
with provider.get_tracer("probe").start_as_current_span("first"):
    pass
print(json.dumps({"import": imported, "first_span": time.perf_counter() - built,
                  "first_span_cpu": time.process_time() - cpu_built}))
"""


class _Slow(QuietHandler):
    def do_POST(self) -> None:
        self.read_body()
        time.sleep(60)


@contextmanager
def slow_server() -> Iterator[str]:
    with LoopbackServer(_Slow) as server:
        yield server.url


@contextmanager
def tree_at(revision: str | None) -> Iterator[Path]:
    """The checkout itself, or a temporary worktree of another revision."""
    if revision is None:
        yield ROOT
        return
    with tempfile.TemporaryDirectory(prefix="otel-dynamiq-compare-") as scratch:
        path = Path(scratch) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(path), revision], cwd=ROOT, check=True)
        try:
            yield path
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False)


def environment(tree: Path, endpoint: str, spool: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DYNAMIQ_"))}
    keep.update(
        PYTHONPATH=f"{tree}{os.pathsep}{tree / 'instrumentation'}",
        OTEL_EXPORTER_DYNAMIQ_ENDPOINT=endpoint,
        OTEL_EXPORTER_DYNAMIQ_TIMEOUT="1",
        OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR=spool,
        LITELLM_LOCAL_MODEL_COST_MAP="True",
    )
    return keep


def probe(tree: Path, endpoint: str, spool: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=environment(tree, endpoint, spool),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(json.loads(done.stdout.splitlines()[-1]))


def spooled_runs(endpoint: str, spool: str) -> int:
    state = inspect_spool(load_config(endpoint=endpoint, spool_dir=spool))
    return state.runs if state is not None else 0


def exit_time(tree: Path, endpoint: str, spool: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ROOT / "tests" / "apps" / "short_lived.py"), "manual"],
        env=environment(tree, endpoint, spool),
        capture_output=True,
        timeout=120,
        check=True,
    )
    return time.perf_counter() - started


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--compare", metavar="REV", help="also run the tree at this git revision")
    arguments.add_argument("--repeat", type=int, default=9)
    options = arguments.parse_args()
    repeat = 2 if options.tiny else options.repeat
    print(f"short-lived processes, {machine()}, {repeat} samples each, median\n")

    with (
        tree_at(None) as this_tree,
        tree_at(options.compare) as other_tree,
        LocalCollector() as collector,
        slow_server() as slow,
        tempfile.TemporaryDirectory() as spools,
    ):
        trees = {"this tree": this_tree} | ({f"at {options.compare}": other_tree} if options.compare else {})
        endpoints = {"up": collector.url, "down": f"http://127.0.0.1:{free_port()}", "slow": slow}
        samples: dict[tuple[str, str], list[float]] = {}
        spooled: dict[str, int] = {}
        for index in range(repeat):
            for side, tree in trees.items():  # interleaved, so a busy moment costs both sides alike
                spool = str(Path(spools) / f"{side}-{index}")
                measured = probe(tree, collector.url, spool)
                for what in ("import", "first_span", "first_span_cpu"):
                    samples.setdefault((side, what), []).append(measured[what])
                for state, endpoint in endpoints.items():
                    samples.setdefault((side, f"exit, service {state}"), []).append(exit_time(tree, endpoint, spool))
                    spooled[state] = spooled.get(state, 0) + spooled_runs(endpoint, spool)
        stored = len(collector.store.runs())

    rows = []
    measures = ["import", "first_span", "first_span_cpu"] + [f"exit, service {state}" for state in endpoints]
    for what in measures:
        row: list[Any] = [what] + [median(samples[(side, what)]) * 1000 for side in trees]
        if options.compare:
            row.append(row[1] / row[2] if row[2] else float("nan"))
        rows.append(row)
    headers = ["ms", *trees] + (["this / other"] if options.compare else [])
    print(table(headers, rows))
    expected = 3 * repeat * len(trees)
    print(f"\nruns the collector stored: {stored} of {expected} (one from each start-up probe, two from each exit up)")
    exits = 2 * repeat * len(trees)
    print(
        "runs spooled at exit (each resent by the next process): "
        + ", ".join(f"service {state} {count} of {exits}" for state, count in spooled.items())
    )


if __name__ == "__main__":
    main()
