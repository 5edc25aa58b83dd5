"""Memory under outage: the collector refuses connections while a million spans are made.

Spans go through the stock BatchSpanProcessor (queue 2048, batches of 512)
to ``DynamiqSpanExporter`` pointed at a port where nothing listens, with its
spool in a fresh temporary directory. Memory must stay bounded (the queue,
plus one batch in the exporter's hands: the spool is on disk), and every
span must be accounted for: delivered, waiting in the spool, or dropped and
counted, either by the processor (its ``otel.sdk.processor.span.processed``
metric with ``error.type=queue_full``) or by the exporter (``exporter.stats``,
which counts what the spool's size cap pushed out).

    .venv/bin/python benchmarks/memory_outage.py [--spans N] [--spool-mib M] [--tiny]
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from typing import Any

from _support import machine, parser, refused_url, table

QUEUE = 2048
BATCH = 512


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    """Samples this process's resident memory every 20 ms; keeps the peak."""

    def __init__(self) -> None:
        self.peak = rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mib())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib())


def queue_full_drops(reader: Any) -> int:
    data = reader.get_metrics_data()
    dropped = 0
    for resource_metrics in data.resource_metrics if data else []:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name != "otel.sdk.processor.span.processed":
                    continue
                for point in metric.data.data_points:
                    if point.attributes.get("error.type") == "queue_full":
                        dropped += point.value
    return dropped


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--spans", type=int, default=1_000_000)
    arguments.add_argument("--spool-mib", type=int, default=100, help="the spool's size cap (default: the default)")
    args = arguments.parse_args()
    from export_throughput import dynamiq_node_attributes
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from otel_dynamiq import DynamiqSpanExporter

    # The processor counts its drops only with the SDK's own metrics switched on.
    os.environ["OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED"] = "true"
    logging.getLogger("opentelemetry.sdk._shared_internal").setLevel(logging.ERROR)  # a warning per drop
    count = 20_000 if args.tiny else args.spans
    reader = InMemoryMetricReader()
    spool_dir = tempfile.TemporaryDirectory(prefix="otel-dynamiq-outage-")
    exporter = DynamiqSpanExporter(
        endpoint=refused_url(),
        timeout=1 if args.tiny else 10,
        spool_dir=spool_dir.name,
        spool_max_bytes=(4 if args.tiny else args.spool_mib) * 1024 * 1024,
    )
    provider = TracerProvider()
    processor = BatchSpanProcessor(
        exporter, max_queue_size=QUEUE, max_export_batch_size=BATCH, meter_provider=MeterProvider([reader])
    )
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("outage")
    attributes = dynamiq_node_attributes(0)

    baseline = rss_mib()
    began = time.perf_counter()
    with PeakRss() as memory:
        for index in range(count):
            with tracer.start_as_current_span(f"node {index}", attributes=attributes):
                pass
        produced_in = time.perf_counter() - began
        provider.force_flush()
        spool = exporter.spool_state()
        provider.shutdown()
    assert spool is not None
    stats = exporter.stats
    processor_drops = queue_full_drops(reader)
    accounted = stats.runs_sent + stats.runs_dropped_total + processor_drops + spool.runs
    rows = [
        ["spans produced", count],
        ["seconds to produce them", produced_in],
        ["delivered", stats.runs_sent],
        ["put in the spool", stats.runs_spooled],
        ["waiting in the spool at the end", spool.runs],
        ["spool on disk, MiB", spool.size_bytes / 1024 / 1024],
        ["dropped by the processor (queue full)", processor_drops],
        *[[f"dropped by the exporter ({reason})", number] for reason, number in sorted(stats.runs_dropped.items())],
        ["unaccounted for", count - accounted],
        ["resident memory before, MiB", baseline],
        ["peak growth, MiB", memory.peak - baseline],
    ]
    spool_dir.cleanup()
    print(f"Collector refusing connections ({machine()})")
    print(table(["", "value"], rows))
    print(f"Bound: at most {QUEUE} queued spans plus one {BATCH}-span batch being exported are held at once.")


if __name__ == "__main__":
    main()
