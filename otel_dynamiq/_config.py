"""Exporter settings: read once, validated once, so a mistake fails at start-up.

A bad value raises ``ValueError`` naming the variable and what it expects,
rather than surfacing later as a mysterious export failure.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import ipaddress
import os
import ssl
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict
from urllib.parse import unquote, urlsplit

from otel_dynamiq import environment_variables as env
from otel_dynamiq._delivery.proxy import proxy_for
from otel_dynamiq._settings import Setting, checked_keywords, read_variable, unchanged
from otel_dynamiq._translation.media import DEFAULT_INLINE_LIMIT
from otel_dynamiq.environment_variables import parse_bool
from otel_dynamiq.version import __version__

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # pragma: no cover - the oldest Python supported
    from typing_extensions import Unpack

DEFAULT_ENDPOINT = "https://collector.getdynamiq.ai"
DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024
"""4 MiB: large enough for a batch of 512 runs with kilobyte payloads, small
enough that a proxy in front of the service will not refuse it."""
MIN_MAX_REQUEST_BYTES = 16 * 1024
"""Below this a run cannot keep even a truncated input and output."""
TRACES_PATH = "/v1/traces"
"""Where runs are posted: on the Dynamiq service and the local collector; OTLP spells its traces path the
same, so the gateway serves it too. Spelled here only."""
DEFAULT_SPOOL_MAX_BYTES = 100 * 1024 * 1024
"""100 MiB per endpoint and key: hours of a busy service's runs, small beside any disk."""
DEFAULT_SPOOL_MAX_AGE_SECONDS = 7 * 24 * 3600.0
"""A week: long enough to outlast a weekend without the network."""
MIN_SPOOL_MAX_BYTES = 1024 * 1024
DEFAULT_MEDIA_INLINE_BYTES = DEFAULT_INLINE_LIMIT

Run = dict[str, Any]
Mask = Callable[[Run], "Run | None"]
"""A run as the service would get it (built-in redaction done) in; the run to send, or None to drop it, out."""
Compression = Literal["none", "gzip"]
_COMPRESSIONS: tuple[Compression, ...] = ("none", "gzip")


@dataclass(frozen=True)
class ExporterConfig:
    """What the exporter needs to deliver runs. The key never shows in a repr."""

    endpoint: str
    access_key: str | None = field(repr=False)
    timeout: float
    compression: Compression
    headers: Mapping[str, str] = field(repr=False)
    max_request_bytes: int
    source_id: str
    session_id: str
    redact_keys: tuple[str, ...] = ()
    """Key names masked in inputs, outputs and metadata, beyond the built-in ones."""
    spool: SpoolConfig | None = None
    """Where undelivered bodies wait for the service; None when the spool is off."""
    certificate_file: Path | None = None
    """The CA certificates to trust for https (PEM); None trusts ``SSL_CERT_FILE``/``SSL_CERT_DIR`` or certifi's."""
    proxy: str | None = field(default=None, repr=False)
    """The one proxy requests to the endpoint go through (from the environment, by httpx's rules), or None.

    Not in the repr: the URL may hold the proxy's password."""
    flush_on_exit: bool = True
    """Flush the spans a process made when a signal or a multiprocessing child's exit ends it (``_process_end``)."""
    client_certificate: ClientCertificate | None = None
    """This client's certificate for an endpoint that demands one (mutual TLS); None presents none."""
    mask: Mask | None = None
    """The user's hook, called with every run before it is encoded; None sends runs as translated."""
    media_inline_bytes: int = DEFAULT_MEDIA_INLINE_BYTES
    """Media in messages up to this size travel inline as data URLs; larger ones are described, not carried."""

    @property
    def traces_url(self) -> str:
        return self.endpoint.rstrip("/") + TRACES_PATH

    def request_headers(self) -> dict[str, str]:
        """Headers of every request; the key is added last so extra headers cannot replace it."""
        headers = {"Content-Type": "application/json", "User-Agent": f"otel-dynamiq/{__version__}", **self.headers}
        if self.compression == "gzip":
            headers["Content-Encoding"] = "gzip"
        if self.access_key:
            headers["Authorization"] = f"Bearer {self.access_key}"
        return headers


@dataclass(frozen=True)
class SpoolConfig:
    """The disk spool: its base directory and its caps."""

    directory: Path | None
    """None when no setting names one and no temporary directory is writable: bodies then wait in memory."""
    max_bytes: int = DEFAULT_SPOOL_MAX_BYTES
    max_age_seconds: float = DEFAULT_SPOOL_MAX_AGE_SECONDS
    refuse_when_full: bool = False
    """Refuse new bodies at the cap (and never fall back to memory) instead of dropping the oldest.

    The gateway's choice: it has answered 200 for every body in the spool, and a
    sender it refuses keeps its spans and retries."""


