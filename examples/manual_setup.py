"""Manual setup: your own TracerProvider with a BatchSpanProcessor around the Dynamiq exporter.

    DYNAMIQ_ACCESS_KEY=... python examples/manual_setup.py

Settings come from the environment (see the README); keyword arguments of
``DynamiqSpanExporter`` override them.
"""

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_dynamiq import DynamiqSpanExporter

provider = TracerProvider(resource=Resource.create({"service.name": "manual-setup-example"}))
exporter = DynamiqSpanExporter()
provider.add_span_processor(BatchSpanProcessor(exporter))
trace.set_tracer_provider(provider)

tracer = trace.get_tracer("examples.manual_setup")
with tracer.start_as_current_span("handle request") as root:
    with tracer.start_as_current_span("retrieve documents", attributes={"input.value": "refund policy"}):
        pass

provider.shutdown()  # flushes the queue; also registered at exit
print(format(root.get_span_context().trace_id, "032x"))
print(f"runs sent: {exporter.stats.runs_sent}, dropped: {exporter.stats.runs_dropped_total}")
