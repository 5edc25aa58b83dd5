"""Hooks for ``opentelemetry-instrument``: a distro and a configurator.

With only this package installed, ``opentelemetry-instrument python app.py``
finds these through their entry points, sends traces to Dynamiq and turns
metrics and logs off (Dynamiq takes neither). Values already set in the
environment or on the command line always win.
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.environment_variables import (
    OTEL_LOGS_EXPORTER,
    OTEL_METRICS_EXPORTER,
    OTEL_TRACES_EXPORTER,
)

# The module is marked `type: ignore` upstream, so mypy sees it as untyped.
from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.environment_variables import OTEL_CONFIG_FILE

from otel_dynamiq.processors import mark_nested_calls
from otel_dynamiq.processors._content_events import attach_content_events, content_comes_as_events, sdk_configuration

EXPORTER_ENTRY_POINT_NAME = "dynamiq"


class DynamiqDistro(BaseDistro):  # type: ignore[misc]
    """Default the exporters so that only the Dynamiq access key is needed."""

    def _configure(self, **kwargs: Any) -> None:
        os.environ.setdefault(OTEL_TRACES_EXPORTER, EXPORTER_ENTRY_POINT_NAME)
        os.environ.setdefault(OTEL_METRICS_EXPORTER, "none")
        os.environ.setdefault(OTEL_LOGS_EXPORTER, "none")


class DynamiqConfigurator(_OTelSDKConfigurator):
    """The SDK's own configurator (a distro must ship one for the SDK to be set up at all).

    Once the SDK is built, GenAI content that instrumentations log as events
    is routed to the exporter, so turning content capture on is all a user does.
    """

    def _configure(self, **kwargs: Any) -> None:
        if os.environ.get(OTEL_CONFIG_FILE):
            # The file decides everything, and the SDK applies it. The one keyword opentelemetry-instrument
            # passes (auto_instrumentation_version) means nothing there, and the SDK would warn about it in
            # every process: it is not passed on.
            kwargs = {}
        with sdk_configuration():
            super()._configure(**kwargs)  # type: ignore[no-untyped-call]
        mark_nested_calls(None)  # two instrumentations of one LLM client: the call's usage counted once
        if content_comes_as_events():
            attach_content_events()
