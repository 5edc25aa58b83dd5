"""Export in the parent, fork, and export from both sides with the same provider and exporter."""

import os
import sys

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_dynamiq import DynamiqSpanExporter

exporter = DynamiqSpanExporter(endpoint=sys.argv[1])
provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(exporter))
tracer = provider.get_tracer("fork-test")

with tracer.start_as_current_span("parent-before-fork"):
    pass
provider.force_flush()  # the parent's loop thread and HTTP client now exist

child = os.fork()
if child == 0:
    with tracer.start_as_current_span(f"child-{os.getpid()}"):
        pass
    provider.shutdown()
    os._exit(0 if exporter.stats.runs_dropped_total == 0 else 3)

with tracer.start_as_current_span("parent-after-fork"):
    pass
provider.shutdown()
_, status = os.waitpid(child, 0)
print(child)
sys.exit(os.waitstatus_to_exitcode(status))
