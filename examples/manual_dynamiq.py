"""Manual setup with Dynamiq: your TracerProvider, the Dynamiq exporter and the instrumentor.

export DYNAMIQ_ACCESS_KEY=... OPENAI_API_KEY=...
python examples/manual_dynamiq.py
"""

from opentelemetry.instrumentation.dynamiq import DynamiqInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_dynamiq import DynamiqSpanExporter

provider = TracerProvider(resource=Resource.create({"service.name": "manual-dynamiq-example"}))
provider.add_span_processor(BatchSpanProcessor(DynamiqSpanExporter()))
DynamiqInstrumentor().instrument(tracer_provider=provider)

import dynamiq_app  # noqa: E402 - any order works; instrumenting first is the habit to keep

dynamiq_app.main()
provider.shutdown()  # flush before exit (also registered at exit when set as the global provider)