@dataclass(frozen=True)
class ClientCertificate:
    """A client certificate and its key, checked at start-up; the password never shows in a repr."""

    certificate_file: Path
    key_file: Path | None
    """None when the certificate's file holds the key too."""
    key_password: str | None = field(default=None, repr=False)

    def load_into(self, context: ssl.SSLContext) -> None:
        """Present this certificate from ``context``. Never prompts on a terminal for a missing password:
        OpenSSL would, when a key is encrypted and no password is given."""
        password = self.key_password if self.key_password is not None else _no_password
        context.load_cert_chain(str(self.certificate_file), str(self.key_file) if self.key_file else None, password)


class _PasswordNeededError(Exception):
    """Raised from the password callback: the key is encrypted and no password was given."""


def _no_password() -> str:
    raise _PasswordNeededError


SPOOL_LOCATIONS = "$TMPDIR, /tmp and /var/tmp"
"""Where the default spool directory may go, in the order tried: said in the line logged when none is writable."""


def spool_location_candidates() -> list[Path]:
    """The temporary directories the default spool may go in, in a fixed order.

    Not ``tempfile.gettempdir()``: it raises when none is writable, and falls back to the working
    directory, where the next process, started elsewhere, would never find the spool. A relative
    ``$TMPDIR`` is skipped for the same reason.
    """
    named = [os.environ.get("TMPDIR", "")]
    if os.name == "nt":  # pragma: no cover - where the platform keeps them
        named += [os.environ.get("TEMP", ""), os.environ.get("TMP", "")]
    else:
        named += ["/tmp", "/var/tmp"]  # noqa: S108 - per user and checked before use (see spool.py)
    return [Path(name) for name in named if name and os.path.isabs(name)]


def default_spool_directory() -> Path | None:
    """``otel-dynamiq-<uid>`` in the first writable of ``spool_location_candidates()``; None when none is.

    The first writable one, always in the same order, so every process of the same user in the same
    container picks the same directory and resends what another left. The spool checks ownership and
    mode before using it, so a directory another user planted there is refused rather than trusted.
    """
    owner = str(os.getuid()) if hasattr(os, "getuid") else (os.environ.get("USERNAME") or "user")
    for candidate in spool_location_candidates():
        if candidate.is_dir() and os.access(candidate, os.W_OK | os.X_OK):  # False on a read-only filesystem
            return candidate / f"otel-dynamiq-{owner}"
    return None


