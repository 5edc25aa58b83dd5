"""The exporter's counters as OpenTelemetry metrics, for whoever configured a MeterProvider.

Observable counters read ``exporter.stats`` at collection time, so the
export path pays nothing for them; with no MeterProvider configured they
are no-ops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation, get_meter_provider

from otel_dynamiq._stats import ExporterStats
from otel_dynamiq.version import __version__


def publish(stats: Callable[[], ExporterStats], meter_provider: MeterProvider | None = None) -> None:
    meter = (meter_provider or get_meter_provider()).get_meter("otel_dynamiq", __version__)

    def reading(value: Callable[[ExporterStats], int]) -> Callable[[CallbackOptions], Iterable[Observation]]:
        return lambda _options: [Observation(value(stats()))]

    def dropped(_options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(count, {"reason": reason}) for reason, count in stats().runs_dropped.items()]

    meter.create_observable_counter(
        "otel_dynamiq.exporter.runs.sent",
        [reading(lambda s: s.runs_sent)],
        unit="{run}",
        description="Runs the Dynamiq service accepted.",
    )
    meter.create_observable_counter(
        "otel_dynamiq.exporter.requests",
        [reading(lambda s: s.requests)],
        unit="{request}",
        description="HTTP requests made, retries included.",
    )
    meter.create_observable_counter(
        "otel_dynamiq.exporter.retries",
        [reading(lambda s: s.retries)],
        unit="{retry}",
        description="Requests made again after a retryable failure.",
    )
    meter.create_observable_counter(
        "otel_dynamiq.exporter.runs.dropped",
        [dropped],
        unit="{run}",
        description="Runs given up on, by reason.",
    )
