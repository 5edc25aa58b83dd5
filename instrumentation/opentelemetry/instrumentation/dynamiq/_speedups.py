"""The two speed-ups as one unit: installed and taken back together, apart from any tracing.

The instrumentor installs them beside its spans (unless told not to); the
benchmarks install them alone, to tell what the speed-ups give from what the
spans cost. Both do it through these two functions, so the patches measured
are the patches shipped.
"""

from __future__ import annotations

import importlib

import wrapt
from opentelemetry.instrumentation.utils import unwrap

STEP_PATCH = ("dynamiq.executors.pool", "PoolExecutor.execute")
"""Where a scheduling step of ``Flow.run_sync`` is observed for the conditional sleep."""


def install() -> None:
    """Conditional sleeps in the flow loops, and one-walk formatting of plain values."""
    from dynamiq.flows import flow as flow_module
    from opentelemetry.instrumentation.dynamiq import _polling
    from opentelemetry.instrumentation.dynamiq._fast_format import MODULES_HOLDING_FORMAT_VALUE, PlainValueFormatter

    wrapt.wrap_function_wrapper(*STEP_PATCH, _polling.record_step)
    fast_format = PlainValueFormatter(importlib.import_module(MODULES_HOLDING_FORMAT_VALUE[0]))
    for module in MODULES_HOLDING_FORMAT_VALUE:
        importlib.import_module(module)
        installed = wrapt.wrap_function_wrapper(module, "format_value", fast_format)
        if module == MODULES_HOLDING_FORMAT_VALUE[0]:
            fast_format.installed = installed
    _polling.install(flow_module)


def uninstall() -> None:
    """Exactly what ``install`` patched, taken back."""
    from dynamiq.flows import flow as flow_module
    from opentelemetry.instrumentation.dynamiq import _polling
    from opentelemetry.instrumentation.dynamiq._fast_format import MODULES_HOLDING_FORMAT_VALUE

    module, attribute = STEP_PATCH
    owner_name, method = attribute.split(".")
    unwrap(getattr(importlib.import_module(module), owner_name), method)
    for module in MODULES_HOLDING_FORMAT_VALUE:
        unwrap(importlib.import_module(module), "format_value")
    _polling.uninstall(flow_module)