def is_loopback_host(host: str) -> bool:
    """True when the host name or address is this machine's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """True when the URL names this machine, where a collector needs no key."""
    return is_loopback_host(urlsplit(url).hostname or "")


def _parse_positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number; set it to seconds, e.g. {name}=10") from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name}={raw!r} must be a positive, finite number of seconds")
    return value


def _byte_count(minimum: int, example: int) -> Callable[[str, str], int]:
    """A parser for a whole number of bytes of at least ``minimum``; its errors show ``example``."""

    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{name}={raw!r} is not a whole number of bytes, e.g. {name}={example}") from None
        if value < minimum:
            raise ValueError(f"{name}={raw!r} must be at least {minimum} bytes")
        return value

    return parse


_parse_request_bytes = _byte_count(MIN_MAX_REQUEST_BYTES, DEFAULT_MAX_REQUEST_BYTES)
_parse_spool_bytes = _byte_count(MIN_SPOOL_MAX_BYTES, DEFAULT_SPOOL_MAX_BYTES)
_parse_media_bytes = _byte_count(0, DEFAULT_MEDIA_INLINE_BYTES)


def _expand_home(name: str, raw: str) -> Path:
    """The path with ``~`` expanded, or a ValueError naming the setting when there is no home to expand it to
    (HOME unset and no passwd entry, as for a container run with a random ``--user``)."""
    try:
        return Path(raw).expanduser()
    except RuntimeError:
        raise ValueError(
            f"{name}={raw!r} starts with '~', but no home directory can be found for it (HOME is unset and "
            "the user has no passwd entry, or there is no such user); give an absolute path"
        ) from None


def _parse_spool_dir(name: str, raw: str) -> Path:
    """An absolute directory: a relative one would follow the application's later ``chdir()`` calls, and an
    empty one would be the working directory, where the next process started elsewhere never looks."""
    if not raw.strip():
        raise ValueError(f"{name} is empty; give the spool's directory, or leave it unset for the default")
    return _expand_home(name, raw).absolute()


def _parse_certificate_file(name: str, raw: str) -> Path:
    """A PEM file of CA certificates, loaded once now so that a wrong one fails at start-up, not at export."""
    path = _expand_home(name, raw)
    if path.exists() and not path.is_file():  # a FIFO would block the read, a directory is not a file
        raise ValueError(f"{name}={raw!r} is not a regular file; set it to a PEM file of CA certificates")
    try:
        ssl.create_default_context(cafile=str(path))
    except ssl.SSLError as exc:  # an OSError too: caught first
        raise ValueError(f"{name}={raw!r} holds no usable PEM certificate ({exc.reason or 'not PEM'})") from None
    except OSError as exc:
        raise ValueError(
            f"{name}={raw!r} cannot be read ({exc.strerror}); set it to a PEM file of CA certificates"
        ) from None
    return path


def _check_client_certificate(
    certificate_name: str, key_name: str, key_password_origin: str, client: ClientCertificate
) -> ClientCertificate:
    """Load the certificate and key into a throwaway context now, so a wrong file fails at start-up.

    Errors name the setting and the path, never the password, and never the key's text.
    """
    for name, path in ((certificate_name, client.certificate_file), (key_name, client.key_file)):
        if path is not None and not path.is_file():
            what = "does not exist" if not path.exists() else "is not a regular file"
            raise ValueError(f"{name}={str(path)!r} {what}; set it to a PEM file")
    try:
        client.load_into(ssl.create_default_context())
    except _PasswordNeededError:
        raise ValueError(
            f"{key_name if client.key_file else certificate_name}={str(client.key_file or client.certificate_file)!r} "
            f"holds an encrypted private key and no password was given; set {key_password_origin}"
        ) from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise ValueError(
                f"{key_name}={str(client.key_file)!r} is not the private key of the certificate in "
                f"{certificate_name}={str(client.certificate_file)!r}"
            ) from None
        if client.key_password is not None:
            reason = f"not a PEM certificate and private key, or {key_password_origin} is not the key's password"
        else:
            reason = "not a PEM certificate and an unencrypted private key"
        raise ValueError(
            f"{certificate_name}={str(client.certificate_file)!r}"
            + (
                f" with {key_name}={str(client.key_file)!r}"
                if client.key_file
                else " (no key file given, so the key was looked for in this one)"
            )
            + f": {reason}"
        ) from None
    except OSError as exc:
        raise ValueError(
            f"{certificate_name} or {key_name} cannot be read ({exc.strerror}); set them to readable PEM files"
        ) from None
    return client


def _import_mask(name: str, raw: str) -> Mask:
    """``package.module:function`` (the function may be ``Class.attribute``), imported now, checked callable."""
    module_name, sep, attribute = raw.strip().partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"{name}={raw!r} is not of the form package.module:function")
    try:
        found: object = importlib.import_module(module_name)
    except Exception as exc:  # an ImportError, or whatever the module raised when imported
        # Only the exception's type: its message may quote the module's own settings.
        raise ValueError(f"{name}={raw!r}: module {module_name!r} cannot be imported ({type(exc).__name__})") from None
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ValueError(f"{name}={raw!r}: {module_name!r} has no attribute {attribute!r}") from None
    return _check_mask(name, found)


def _check_mask(name: str, mask: object) -> Mask:
    """A function of one run: what would fail on every run fails here, at start-up, instead."""
    if not callable(mask):
        raise ValueError(f"{name} must be callable (a function taking a run dict), not {type(mask).__name__}")
    if isinstance(mask, type):
        raise ValueError(f"{name} names the class {mask.__name__}, not a function taking a run dict")
    call = mask if inspect.isroutine(mask) or isinstance(mask, functools.partial) else type(mask).__call__
    if any(
        check(call) for check in (inspect.iscoroutinefunction, inspect.isasyncgenfunction, inspect.isgeneratorfunction)
    ):
        raise ValueError(f"{name} must be a plain function returning the run (or None), not an async or generator one")
    try:
        signature = inspect.signature(mask)
    except (TypeError, ValueError):  # a builtin that does not describe itself: trusted
        return mask
    try:
        signature.bind({})
    except TypeError:
        # The parameters' names only: a default value may be a token.
        raise ValueError(
            f"{name} must take exactly one argument, the run; it takes ({', '.join(signature.parameters)})"
        ) from None
    return mask


def _text(keyword: str, value: object) -> str | None:
    """A keyword that is text. A configuration file's YAML makes unquoted digits a number, and may change
    them on the way (``0755`` becomes 493, ``1_000`` 1000): a number is refused, with how to quote it."""
    if value is None or isinstance(value, str):
        return value
    raise ValueError(
        f"{keyword} must be a string, not {type(value).__name__}"
        + (
            ' (in a configuration file, quote it, "${VAR}" too: YAML reads unquoted digits as a number, '
            "and may change them)"
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            else ""
        )
    )


def _given_text(keyword: str, value: object) -> str | None:
    """A text keyword; empty text counts as not given, so its variable is read."""
    return _text(keyword, value) or None


def _path(keyword: str, value: object) -> str | os.PathLike[str] | None:
    if value is None or isinstance(value, (str, os.PathLike)):
        return value
    raise ValueError(f"{keyword} must be a file path (a string), not {type(value).__name__}")


def _headers_keyword(keyword: str, value: object) -> Mapping[str, str]:
    """A mapping, or the list of ``{name, value}`` pairs the SDK's configuration file uses for OTLP headers."""
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, (list, tuple)) and all(
        isinstance(item, Mapping) and set(item) == {"name", "value"} for item in value
    ):
        pairs = [(item["name"], item["value"]) for item in value]
    else:
        raise ValueError(f"{keyword} must be a mapping of names to values, or a list of {{name: ..., value: ...}}")
    for name, text in pairs:
        if not isinstance(text, str):
            raise ValueError(
                f"{keyword}: the value of header {name!r} must be a string, not {type(text).__name__} "
                "(in a configuration file, quote it)"
            )
    return dict(pairs)


