"""Send OpenTelemetry traces to Dynamiq as runs, without the application waiting on the network.

Manual setup::

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from otel_dynamiq import DynamiqSpanExporter

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DynamiqSpanExporter()))
    trace.set_tracer_provider(provider)
"""

from otel_dynamiq._config import ExporterConfig, ExporterOptions
from otel_dynamiq._delivery.stats import DropReason, ExporterStats
from otel_dynamiq._process_end import force_flush
from otel_dynamiq.exporter import DynamiqSpanExporter
from otel_dynamiq.processors import GenAIContentEventProcessor, NestedCallMarker
from otel_dynamiq.version import __version__

__all__ = [
    "DropReason",
    "DynamiqSpanExporter",
    "ExporterConfig",
    "ExporterOptions",
    "ExporterStats",
    "GenAIContentEventProcessor",
    "NestedCallMarker",
    "__version__",
    "force_flush",
]
