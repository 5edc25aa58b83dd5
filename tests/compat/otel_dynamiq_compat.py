"""A pytest plugin that runs a whole test session with Dynamiq instrumented, as an application would be.

Loaded by ``tests/compat/run_compat.py`` (``-p otel_dynamiq_compat``) into
Dynamiq's own test suite. At session start every pytest process (each xdist
worker too) instruments Dynamiq with a real ``TracerProvider``, a
``BatchSpanProcessor`` and ``DynamiqSpanExporter`` delivering to a local
collector on 127.0.0.1, which validates every run against the wire format.
At the end it writes what was traced to ``$OTEL_DYNAMIQ_COMPAT_REPORT_DIR``,
so the runner can tell a suite that ran traced from one that silently did not.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

REPORT_DIR_VARIABLE = "OTEL_DYNAMIQ_COMPAT_REPORT_DIR"


class Tracing:
    """The instrumentation of one pytest process, from session start to session end."""

    def __init__(self) -> None:
        from opentelemetry.instrumentation.dynamiq import DynamiqInstrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from otel_dynamiq import DynamiqSpanExporter
        from otel_dynamiq.collector import LocalCollector

        self._workdir = tempfile.TemporaryDirectory(prefix="otel-dynamiq-compat-")
        self.collector = LocalCollector(database=str(Path(self._workdir.name) / "runs.sqlite3")).start()
        self.exporter = DynamiqSpanExporter(endpoint=self.collector.url, spool=False)
        self.provider = TracerProvider()
        self.provider.add_span_processor(BatchSpanProcessor(self.exporter))
        self.instrumentor = DynamiqInstrumentor()
        self.instrumentor.instrument(tracer_provider=self.provider)

    def finish(self) -> dict[str, Any]:
        self.provider.shutdown()
        stats = self.exporter.stats
        report = {
            "runs_stored": len(self.collector.store.delivery_counts()),
            "runs_sent": stats.runs_sent,
            "runs_dropped": dict(stats.runs_dropped),
            "recording_failures": self.instrumentor.recording_failures,
            "open_runs": self.instrumentor.open_runs,
        }
        self.instrumentor.uninstrument()
        self.collector.stop()
        self._workdir.cleanup()
        return report


_tracing: Tracing | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _tracing
    if hasattr(session.config, "workerinput") or not _is_xdist_controller(session.config):
        _tracing = Tracing()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _tracing
    if _tracing is None:
        return
    report = _tracing.finish()
    _tracing = None
    worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
    report_dir = os.environ.get(REPORT_DIR_VARIABLE)
    if report_dir:
        Path(report_dir, f"{worker}.json").write_text(json.dumps(report, indent=2))


def _is_xdist_controller(config: pytest.Config) -> bool:
    """The xdist controller runs no test; only its workers need tracing."""
    numprocesses = getattr(config.option, "numprocesses", None)
    return bool(numprocesses)