def _redact_keys_keyword(keyword: str, value: object) -> tuple[str, ...]:
    """Key names: a list, or one string of comma-separated names as the variable takes (never its letters)."""
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, Iterable) or isinstance(names, (bytes, Mapping)):
        raise ValueError(f"{keyword} must be a list of key names, not {type(value).__name__}")
    checked = []
    for name in names:
        if not isinstance(name, str):
            raise ValueError(f"{keyword} must hold key names (strings), not {type(name).__name__}")
        if name.strip():
            checked.append(name.strip())
    return tuple(checked)


def _parse_compression(name: str, raw: str) -> Compression:
    lowered = raw.strip().lower()
    for option in _COMPRESSIONS:
        if lowered == option:
            return option
    raise ValueError(f"{name}={raw!r} is not a known compression; set it to 'none' or 'gzip'")


def parse_headers(name: str, raw: str) -> dict[str, str]:
    """Parse ``k=v,k2=v2`` with URL-encoded values, as ``OTEL_EXPORTER_OTLP_HEADERS`` does."""
    headers: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            # The value may be a secret: name the position, never echo the text.
            raise ValueError(f"{name} has an entry without 'key=value'; expected the form k1=v1,k2=v2")
        headers[unquote(key.strip())] = unquote(value.strip())
    return headers


_TOKEN_CHARACTERS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
"""What an HTTP header name may hold (RFC 9110 ``tchar``)."""
_RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "content-type",
        "content-encoding",
        "content-length",
        "transfer-encoding",
        "host",
        "connection",
        "keep-alive",
        "te",
        "upgrade",
    }
)
"""Headers the exporter sets itself, or that describe the body or the connection: extra headers may not set them."""


def _is_header_value(text: str) -> bool:
    """Visible ASCII and spaces: no CR or LF (which would split the request), nothing httpx cannot encode."""
    return all(" " <= char <= "~" or char == "\t" for char in text)


def check_headers(name: str, headers: Mapping[str, str]) -> dict[str, str]:
    """Extra headers that can go into every request, or a ValueError that names the setting (never a value)."""
    checked: dict[str, str] = {}
    for position, (key, value) in enumerate(headers.items(), start=1):
        if not isinstance(key, str) or not key or not set(key) <= _TOKEN_CHARACTERS:
            raise ValueError(f"{name}: header {position} has a name that is not an HTTP token (letters, digits, -)")
        if key.lower() in _RESERVED_HEADERS:
            raise ValueError(
                f"{name}: header {key!r} is set by the exporter itself and may not be given; "
                f"the access key goes in {env.DYNAMIQ_ACCESS_KEY}"
            )
        if not isinstance(value, str) or not _is_header_value(value):
            raise ValueError(
                f"{name}: the value of header {key!r} must be printable ASCII without line breaks "
                "(URL-encode other characters)"
            )
        checked[key] = value
    return checked


