"""Where export CPU goes, function by function: otel-dynamiq beside the stock OTLP/HTTP exporter, in one run.

``export_throughput.py`` says how much CPU a span costs each exporter; this says what that CPU is spent
on, for the same four mixes. Each exporter exports the same spans (batches of 512, to a loopback sink in
its own process): once unprofiled, timing the exporting thread's CPU (``time.thread_time``) and the whole
process's (``time.process_time``: otel-dynamiq delivers on its own loop thread, OTLP on the exporting
thread), then once under ``cProfile`` counting the exporting thread's CPU. Each function's own time is
sorted into a part (translation, JSON, the run's envelope, the SDK's span reads, built-ins, HTTP, OTLP's
encoding) and the parts are scaled onto the unprofiled CPU, since the profiler's own cost per call
falls on many small calls more than on a few large ones.

    .venv/bin/python benchmarks/export_profile.py [--spans N] [--top N] [--tiny]
"""

from __future__ import annotations

import cProfile
import pstats
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from _support import machine, parser, sink_server, table
from export_throughput import BATCH, MIXES, NODE_ATTRIBUTES, dynamiq_node_attributes, make_spans, measure_both

PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("translation: span to run", ("otel_dynamiq/_translation/",)),
    ("the run's JSON and request bodies", ("otel_dynamiq/_delivery/bodies.py", "otel_dynamiq/_delivery/cutting.py")),
    ("exporter: notes, ledger, hand-off", ("otel_dynamiq/",)),
    ("OTLP: span to protobuf", ("opentelemetry/exporter/otlp/",)),
    ("protobuf", ("google/protobuf/",)),
    ("SDK: span and attribute reads", ("opentelemetry/",)),
    ("HTTP on this thread (requests, urllib3, http.client, ssl)", ("requests/", "urllib3/", "http/", "ssl.py")),
    ("waiting for and handing off delivery", ("concurrent/futures/", "threading.py", "asyncio/")),
)
"""The parts a function's own time is sorted into by its file, the first matching prefix winning."""
BUILTINS = {
    "orjson.dumps": "JSON: orjson.dumps",
    "orjson.loads": "JSON: orjson.loads",
    "loads": "JSON: json.loads",
}
"""Built-ins that are a part of their own; any other built-in (isinstance, str and dict methods, ...) counts as
"Python built-ins"."""


def part_of(function: tuple[str, int, str]) -> str:
    filename, _, name = function
    if filename == "~":
        for key, part in BUILTINS.items():
            if key in name:
                return part
        return "Python built-ins (isinstance, str, dict, ...)"
    path = filename.replace("\\", "/")
    for part, prefixes in PARTS:
        if any(prefix in path for prefix in prefixes):
            return part
    return "other Python"


def label_of(function: tuple[str, int, str]) -> str:
    filename, line, name = function
    if filename == "~":
        return name
    path = filename.replace("\\", "/")
    for root in ("otel_dynamiq/", "opentelemetry/", "google/protobuf/"):
        if root in path:
            path = root + path.split(root, 1)[1]
            break
    else:
        path = path.rsplit("/", 1)[-1]
    return f"{name} ({path}:{line})"


class Profiled:
    """One exporter over one mix: unprofiled CPU per span (exporting thread, process) and its profile."""

    def __init__(self, spans: Sequence[Any], export: Callable[[Sequence[Any]], Any]) -> None:
        def one_pass() -> None:
            for start in range(0, len(spans), BATCH):
                export(spans[start : start + BATCH])

        one_pass()  # warm up: imports, connections, caches
        thread, process = time.thread_time(), time.process_time()
        one_pass()
        self.thread_us = (time.thread_time() - thread) / len(spans) * 1e6
        self.process_us = (time.process_time() - process) / len(spans) * 1e6
        profile = cProfile.Profile(time.thread_time)
        profile.runcall(one_pass)
        stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
        own = {function: entry[2] for function, entry in stats.items()}  # tottime
        self.calls = {function: entry[1] for function, entry in stats.items()}  # primitive and recursive calls
        total = sum(own.values()) or 1.0
        scale = self.thread_us / total  # profiled seconds onto unprofiled µs per span
        self.functions = {function: seconds * scale for function, seconds in own.items()}
        self.parts: Counter[str] = Counter()
        for function, us in self.functions.items():
            self.parts[part_of(function)] += us
        self.count = len(spans)


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--spans", type=int, default=5_120, help="spans per mix")
    arguments.add_argument("--top", type=int, default=12, help="otel-dynamiq's costliest functions shown per mix")
    args = arguments.parse_args()
    NODE_ATTRIBUTES.update(dynamiq_node_attributes(0))
    count = 1_024 if args.tiny else args.spans
    print(f"Export CPU by part and by function, {count:,} spans per mix in batches of {BATCH} ({machine()})")
    print("µs per span of CPU; a part's share comes from cProfile (thread CPU), scaled onto the unprofiled figure")
    with sink_server() as url:
        for mix, (name, attributes) in MIXES.items():
            ours, otlp = measure_both(url, make_spans(count, name, attributes), Profiled)
            print()
            print(
                f"{mix}: otel-dynamiq {ours.process_us:.1f} µs/span in the process ({ours.thread_us:.1f} on the"
                f" exporting thread, the rest delivering on its loop thread); OTLP {otlp.process_us:.1f}"
                f" ({otlp.thread_us:.1f} on the exporting thread); ratio {ours.process_us / otlp.process_us:.2f},"
                f" a third of OTLP's is {otlp.process_us / 3:.1f}"
            )
            names = sorted(set(ours.parts) | set(otlp.parts), key=lambda part: -(ours.parts[part] + otlp.parts[part]))
            rows: list[list[Any]] = [[part, ours.parts[part], otlp.parts[part]] for part in names]
            rows.append(
                ["other threads (delivery)", ours.process_us - ours.thread_us, otlp.process_us - otlp.thread_us]
            )
            print(table(["part (exporting thread)", "otel-dynamiq µs/span", "OTLP µs/span"], rows))
            top = sorted(ours.functions.items(), key=lambda item: -item[1])[: args.top]
            print(
                table(
                    ["otel-dynamiq's costliest functions (own time)", "calls/span", "µs/span"],
                    [[label_of(function), ours.calls[function] / ours.count, us] for function, us in top],
                )
            )


if __name__ == "__main__":
    main()
