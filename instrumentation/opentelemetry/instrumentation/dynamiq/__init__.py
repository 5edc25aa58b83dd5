"""OpenTelemetry instrumentation for Dynamiq workflows, flows and nodes.

Every Dynamiq run (workflow, flow, node, including the LLM calls and tools
that agents run inside other nodes) becomes one span, current while it runs,
carrying everything Dynamiq's native tracing would have sent.

Two speed-ups change how Dynamiq itself runs, with the same results: flow
loops sleep only after a scheduling step that finished nothing
(``_polling.py``), and ``format_value`` formats plain JSON-like values in one walk
(``_fast_format.py``). ``instrument(speedups=False)`` or
``OTEL_INSTRUMENTATION_DYNAMIQ_SPEEDUPS=false`` leaves them out: pure
tracing, for anyone who suspects them or must run Dynamiq unchanged.

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


class DynamiqInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Trace Dynamiq runs as OpenTelemetry spans; see the module docstring.

    ``instrument()`` takes, beside ``BaseInstrumentor``'s own ``tracer_provider``:
        capture_content: False keeps inputs, outputs, prompts and tool payloads out of the spans
            (default ``OTEL_INSTRUMENTATION_DYNAMIQ_CAPTURE_CONTENT``, else True).
        max_content_length: characters kept of each captured value before it is cut with a visible
            marker (default ``OTEL_INSTRUMENTATION_DYNAMIQ_MAX_CONTENT_LENGTH``, else 100000).
        speedups: False leaves Dynamiq's own polling and formatting in place, tracing only
            (default ``OTEL_INSTRUMENTATION_DYNAMIQ_SPEEDUPS``, else True).
        span_notes: the ``otel_dynamiq.processors.SpanNotes`` the nested-call marker it adds writes to:
            the one given to the exporter with ``span_notes=`` (default ``SHARED_NOTES``, as the exporter's).
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        # Imported here so that auto-instrumentation can load this module without Dynamiq installed.
        import functools
        import importlib

        import wrapt
        from opentelemetry.instrumentation.dynamiq import _speedups
        from opentelemetry.instrumentation.dynamiq._callbacks import EVENTS
        from opentelemetry.instrumentation.dynamiq._facts import facts_for_flow, facts_for_node, facts_for_workflow
        from opentelemetry.instrumentation.dynamiq._recorder import RunRecorder
        from opentelemetry.instrumentation.dynamiq._settings import load_settings, load_speedups
        from opentelemetry.instrumentation.dynamiq._wrappers import RunTracer

        from otel_dynamiq.log_lines import reclaim_loggers
        from otel_dynamiq.processors import mark_nested_calls

        tracer = get_tracer(__name__, __version__, kwargs.get("tracer_provider"), schema_url=_SCHEMA_URL)
        # The LLM client spans under an LLM node describe its call again: marked, so its usage counts once.
        # Instrumented before the application set the SDK's provider, the marker is added at the first run.
        provider = kwargs.get("tracer_provider")
        notes = kwargs.get("span_notes")
        marked = mark_nested_calls(provider, notes)
        settings = load_settings(kwargs.get("capture_content"), kwargs.get("max_content_length"))
        speedups = load_speedups(kwargs.get("speedups"))  # before any patch: a bad value leaves Dynamiq untouched
        self._recorder = RunRecorder()
        run_tracer = RunTracer(
            tracer, self._recorder, settings, None if marked else functools.partial(mark_nested_calls, provider, notes)
        )
        describe = {"workflow": facts_for_workflow, "flow": facts_for_flow, "node": facts_for_node}
        for module, attribute, kind, is_async in _PATCHES:
            importlib.import_module(module)
            factory = run_tracer.wrap_async if is_async else run_tracer.wrap_sync
            wrapt.wrap_function_wrapper(module, attribute, factory(describe[kind]))

        for event in EVENTS:
            importlib.import_module(event.module)
            wrapt.wrap_function_wrapper(event.module, event.attribute, run_tracer.observe(event))
        self._speedups = speedups
        """What uninstrument() takes back: exactly the patches made here."""
        if speedups:
            _speedups.install()
        reclaim_loggers()  # importing Dynamiq just set our loggers to ERROR

    def _uninstrument(self, **kwargs: Any) -> None:
        import importlib

        from opentelemetry.instrumentation.dynamiq import _speedups
        from opentelemetry.instrumentation.dynamiq._callbacks import EVENTS

        speedups = getattr(self, "_speedups", True)
        patched = [(module, attribute) for module, attribute, _, _ in _PATCHES]
        dispatchers = [(event.module, event.attribute) for event in EVENTS]
        for module, attribute in (*patched, *dispatchers):
            owner_name, method = attribute.split(".")
            unwrap(getattr(importlib.import_module(module), owner_name), method)
        if speedups:
            _speedups.uninstall()

    @property
    def open_runs(self) -> int:
        """Runs being tracked right now: zero whenever no Dynamiq run is in progress."""
        recorder = getattr(self, "_recorder", None)
        return recorder.open_runs() if recorder is not None else 0

    @property
    def recording_failures(self) -> dict[str, int]:
        """Events that could not be recorded as native tracing would, counted by kind (empty when all went well)."""
        recorder = getattr(self, "_recorder", None)
        return dict(recorder.failures) if recorder is not None else {}
