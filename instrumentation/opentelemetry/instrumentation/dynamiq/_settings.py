"""What the instrumentation captures, and whether it speeds Dynamiq up; read once at ``instrument()``."""

from __future__ import annotations

import os
from dataclasses import dataclass

from opentelemetry.instrumentation.dynamiq.environment_variables import (
    OTEL_INSTRUMENTATION_DYNAMIQ_CAPTURE_CONTENT,
    OTEL_INSTRUMENTATION_DYNAMIQ_MAX_CONTENT_LENGTH,
    OTEL_INSTRUMENTATION_DYNAMIQ_SPEEDUPS,
)

from otel_dynamiq.environment_variables import parse_bool

DEFAULT_MAX_CONTENT_LENGTH = 100_000
"""Large enough for real prompts and answers; small enough that a document dump cannot swamp a batch."""


@dataclass(frozen=True)
class CaptureSettings:
    capture_content: bool = True
    max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip()
    return parse_bool(name, raw) if raw else default


def _length(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number of characters, e.g. {name}=100000") from None
    if value < 1:
        raise ValueError(f"{name}={raw!r} must be at least 1")
    return value


def load_settings(capture_content: bool | None = None, max_content_length: int | None = None) -> CaptureSettings:
    """Keyword arguments of ``instrument()`` win over the environment."""
    return CaptureSettings(
        capture_content=(
            capture_content
            if capture_content is not None
            else _flag(OTEL_INSTRUMENTATION_DYNAMIQ_CAPTURE_CONTENT, True)
        ),
        max_content_length=(
            max_content_length
            if max_content_length is not None
            else _length(OTEL_INSTRUMENTATION_DYNAMIQ_MAX_CONTENT_LENGTH, DEFAULT_MAX_CONTENT_LENGTH)
        ),
    )


def load_speedups(speedups: bool | None = None) -> bool:
    """Whether to apply the speed-ups; ``instrument(speedups=...)`` wins over the environment."""
    if speedups is None:
        return _flag(OTEL_INSTRUMENTATION_DYNAMIQ_SPEEDUPS, True)
    if not isinstance(speedups, bool):  # "false" is a truthy string: taken as given, it would mean the opposite
        raise TypeError(f"instrument(speedups=...) takes True or False, not {type(speedups).__name__}")
    return speedups
