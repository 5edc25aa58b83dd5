"""Every environment variable this package reads, named in one place, and how a switch among them is spelled.

``opentelemetry-instrument`` builds exporters with no arguments, so each
setting must be reachable from the environment; keyword arguments win. The
exporter's settings (keyword, variable, parser, default) are declared in
``otel_dynamiq._config.SETTINGS``; the variables of the command line, the
gateway and the standard ones the package honours follow them here.
"""

from __future__ import annotations

from typing import Final

DYNAMIQ_ACCESS_KEY: Final = "DYNAMIQ_ACCESS_KEY"
"""The Dynamiq access key (``access_key=``); default none, which only an endpoint on this machine may go without."""
DYNAMIQ_SERVICE_TOKEN: Final = "DYNAMIQ_SERVICE_TOKEN"  # noqa: S105 - a variable name
"""The access key, when ``DYNAMIQ_ACCESS_KEY`` is not set; default none."""
OTEL_EXPORTER_DYNAMIQ_ENDPOINT: Final = "OTEL_EXPORTER_DYNAMIQ_ENDPOINT"
"""The service's base URL (``endpoint=``); default ``https://collector.getdynamiq.ai``."""
OTEL_EXPORTER_DYNAMIQ_TIMEOUT: Final = "OTEL_EXPORTER_DYNAMIQ_TIMEOUT"
"""Seconds one export may take, retries included (``timeout=``); default 10."""
OTEL_EXPORTER_DYNAMIQ_COMPRESSION: Final = "OTEL_EXPORTER_DYNAMIQ_COMPRESSION"
"""``none`` or ``gzip``, of request bodies (``compression=``); default ``none``."""
OTEL_EXPORTER_DYNAMIQ_HEADERS: Final = "OTEL_EXPORTER_DYNAMIQ_HEADERS"
"""Extra request headers, ``k1=v1,k2=v2`` URL-decoded (``headers=``); default none."""
OTEL_EXPORTER_DYNAMIQ_MAX_REQUEST_BYTES: Final = "OTEL_EXPORTER_DYNAMIQ_MAX_REQUEST_BYTES"
"""The largest request body, at least 16 KiB (``max_request_bytes=``); default 4 MiB."""
OTEL_EXPORTER_DYNAMIQ_SOURCE_ID: Final = "OTEL_EXPORTER_DYNAMIQ_SOURCE_ID"
"""Every run's ``source_id`` (``source_id=``); default a UUID made once per exporter."""
OTEL_EXPORTER_DYNAMIQ_INSECURE: Final = "OTEL_EXPORTER_DYNAMIQ_INSECURE"
"""``true`` allows plain ``http://`` to a host that is not this machine (the key then travels in clear);
default ``false``."""
OTEL_EXPORTER_DYNAMIQ_CERTIFICATE: Final = "OTEL_EXPORTER_DYNAMIQ_CERTIFICATE"
"""A PEM file of the certificate authorities trusted for an ``https://`` endpoint, instead of the defaults;
default none (``SSL_CERT_FILE``, ``SSL_CERT_DIR``, else certifi's)."""
OTEL_EXPORTER_DYNAMIQ_REDACT_KEYS: Final = "OTEL_EXPORTER_DYNAMIQ_REDACT_KEYS"
"""More key names whose values are masked before runs leave the process (comma-separated); default none."""
OTEL_EXPORTER_DYNAMIQ_SPOOL: Final = "OTEL_EXPORTER_DYNAMIQ_SPOOL"
"""``false`` turns the disk spool off: runs still undeliverable at the deadline are then dropped; default
``true``."""
OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR: Final = "OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR"
"""Where undelivered request bodies wait (default: ``otel-dynamiq-<uid>`` in the first writable of ``$TMPDIR``,
``/tmp``, ``/var/tmp``; memory only when none is)."""
OTEL_EXPORTER_DYNAMIQ_SPOOL_MAX_BYTES: Final = "OTEL_EXPORTER_DYNAMIQ_SPOOL_MAX_BYTES"
"""The most the spool holds for one endpoint and key; the oldest bodies go first. Default 100 MiB."""
OTEL_EXPORTER_DYNAMIQ_SPOOL_MAX_AGE: Final = "OTEL_EXPORTER_DYNAMIQ_SPOOL_MAX_AGE"
"""Seconds a spooled body is kept before it is dropped as too old; default a week."""
OTEL_EXPORTER_DYNAMIQ_FLUSH_ON_EXIT: Final = "OTEL_EXPORTER_DYNAMIQ_FLUSH_ON_EXIT"
"""``false`` installs no flush at a process's end (SIGTERM, SIGINT, multiprocessing children); default ``true``."""
OTEL_EXPORTER_DYNAMIQ_MEDIA_INLINE_BYTES: Final = "OTEL_EXPORTER_DYNAMIQ_MEDIA_INLINE_BYTES"
"""The largest image, audio or file kept inline (as a data URL) in a run's messages; 0 keeps none. Default
16 KiB."""
OTEL_EXPORTER_DYNAMIQ_CLIENT_CERTIFICATE: Final = "OTEL_EXPORTER_DYNAMIQ_CLIENT_CERTIFICATE"
"""A PEM file with this client's TLS certificate (and its chain), for an endpoint that demands one (mTLS);
default none."""
OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY: Final = "OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY"
"""The PEM private key of the client certificate; default the certificate's file, which then holds it too."""
OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY_PASSWORD: Final = "OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY_PASSWORD"  # noqa: S105 - a name
"""The password of an encrypted client key; never logged or echoed. Default none."""
OTEL_EXPORTER_DYNAMIQ_MASK: Final = "OTEL_EXPORTER_DYNAMIQ_MASK"
"""``package.module:function``: called with each run before it is sent; returns the run to send, or None to drop
it. Default none."""

