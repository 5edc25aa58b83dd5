"""The gunicorn --preload pattern: instrument and set up tracing once, then fork four workers.

Each worker runs a real Dynamiq workflow tagged with its pid, shuts its provider down (flushing its
spans) and exits; the parent waits for all of them, then runs one workflow of its own.
"""

import os
import sys

from opentelemetry.instrumentation.dynamiq import DynamiqInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_dynamiq import DynamiqSpanExporter
from tests.support.dynamiq_apps import sequential_flow

exporter = DynamiqSpanExporter(endpoint=sys.argv[1])
provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(exporter))
DynamiqInstrumentor().instrument(tracer_provider=provider)
sequential_flow().run_sync(input_data={"who": "parent-before-fork"})
provider.force_flush()  # the parent's loop thread and client exist before the fork

workers = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        sequential_flow().run_sync(input_data={"who": f"worker-{os.getpid()}"})
        provider.shutdown()
        os._exit(0 if exporter.stats.runs_dropped_total == 0 else 3)
    workers.append(pid)

codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in workers]
sequential_flow().run_sync(input_data={"who": "parent-after-fork"})
provider.shutdown()
print(" ".join(str(pid) for pid in workers))
sys.exit(max(codes))
