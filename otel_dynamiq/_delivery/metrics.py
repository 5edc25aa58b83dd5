"""The exporter's counters as OpenTelemetry metrics, for whoever configured a MeterProvider.

Observable counters read ``exporter.stats`` at collection time, so the
export path pays nothing for them; with no MeterProvider configured they
are no-ops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation, get_meter_provider

from otel_dynamiq._delivery.stats import ExporterStats
from otel_dynamiq.version import __version__

_TOTALS: tuple[tuple[str, Callable[[ExporterStats], int], str, str], ...] = (
    ("otel_dynamiq.exporter.runs.sent", lambda s: s.runs_sent, "{run}", "Runs the Dynamiq service accepted."),
    ("otel_dynamiq.exporter.requests", lambda s: s.requests, "{request}", "HTTP requests made, retries included."),
    ("otel_dynamiq.exporter.retries", lambda s: s.retries, "{retry}", "Requests made again after a retryable failure."),
    ("otel_dynamiq.exporter.runs.spooled", lambda s: s.runs_spooled, "{run}", "Runs kept in the spool for later."),
    ("otel_dynamiq.exporter.runs.resent", lambda s: s.runs_resent, "{run}", "Runs accepted from the spool."),
    (
        "otel_dynamiq.exporter.runs.returned",
        lambda s: s.runs_returned,
        "{run}",
        "Runs a full spool that refuses (the gateway's) gave back to their sender.",
    ),
)
"""The counters that are one total each: name, how to read it, unit, description."""


def publish(stats: Callable[[], ExporterStats], meter_provider: MeterProvider | None = None) -> None:
    meter = (meter_provider or get_meter_provider()).get_meter("otel_dynamiq", __version__)

    def reading(value: Callable[[ExporterStats], int]) -> Callable[[CallbackOptions], Iterable[Observation]]:
        return lambda _options: [Observation(value(stats()))]

    for name, value, unit, description in _TOTALS:
        meter.create_observable_counter(name, [reading(value)], unit=unit, description=description)

    def dropped(_options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(count, {"reason": reason}) for reason, count in stats().runs_dropped.items()]

    meter.create_observable_counter(
        "otel_dynamiq.exporter.runs.dropped",
        [dropped],
        unit="{run}",
        description="Runs given up on, by reason.",
    )