def _check_key(name: str, key: str) -> str:
    """The key goes into a header: refuse what would break the request, and never echo it."""
    if not all("!" <= char <= "~" for char in key):
        raise ValueError(
            f"the access key ({env.DYNAMIQ_ACCESS_KEY} or {env.DYNAMIQ_SERVICE_TOKEN}, or access_key=) holds "
            "spaces, line breaks or non-ASCII characters; copy it again without them"
        )
    return key


def _check_endpoint(name: str, endpoint: str) -> str:
    """Named as the variable, whichever way the URL came: the errors say what to set."""
    parts = urlsplit(endpoint)
    if parts.username is not None or parts.password is not None:
        # Not echoed: the URL holds a password. httpx would also send it as Basic auth instead of the key.
        raise ValueError(
            f"{env.OTEL_EXPORTER_DYNAMIQ_ENDPOINT} holds a user name or password (user:pass@host); "
            f"remove it and give the key in {env.DYNAMIQ_ACCESS_KEY}"
        )
    try:
        parts.port  # noqa: B018 - parsing it is the check: a port that is not a number raises here
    except ValueError:
        valid_port = False
    else:
        valid_port = True
    if parts.scheme not in ("http", "https") or not parts.hostname or not valid_port:
        raise ValueError(
            f"{env.OTEL_EXPORTER_DYNAMIQ_ENDPOINT}={endpoint!r} is not an http(s) URL; "
            f"set it to a base URL such as {DEFAULT_ENDPOINT}"
        )
    return endpoint.rstrip("/")


def _check_standard_trust_variables() -> None:
    """httpx reads ``SSL_CERT_FILE`` (else ``SSL_CERT_DIR``) when it makes its TLS context, after start-up:
    a path that is not there would only show at the first export, as a failure to send."""
    cert_file, cert_dir = os.environ.get(env.SSL_CERT_FILE), os.environ.get(env.SSL_CERT_DIR)
    if cert_file:
        if not Path(cert_file).is_file():
            raise ValueError(
                f"{env.SSL_CERT_FILE}={cert_file!r} is not a file; point it to a PEM bundle of CA certificates, "
                f"unset it, or set {env.OTEL_EXPORTER_DYNAMIQ_CERTIFICATE} instead"
            )
    elif cert_dir and not Path(cert_dir).is_dir():
        raise ValueError(
            f"{env.SSL_CERT_DIR}={cert_dir!r} is not a directory; point it to a directory of CA certificates"
        )


def _mask_keyword(keyword: str, given: Mask | str) -> Mask:
    """A callable, or a ``module:function`` string as a configuration file gives it; imported and checked now,
    so a wrong name fails at start-up, not at the first export."""
    return _import_mask(keyword, given) if isinstance(given, str) else _check_mask(keyword, given)


def _as_text(name: str, raw: str) -> str:
    return raw


def _redact_keys_text(name: str, raw: str) -> tuple[str, ...]:
    return tuple(key.strip() for key in raw.split(",") if key.strip())


def _headers_text(name: str, raw: str) -> dict[str, str]:
    return check_headers(name, parse_headers(name, raw))


def _new_uuid() -> str:
    return str(uuid.uuid4())


