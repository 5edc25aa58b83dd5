"""The instrumentation's settings, named in one place."""

from __future__ import annotations

from typing import Final

OTEL_INSTRUMENTATION_DYNAMIQ_CAPTURE_CONTENT: Final = "OTEL_INSTRUMENTATION_DYNAMIQ_CAPTURE_CONTENT"
"""``false`` keeps inputs, outputs, prompts and tool payloads out of spans; everything else stays."""

OTEL_INSTRUMENTATION_DYNAMIQ_MAX_CONTENT_LENGTH: Final = "OTEL_INSTRUMENTATION_DYNAMIQ_MAX_CONTENT_LENGTH"
"""Characters kept of each captured value before it is cut with a visible marker."""
