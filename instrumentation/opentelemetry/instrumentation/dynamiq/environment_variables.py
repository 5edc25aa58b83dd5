"""The instrumentation's settings, named in one place."""

from __future__ import annotations

from typing import Final

OTEL_INSTRUMENTATION_DYNAMIQ_CAPTURE_CONTENT: Final = "OTEL_INSTRUMENTATION_DYNAMIQ_CAPTURE_CONTENT"
"""``false`` keeps inputs, outputs, prompts and tool payloads out of spans; everything else stays."""

OTEL_INSTRUMENTATION_DYNAMIQ_MAX_CONTENT_LENGTH: Final = "OTEL_INSTRUMENTATION_DYNAMIQ_MAX_CONTENT_LENGTH"
"""Characters kept of each captured value before it is cut with a visible marker."""

OTEL_INSTRUMENTATION_DYNAMIQ_SPEEDUPS: Final = "OTEL_INSTRUMENTATION_DYNAMIQ_SPEEDUPS"
"""``false`` leaves Dynamiq's own code exactly as it is: pure tracing, no speed-ups.

The instrumentor otherwise changes how Dynamiq runs in two ways: flow loops
skip the 1 ms sleep after a scheduling step that finished nodes, and
``format_value`` returns plain scalars as they are. Both keep results
identical; the switch is for anyone who suspects them, or must run Dynamiq
unchanged. ``instrument(speedups=...)`` wins over it."""
