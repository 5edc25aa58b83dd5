"""Our log lines: one line each, and at the levels we set; the exporter's and the instrumentor's alike.

When ``dynamiq`` is imported, it sets every logger that already exists to
ERROR. With ``opentelemetry-instrument`` this package is imported first, so
its warnings (runs dropped, a key refused) would vanish without a trace.

A traceback in the application's stderr reads as the application's own
failure, so a failure of ours is one line (``one_line``), and its traceback
goes to DEBUG.

Public because the instrumentor (``opentelemetry.instrumentation.dynamiq``, a
package of its own in the same distribution) logs by the same rules.
"""

from __future__ import annotations

import logging
import sys

NAMESPACES = ("otel_dynamiq", "opentelemetry.instrumentation.dynamiq")
_DYNAMIQ_LOGGER_MODULE = "dynamiq.utils.logger"


def reclaim_loggers() -> None:
    """Undo Dynamiq's blanket ERROR on our loggers, and only that.

    A level other than ERROR, or any level while Dynamiq has not been
    imported, was set by the application and is left alone.
    """
    if _DYNAMIQ_LOGGER_MODULE not in sys.modules:
        return
    for name in list(logging.root.manager.loggerDict):
        if not any(name == namespace or name.startswith(namespace + ".") for namespace in NAMESPACES):
            continue
        logger = logging.root.manager.loggerDict[name]
        if isinstance(logger, logging.Logger) and logger.level == logging.ERROR:
            logger.setLevel(logging.NOTSET)


def one_line(exc: BaseException) -> str:
    """``Type: message`` with the message's line breaks folded, for a log line that stays one line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
