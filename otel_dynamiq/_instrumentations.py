"""Which OpenTelemetry instrumentations are installed, and would ``opentelemetry-instrument`` load them?

The auto-loader skips an instrumentation whose import fails with
``ModuleNotFoundError`` at debug level, so a user sees nothing and gets no
spans (``opentelemetry-instrumentation-openai-v2`` did exactly that when a new
``opentelemetry-util-genai`` dropped a module it imports). The doctor walks
the same steps as the loader, in the same order, and says where each one
stopped and why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import metadata

from opentelemetry.instrumentation.dependencies import get_dist_dependency_conflicts
from opentelemetry.instrumentation.environment_variables import OTEL_PYTHON_DISABLED_INSTRUMENTATIONS
from opentelemetry.trace import NoOpTracerProvider

ENTRY_POINT_GROUP = "opentelemetry_instrumentor"
DISABLED_VARIABLE = OTEL_PYTHON_DISABLED_INSTRUMENTATIONS


@dataclass(frozen=True)
class InstrumentationStatus:
    name: str
    distribution: str
    version: str
    loaded: bool
    reason: str = ""

    def describe(self) -> str:
        state = "loads" if self.loaded else f"skipped: {self.reason}"
        return f"{self.name} ({self.distribution} {self.version}): {state}"


def _disabled() -> set[str]:
    return {name.strip() for name in os.environ.get(DISABLED_VARIABLE, "").split(",") if name.strip()}


def inspect_instrumentations(*, try_instrument: bool = True) -> list[InstrumentationStatus]:
    """Every ``opentelemetry_instrumentor`` entry point, checked as the auto-loader checks it."""
    disabled = _disabled()
    statuses = []
    for entry_point in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda point: point.value):
        dist = entry_point.dist
        loaded, reason = _check(entry_point, dist, disabled, try_instrument)
        statuses.append(
            InstrumentationStatus(
                name=entry_point.name,
                distribution=dist.metadata["Name"] if dist is not None else "?",
                version=dist.version if dist is not None else "?",
                loaded=loaded,
                reason=reason,
            )
        )
    return statuses


def _check(
    entry_point: metadata.EntryPoint, dist: metadata.Distribution | None, disabled: set[str], try_instrument: bool
) -> tuple[bool, str]:
    if "*" in disabled or entry_point.name in disabled:
        return False, f"disabled by {DISABLED_VARIABLE}"
    conflict = get_dist_dependency_conflicts(dist) if dist is not None else None
    if conflict is not None:
        return False, str(conflict)
    try:
        instrumentor_class = entry_point.load()
    except ImportError as exc:  # ModuleNotFoundError is the loader's silent case
        return False, f"its import fails ({type(exc).__name__}: {exc})"
    return _try_instrument(instrumentor_class) if try_instrument else (True, "")


def _try_instrument(instrumentor_class: type) -> tuple[bool, str]:
    """Instrument into a no-op tracer and undo it: an instrumentor that fails here fails in the application too."""
    try:
        instrumentor = instrumentor_class()
        instrumentor.instrument(tracer_provider=NoOpTracerProvider(), skip_dep_check=True)
        loaded = bool(getattr(instrumentor, "is_instrumented_by_opentelemetry", True))
        instrumentor.uninstrument()
    except Exception as exc:
        return False, f"instrument() failed ({type(exc).__name__}: {exc})"
    return loaded, "" if loaded else "instrument() did nothing"


LLM_CLIENTS = frozenset(
    {
        "openai",
        "litellm",
        "anthropic",
        "langchain",
        "llama_index",
        "google_genai",
        "vertexai",
        "bedrock",
        "mistralai",
        "groq",
        "cohere",
        "ollama",
    }
)
"""Entry-point names of instrumentations that trace an LLM client (or a framework calling one)."""
COUNTED_ONCE = (
    "otel-dynamiq counts each call's usage once, in the outermost run; the runs inside it keep theirs "
    "under metadata.otel.usage"
)


def _untied_langchain(status: InstrumentationStatus) -> bool:
    return status.loaded and status.name == "langchain" and status.distribution.startswith("openinference")


def describe_instrumentations(statuses: list[InstrumentationStatus]) -> list[str]:
    if not statuses:
        return ["instrumentations: none installed"]
    lines = ["instrumentations (what opentelemetry-instrument would load):"]
    lines += [f"  {status.describe()}" for status in statuses]
    names = [status.name for status in statuses if status.loaded]
    for name in sorted({name for name in names if names.count(name) > 1}):
        if name in LLM_CLIENTS:
            lines.append(
                f"  note: {names.count(name)} instrumentations named {name!r} load together, so each call is "
                f"traced {names.count(name)} times; {COUNTED_ONCE} (under opentelemetry-instrument; with manual "
                "setup add otel_dynamiq.NestedCallMarker() to the tracer provider). Uninstall the ones you do "
                "not want to see"
            )
        else:
            lines.append(
                f"  note: {names.count(name)} instrumentations named {name!r} load together, "
                "so each call is traced twice; uninstall the one you do not want"
            )
    clients = sorted({name for name in names if name in LLM_CLIENTS})
    beside_langchain = [name for name in clients if name != "langchain"]
    if beside_langchain and any(_untied_langchain(status) for status in statuses):
        lines.append(
            f"  note: OpenInference's langchain instrumentation does not make its spans current, so the "
            f"{', '.join(beside_langchain)} spans of a LangChain model call are its siblings, not its "
            "children, and that call's usage counts twice; with a client used only through LangChain, set "
            f"{DISABLED_VARIABLE}={','.join(beside_langchain)}"
        )
    if "dynamiq" in names and clients:
        lines.append(
            f"  note: dynamiq and {', '.join(clients)} may both trace the model calls of Dynamiq's LLM nodes; "
            f"{COUNTED_ONCE}: the LLM node's run carries it, as Dynamiq's own tracing does (an embedder "
            "node's run has no usage in Dynamiq, so there the client's run counts it)"
        )
    return lines