class ExporterOptions(TypedDict, total=False):
    """The keyword arguments of ``DynamiqSpanExporter`` and ``load_config``: the settings of ``SETTINGS``, typed.

    Each may also come from a configuration file, typed as YAML types it; ``None`` is the same as not given.
    """

    access_key: str | None
    endpoint: str | None
    timeout: float | None
    compression: str | None
    headers: Mapping[str, str] | None
    max_request_bytes: int | None
    source_id: str | None
    session_id: str | None
    insecure: bool | None
    redact_keys: Iterable[str] | None
    spool: bool | None
    spool_dir: str | os.PathLike[str] | None
    spool_max_bytes: int | None
    spool_max_age: float | None
    certificate_file: str | os.PathLike[str] | None
    flush_on_exit: bool | None
    client_certificate_file: str | os.PathLike[str] | None
    client_key_file: str | os.PathLike[str] | None
    client_key_password: str | None
    mask: Mask | str | None
    media_inline_bytes: int | None


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "access_key",
        "The Dynamiq access key, sent as ``Authorization: Bearer`` and never logged, echoed or written to "
        "the spool. A key with spaces, line breaks or non-ASCII characters is refused.",
        (env.DYNAMIQ_ACCESS_KEY, env.DYNAMIQ_SERVICE_TOKEN),
        _check_key,
        documented_default="none: required, except for a loopback endpoint (the local collector)",
        check=_given_text,
    ),
    Setting(
        "endpoint",
        "The collector's base URL; requests go to ``<endpoint>/v1/traces``. Plain ``http://`` is refused for "
        "another host unless ``insecure``, and so is a URL with ``user:pass@`` or a port that is not a number.",
        (env.OTEL_EXPORTER_DYNAMIQ_ENDPOINT,),
        _check_endpoint,
        DEFAULT_ENDPOINT,
        documented_default=f"``{DEFAULT_ENDPOINT}``",
        check=_given_text,
    ),
    Setting(
        "timeout",
        "Seconds one ``export()`` may take in all, retries included; what is still undelivered then goes to the spool.",
        (env.OTEL_EXPORTER_DYNAMIQ_TIMEOUT,),
        _parse_positive_float,
        DEFAULT_TIMEOUT_SECONDS,
        documented_default="``10``",
    ),
    Setting(
        "compression",
        '``"none"`` or ``"gzip"`` (request bodies).',
        (env.OTEL_EXPORTER_DYNAMIQ_COMPRESSION,),
        _parse_compression,
        "none",
        documented_default="``none``",
    ),
    Setting(
        "headers",
        "Extra headers on every request (``k1=v1,k2=v2``, URL-decoded, in the variable); they cannot replace "
        "the key's ``Authorization`` nor the headers the exporter sets itself.",
        (env.OTEL_EXPORTER_DYNAMIQ_HEADERS,),
        _headers_text,
        default_factory=dict,
        check=_headers_keyword,
        parse_keyword=check_headers,
    ),
    Setting(
        "max_request_bytes",
        "The largest request body, at least 16 KiB. Batches are split to fit, and a run too large alone has "
        "its inputs and outputs cut with a visible marker.",
        (env.OTEL_EXPORTER_DYNAMIQ_MAX_REQUEST_BYTES,),
        _parse_request_bytes,
        DEFAULT_MAX_REQUEST_BYTES,
        documented_default="``4194304`` (4 MiB)",
    ),
    Setting(
        "source_id",
        "The ``source_id`` of every run.",
        (env.OTEL_EXPORTER_DYNAMIQ_SOURCE_ID,),
        _as_text,
        default_factory=_new_uuid,
        documented_default="a UUID made once per exporter",
        check=_given_text,
    ),
    Setting(
        "session_id",
        "The ``session_id`` of runs whose span names none (``session.id``, ``gen_ai.conversation.id``).",
        (),
        _as_text,
        default_factory=_new_uuid,
        documented_default="a UUID made once per exporter",
        check=_given_text,
    ),
    Setting(
        "insecure",
        "True allows plain ``http://`` to another host, sending the key in clear text.",
        (env.OTEL_EXPORTER_DYNAMIQ_INSECURE,),
        parse_bool,
        False,
        documented_default="``false``",
        in_config=False,
    ),
    Setting(
        "redact_keys",
        "More key names whose values are masked before runs leave the process, beside the built-in ones "
        "(``password``, ``api_key``, ``token``, ...), which always apply; comma-separated in the variable.",
        (env.OTEL_EXPORTER_DYNAMIQ_REDACT_KEYS,),
        _redact_keys_text,
        (),
        documented_default="none beyond the built-in list",
        check=_redact_keys_keyword,
        parse_keyword=unchanged,
    ),
    Setting(
        "spool",
        "False turns the spool off: runs still undeliverable at the deadline, or at shutdown, are then "
        "dropped (and counted).",
        (env.OTEL_EXPORTER_DYNAMIQ_SPOOL,),
        parse_bool,
        True,
        documented_default="``true``",
        in_config=False,
    ),
    Setting(
        "spool_dir",
        "The spool's base directory, with one subdirectory per endpoint and key, used only if it belongs to "
        "this user and no one else can write it (else bodies wait in memory, said in one line). Given, it is "
        "used as it is: the temporary directories are not looked at, and the working directory never is.",
        (env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR,),
        _parse_spool_dir,
        documented_default="``otel-dynamiq-<uid>`` in the first writable of ``$TMPDIR``, ``/tmp``, ``/var/tmp`` "
        "(``/tmp/otel-dynamiq-1000``); none writable: memory only",
        check=_path,
        in_config=False,
    ),
    Setting(
        "spool_max_bytes",
        "The most the spool holds for one endpoint and key, at least 1 MiB; the oldest bodies go first.",
        (env.OTEL_EXPORTER_DYNAMIQ_SPOOL_MAX_BYTES,),
        _parse_spool_bytes,
        DEFAULT_SPOOL_MAX_BYTES,
        documented_default="``104857600`` (100 MiB)",
        in_config=False,
    ),
    Setting(
        "spool_max_age",
        "Seconds a spooled body is kept before it is dropped as too old.",
        (env.OTEL_EXPORTER_DYNAMIQ_SPOOL_MAX_AGE,),
        _parse_positive_float,
        DEFAULT_SPOOL_MAX_AGE_SECONDS,
        documented_default="``604800`` (7 days)",
        in_config=False,
    ),
    Setting(
        "certificate_file",
        "A PEM file of the certificate authorities to trust for an ``https://`` endpoint, instead of the "
        "default ones. Loaded at start-up, so a wrong path fails there. Verification is never turned off.",
        (env.OTEL_EXPORTER_DYNAMIQ_CERTIFICATE,),
        _parse_certificate_file,
        documented_default=f"``{env.SSL_CERT_FILE}`` or ``{env.SSL_CERT_DIR}`` when set, else certifi's bundle",
        check=_path,
    ),
    Setting(
        "flush_on_exit",
        "False installs nothing to flush the spans a process made when it ends without ``atexit``: a SIGTERM "
        "(or SIGINT) left at its default action, a ``multiprocessing`` child's exit. Each flush is bounded by "
        "``timeout``, and the process then ends with the same signal and status as without it "
        "(docs/delivery.md).",
        (env.OTEL_EXPORTER_DYNAMIQ_FLUSH_ON_EXIT,),
        parse_bool,
        True,
        documented_default="``true``",
    ),
    Setting(
        "client_certificate_file",
        "A PEM file with this client's certificate (and its chain, and the key if ``client_key_file`` is not "
        "given), for an endpoint that demands one (mutual TLS). Loaded at start-up: a wrong path, a key that "
        "does not match or an encrypted key without its password fails there.",
        (env.OTEL_EXPORTER_DYNAMIQ_CLIENT_CERTIFICATE,),
        _expand_home,
        check=_path,
        in_config=False,
    ),
    Setting(
        "client_key_file",
        "The certificate's PEM private key.",
        (env.OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY,),
        _expand_home,
        documented_default="the certificate's file",
        check=_path,
        in_config=False,
    ),
    Setting(
        "client_key_password",
        "The password of an encrypted key; never logged or echoed.",
        (env.OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY_PASSWORD,),
        _as_text,
        in_config=False,
    ),
    Setting(
        "mask",
        "Called with each run (a dict, after the built-in redaction), on the thread that exports (a "
        "BatchSpanProcessor's worker); it returns the run to send, changed as it likes, or None to drop it "
        "(counted as ``masked``). A run whose mask raises is dropped alone (``mask_failed``), never sent "
        'unmasked. A callable, or ``"package.module:function"``, imported at start-up.',
        (env.OTEL_EXPORTER_DYNAMIQ_MASK,),
        _import_mask,
        parse_keyword=_mask_keyword,
    ),
    Setting(
        "media_inline_bytes",
        "Images, audio and files in messages up to this many bytes stay in the run as data URLs; larger ones "
        "are kept as a typed part (kind, MIME type, size) without their data; 0 keeps none inline.",
        (env.OTEL_EXPORTER_DYNAMIQ_MEDIA_INLINE_BYTES,),
        _parse_media_bytes,
        DEFAULT_MEDIA_INLINE_BYTES,
        documented_default="``16384`` (16 KiB)",
    ),
)
"""Every setting of the exporter, in the order the constructor documents them; ``load_config`` reads them all.

A setting whose value is its ``ExporterConfig`` field needs only its entry here (and that field, its variable in
``environment_variables.py``, its key in ``ExporterOptions`` and its row in docs/configuration.md, which tests
demand); the others are combined into their fields by ``load_config`` below."""


