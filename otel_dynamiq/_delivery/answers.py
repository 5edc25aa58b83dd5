"""What an answer from the service means for the body it was sent: the one place that decides.

Pure: no I/O. A first send and a resend from the spool meet the same
answers and must read them alike, so both ask ``read_answer`` (an HTTP
response) or ``read_failure`` (no response at all) and act on the verdict:
the runs arrived, try again later (after ``retry_after`` when the service
said), or never (dropped for ``reason``; ``splittable`` when halving the
body can still save the runs beside the one refused).
"""

from __future__ import annotations

import enum
import ssl
from dataclasses import dataclass

import httpx

from otel_dynamiq import environment_variables as env
from otel_dynamiq._delivery.retry_policy import is_retryable_status, retry_after_seconds
from otel_dynamiq._delivery.stats import DropReason
from otel_dynamiq.log_lines import one_line

SPLIT_STATUSES = frozenset({400, 413, 422})
"""Refusals of what a body holds: halved until the runs refused are alone, so the others arrive."""

_NOT_RETRYABLE_TRANSPORT_ERRORS = (httpx.UnsupportedProtocol, httpx.InvalidURL)

_UNKNOWN_ISSUER_CODES = frozenset({2, 18, 19, 20, 21})
"""OpenSSL's verify codes for a chain that ends at a CA nobody said to trust (unable to get the issuer,
self-signed, self-signed in the chain, no local issuer, unable to verify the leaf)."""


_CLIENT_REFUSED_ALERTS = frozenset(
    {
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "TLSV1_ALERT_UNKNOWN_CA",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
    }
)
"""The server's TLS alerts about the client's certificate: none was presented, or the server does not take it."""


_CLIENT_REFUSED = "the server refused this client's TLS certificate"


class Outcome(enum.Enum):
    ARRIVED = "arrived"
    RETRY = "retry"
    FINAL = "final"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: DropReason | None = None
    """For ``FINAL``: why the runs are dropped (what the ledger counts them under); None otherwise."""
    cause: str = ""
    """A few words a person can act on, or ``""``."""
    kind: str = ""
    """What failed, short and stable (``HTTP 503``, ``ConnectError``): warnings are said once per kind."""
    retry_after: float | None = None
    """For ``RETRY``: the seconds the service asked for, or None to back off by policy."""
    splittable: bool = False
    """For ``FINAL``: the service refused what the body holds, so its halves may still be taken."""
    client_refused: bool = False
    """The server refused the client's TLS certificate: the cause to say, even when a later attempt sees only
    the connection it closed (a bare ``ReadError``)."""


ARRIVED = Verdict(Outcome.ARRIVED)


def read_answer(response: httpx.Response) -> Verdict:
    """Success, a refusal that no later attempt can cure (413, a redirect, a 4xx), or one worth retrying."""
    status = response.status_code
    kind = f"HTTP {status}"
    if response.is_success:
        return ARRIVED
    splittable = status in SPLIT_STATUSES
    if status == 413:
        return Verdict(Outcome.FINAL, DropReason.TOO_LARGE, kind=kind, splittable=splittable)
    if response.is_redirect:
        return Verdict(Outcome.FINAL, DropReason.REDIRECT, "redirects are not followed", kind=kind)
    if not is_retryable_status(status):
        return Verdict(Outcome.FINAL, DropReason.REJECTED, kind=kind, splittable=splittable)
    return Verdict(
        Outcome.RETRY, kind=kind, cause=kind, retry_after=retry_after_seconds(response.headers.get("Retry-After"))
    )


def read_failure(exc: httpx.TransportError | httpx.InvalidURL | httpx.DecodingError | ssl.SSLError) -> Verdict:
    """No answer at all: a URL no request can reach is final; the network, the service or TLS may recover."""
    kind = type(exc).__name__
    if isinstance(exc, _NOT_RETRYABLE_TRANSPORT_ERRORS):
        return Verdict(Outcome.FINAL, DropReason.TRANSPORT, kind, kind=kind)
    cause = _transport_cause(exc)
    return Verdict(Outcome.RETRY, cause=cause, kind=kind, client_refused=cause.startswith(f"{kind}: {_CLIENT_REFUSED}"))


def _transport_cause(exc: httpx.TransportError | httpx.InvalidURL | httpx.DecodingError | ssl.SSLError) -> str:
    """One line that says what failed, and for an untrusted certificate, ours or the server's, what to set.

    A refused client certificate is retried and spooled like any TLS failure: the runs are kept until
    the setting is fixed, and the next process with the right one resends them.
    """
    kind = type(exc).__name__
    alert: BaseException | None = exc
    while alert is not None and not (isinstance(alert, ssl.SSLError) and alert.reason in _CLIENT_REFUSED_ALERTS):
        alert = alert.__cause__ or alert.__context__
    if isinstance(alert, ssl.SSLError):
        return (
            f"{kind}: {_CLIENT_REFUSED} ({alert.reason}: none was presented, or it "
            f"is not one the server trusts); set {env.OTEL_EXPORTER_DYNAMIQ_CLIENT_CERTIFICATE} and "
            f"{env.OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY} to a certificate it accepts"
        )
    reason: BaseException | None = exc
    while reason is not None and not isinstance(reason, ssl.SSLCertVerificationError):
        reason = reason.__cause__ or reason.__context__
    if isinstance(reason, ssl.SSLCertVerificationError):
        if reason.verify_code in _UNKNOWN_ISSUER_CODES:
            return (
                f"{kind}: the server's TLS certificate is not trusted ({reason.verify_message}); set "
                f"{env.OTEL_EXPORTER_DYNAMIQ_CERTIFICATE} (or {env.SSL_CERT_FILE}) to the CA certificates that "
                "signed it"
            )
        return (
            f"{kind}: the server's TLS certificate was refused ({reason.verify_message}); check that the endpoint "
            "names the host the certificate is for, and that the certificate is current"
        )
    return one_line(exc)