OTEL_DYNAMIQ_COLLECTOR_ACCESS_KEY: Final = "OTEL_DYNAMIQ_COLLECTOR_ACCESS_KEY"
"""The key the local collector (``otel-dynamiq collector``) demands, and ``otel-dynamiq show`` sends; default
none, which only a collector on loopback may go without."""
OTEL_DYNAMIQ_COLLECTOR_INDEX_CONTENT: Final = "OTEL_DYNAMIQ_COLLECTOR_INDEX_CONTENT"
"""``true`` makes the local collector's search find text in runs' inputs and outputs too (the first 1,000
characters of each, for a trace's first 8 runs), as ``--index-content`` does. Default ``false``: ids, names and
labels only."""
OTEL_DYNAMIQ_GATEWAY_TOKEN: Final = "OTEL_DYNAMIQ_GATEWAY_TOKEN"  # noqa: S105 - a variable name
"""The bearer token senders present to ``otel-dynamiq gateway``; default none, which only a gateway on loopback
may go without."""

SSL_CERT_FILE: Final = "SSL_CERT_FILE"
"""OpenSSL's: a PEM bundle trusted instead of certifi's, unless ``OTEL_EXPORTER_DYNAMIQ_CERTIFICATE`` is set;
default unset."""
SSL_CERT_DIR: Final = "SSL_CERT_DIR"
"""OpenSSL's: a directory of CA certificates, when ``SSL_CERT_FILE`` is not set; default unset."""
OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""The GenAI instrumentations' content switch: under ``true``, ``event_only`` or ``span_and_event`` they log
content as events, which the exporter routes into the runs of their spans. Default unset (no content)."""
TRACELOOP_TRACE_CONTENT: Final = "TRACELOOP_TRACE_CONTENT"
"""OpenLLMetry's content switch: unless it is ``false``, the exporter warns once when OpenLLMetry's events mode
lost content. Default ``true``."""
OTEL_EXPORTER_DYNAMIQ_CHECK_LEDGER: Final = "OTEL_EXPORTER_DYNAMIQ_CHECK_LEDGER"
"""``true`` makes a run counted twice, or never, raise ``LedgerError`` instead of being said once in the log:
for otel-dynamiq's own tests (which set it) and for checking a change to the delivery paths. Default ``false``."""


def parse_bool(name: str, raw: str) -> bool:
    """``true``/``false`` (and 1/0, yes/no, on/off), or a ValueError naming the variable.

    The instrumentor's switches (``OTEL_INSTRUMENTATION_DYNAMIQ_*``) are read by it too, so every switch
    of the distribution takes the same words.
    """
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean; set it to 'true' or 'false'")