def load_config(*, spool_refuse_when_full: bool = False, **options: Unpack[ExporterOptions]) -> ExporterConfig:
    """Merge keyword arguments over the environment over the defaults, as ``SETTINGS`` says.

    Keywords may come from the SDK's configuration file, typed as YAML types them: each is checked, and a
    value of the wrong type fails here naming its keyword.
    """
    return read_config(options, caller="load_config", spool_refuse_when_full=spool_refuse_when_full)


_BY_KEYWORD = {setting.keyword: setting for setting in SETTINGS}


def read_config(options: Mapping[str, object], *, caller: str, spool_refuse_when_full: bool = False) -> ExporterConfig:
    """``load_config`` for keywords in a mapping; one that is no setting raises the TypeError ``caller()`` would."""
    given = checked_keywords(SETTINGS, options, caller)

    def value(keyword: str) -> Any:
        return _BY_KEYWORD[keyword].value(given)

    endpoint: str = value("endpoint")
    allow_insecure = value("insecure")  # read whatever the endpoint: a bad value fails at start-up all the same
    if urlsplit(endpoint).scheme == "http" and not is_loopback_url(endpoint) and not allow_insecure:
        raise ValueError(
            f"{env.OTEL_EXPORTER_DYNAMIQ_ENDPOINT}={endpoint!r} is plain http:// to another host, which "
            f"would send the access key in clear text; use https://, or set {env.OTEL_EXPORTER_DYNAMIQ_INSECURE}=true"
        )
    key: str | None = value("access_key")
    if not key and not is_loopback_url(endpoint):
        raise ValueError(
            f"No Dynamiq access key: set {env.DYNAMIQ_ACCESS_KEY} (or {env.DYNAMIQ_SERVICE_TOKEN}), "
            "or pass access_key=; only a loopback endpoint may go without one"
        )
    fields: dict[str, Any] = {"endpoint": endpoint, "access_key": key}
    for setting in SETTINGS:  # every other setting that is its own field, in order
        if setting.in_config and setting.keyword not in fields:
            fields[setting.keyword] = setting.value(given)

    spool = None
    if value("spool"):
        # The default is looked for only when no setting names a directory: a given one is used as it is.
        given_directory: Path | None = value("spool_dir")
        spool = SpoolConfig(
            directory=given_directory if given_directory is not None else default_spool_directory(),
            max_bytes=value("spool_max_bytes"),
            max_age_seconds=value("spool_max_age"),
            refuse_when_full=spool_refuse_when_full,
        )
    if fields["certificate_file"] is None and urlsplit(endpoint).scheme == "https":
        _check_standard_trust_variables()
    chosen_proxy = proxy_for(endpoint + TRACES_PATH)
    return ExporterConfig(
        **fields,
        spool=spool,
        proxy=chosen_proxy.url if chosen_proxy is not None else None,
        client_certificate=_client_certificate(
            given.get("client_certificate_file"), given.get("client_key_file"), given.get("client_key_password")
        ),
    )


