"""Our warnings survive Dynamiq's import, which sets every existing logger to ERROR."""

from __future__ import annotations

import subprocess
import sys

from tests.support.processes import ROOT, clean_env

SCRIPT = """
import logging
logging.basicConfig(level=logging.WARNING)
from otel_dynamiq import DynamiqSpanExporter    # first, as under opentelemetry-instrument
import dynamiq                                  # sets every existing logger to ERROR
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
exporter = DynamiqSpanExporter(endpoint="http://127.0.0.1:9", timeout=0.5)  # nothing listens on port 9
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
with provider.get_tracer("t").start_as_current_span("lost"):
    pass
provider.shutdown()
"""


def test_a_drop_is_still_logged_after_dynamiq_is_imported() -> None:
    environment = clean_env(LITELLM_LOCAL_MODEL_COST_MAP="True")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=environment, capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert "Dynamiq did not take 1 runs in time" in done.stderr
