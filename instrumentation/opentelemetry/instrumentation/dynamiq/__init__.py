"""OpenTelemetry instrumentation for Dynamiq workflows, flows and nodes.

Every Dynamiq run (workflow, flow, node, including the LLM calls and tools
that agents run inside other nodes) becomes one span, current while it runs,
carrying everything Dynamiq's native tracing would have sent. While
instrumented, ``Flow.run_sync`` and ``Flow.run_async`` wait only after a
scheduling step that finished nothing.

Usage::

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.instrumentation.dynamiq import DynamiqInstrumentor
    from otel_dynamiq import DynamiqSpanExporter

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DynamiqSpanExporter()))
    DynamiqInstrumentor().instrument(tracer_provider=provider)

``OTEL_INSTRUMENTATION_DYNAMIQ_CAPTURE_CONTENT=false`` keeps inputs, outputs,
prompts and tool payloads out of the spans.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.dynamiq.package import _instruments
from opentelemetry.instrumentation.dynamiq.version import __version__
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.trace import get_tracer

__all__ = ["DynamiqInstrumentor", "__version__"]

_SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"

# (module, attribute path, kind, is async): only base classes, so a subclass
# that calls super() is traced once, not once per level.
_PATCHES = (
    ("dynamiq.workflow.workflow", "Workflow.run_sync", "workflow", False),
    ("dynamiq.workflow.workflow", "Workflow.run_async", "workflow", True),
    ("dynamiq.flows.flow", "Flow.run_sync", "flow", False),
    ("dynamiq.flows.flow", "Flow.run_async", "flow", True),
    ("dynamiq.nodes.node", "Node.run_sync", "node", False),
    ("dynamiq.nodes.node", "Node._run_async_native", "node", True),
)
_STEP_PATCH = ("dynamiq.executors.pool", "PoolExecutor.execute")
_SERIALIZATION_PATCHES = (
    ("dynamiq.workflow.workflow", "Workflow.to_dict"),
    ("dynamiq.flows.flow", "Flow.to_dict"),
    ("dynamiq.nodes.node", "Node.to_dict"),
)


class DynamiqInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Trace Dynamiq runs as OpenTelemetry spans; see the module docstring."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        # Imported here so that auto-instrumentation can load this module without Dynamiq installed.
        import importlib

        import wrapt
        from dynamiq.flows import flow as flow_module
        from opentelemetry.instrumentation.dynamiq import _polling
        from opentelemetry.instrumentation.dynamiq._recorder import SpanRunRecorder
        from opentelemetry.instrumentation.dynamiq._serialization import memoized_to_dict
        from opentelemetry.instrumentation.dynamiq._settings import load_settings
        from opentelemetry.instrumentation.dynamiq._wrappers import (
            RunTracer,
            facts_for_flow,
            facts_for_node,
            facts_for_workflow,
        )

        from otel_dynamiq._logging import reclaim_loggers

        tracer = get_tracer(__name__, __version__, kwargs.get("tracer_provider"), schema_url=_SCHEMA_URL)
        settings = load_settings(kwargs.get("capture_content"), kwargs.get("max_content_length"))
        self._recorder = SpanRunRecorder(runs={})
        run_tracer = RunTracer(tracer, self._recorder, settings)
        describe = {"workflow": facts_for_workflow, "flow": facts_for_flow, "node": facts_for_node}
        for module, attribute, kind, is_async in _PATCHES:
            importlib.import_module(module)
            factory = run_tracer.wrap_async if is_async else run_tracer.wrap_sync
            wrapt.wrap_function_wrapper(module, attribute, factory(describe[kind]))

        wrapt.wrap_function_wrapper(*_STEP_PATCH, _polling.record_step)
        for module, attribute in _SERIALIZATION_PATCHES:
            wrapt.wrap_function_wrapper(module, attribute, memoized_to_dict)
        _polling.install(flow_module)
        reclaim_loggers()  # importing Dynamiq just set our loggers to ERROR

    def _uninstrument(self, **kwargs: Any) -> None:
        import importlib

        from dynamiq.flows import flow as flow_module
        from opentelemetry.instrumentation.dynamiq import _polling

        patched = [(module, attribute) for module, attribute, _, _ in _PATCHES]
        for module, attribute in (*patched, _STEP_PATCH, *_SERIALIZATION_PATCHES):
            owner_name, method = attribute.split(".")
            unwrap(getattr(importlib.import_module(module), owner_name), method)
        _polling.uninstall(flow_module)

    @property
    def open_runs(self) -> int:
        """Runs being tracked right now: zero whenever no Dynamiq run is in progress."""
        recorder = getattr(self, "_recorder", None)
        return recorder.open_runs() if recorder is not None else 0