def _client_certificate(
    certificate_file: str | os.PathLike[str] | None,
    key_file: str | os.PathLike[str] | None,
    key_password: str | None,
) -> ClientCertificate | None:
    """Keywords over variables, each on its own; the names in errors are those of where each value came from."""
    certificate_name = (
        "client_certificate_file" if certificate_file is not None else env.OTEL_EXPORTER_DYNAMIQ_CLIENT_CERTIFICATE
    )
    key_name = "client_key_file" if key_file is not None else env.OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY
    key_password_origin = (
        "client_key_password"
        if key_password is not None
        # Files given as keywords: say both ways of giving the password.
        else f"client_key_password (or {env.OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY_PASSWORD})"
        if certificate_file is not None or key_file is not None
        else env.OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY_PASSWORD
    )
    certificate_raw = (
        os.fspath(certificate_file)
        if certificate_file is not None
        else read_variable(env.OTEL_EXPORTER_DYNAMIQ_CLIENT_CERTIFICATE)
    )
    key_raw = os.fspath(key_file) if key_file is not None else read_variable(env.OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY)
    if key_password is not None and not isinstance(key_password, str):
        raise ValueError(f"{key_password_origin} must be a string (quote it in a configuration file)")
    password = (
        key_password if key_password is not None else os.environ.get(env.OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY_PASSWORD)
    )
    if certificate_raw is None:
        if key_raw is not None:
            raise ValueError(
                f"{key_name} is set without a client certificate; set client_certificate_file= or "
                f"{env.OTEL_EXPORTER_DYNAMIQ_CLIENT_CERTIFICATE} too, or neither"
            )
        return None
    client = ClientCertificate(
        certificate_file=_expand_home(certificate_name, certificate_raw),
        key_file=_expand_home(key_name, key_raw) if key_raw is not None else None,
        key_password=password or None,
    )
    return _check_client_certificate(certificate_name, key_name, key_password_origin, client)
