"""The main thread starts a worker thread (not a daemon) and returns; the worker keeps exporting.

    thread_outlives_main.py

Until that thread ends the application is alive, not exiting: a failed export
must be retried as usual, not spooled as at exit. Prints nothing; the exporter
is configured from the environment.
"""

from __future__ import annotations

import threading
import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_dynamiq import DynamiqSpanExporter

provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(DynamiqSpanExporter()))


def serve() -> None:
    time.sleep(0.2)  # the main thread has returned by now
    with provider.get_tracer("outlives-main").start_as_current_span("after main returned"):
        pass


threading.Thread(target=serve).start()
