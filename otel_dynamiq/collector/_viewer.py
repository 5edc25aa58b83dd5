"""The trace viewer's routes on the collector's port: its page, its assets, and paged data for them.

The page and its data follow the API's access rule. With a key, every
request must carry it: as ``Authorization: Bearer <key>`` like the API, or
as HTTP Basic with the key as password, which is how a browser sends it (it
asks once, then sends it with the page's own requests; the key never sits in
a URL). Without a key the collector serves loopback only, and the viewer
also wants a loopback ``Host``, so a web page that rebinds its own name to
127.0.0.1 cannot read the runs through a visitor's browser.

Every answer about runs is one page (``limit`` at most), read from the
store's fact columns; a run's full JSON is sent as stored, never parsed.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import re
from dataclasses import replace
from functools import cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, unquote

from otel_dynamiq.collector._store import LABEL_KINDS, TRACE_SORTS, RunStore, TraceFilter, TraceSort
from otel_dynamiq.collector._summary import FACT_TEXT_CHARS
from otel_dynamiq.collector._validate import canonical_id
from otel_dynamiq.environment_variables import OTEL_DYNAMIQ_COLLECTOR_ACCESS_KEY

ASSETS_PREFIX = "/viewer/"
API_PREFIX = "/viewer/api/"
MAX_TRACES_PER_PAGE = 200
MAX_RUNS_PER_PAGE = 2000
MAX_LABEL_VALUES = 200
MAX_SESSIONS_PER_PAGE = 200
MAX_TURNS_PER_PAGE = 100
"""Each turn's root run may be parsed for its preview: a page of turns is kept smaller than a page of traces."""
MAX_BUCKETS = 200
LATEST_MS = 253_402_300_800_000.0
"""The start of the year 10000: the overview's range lies between the epoch and this."""
MAX_LABEL_CHARS = 200
"""A label a filter names is cut here, as the store cut it (``FACT_TEXT_CHARS``)."""
DOWNLOAD_PAGE = 200
"""Run ids read from the store per step of a download; each body is then read, and written, alone."""
REALM = "otel-dynamiq collector: any user name, the collector's key as password"
KEY_NEEDED = (
    f"This collector needs its access key (the {OTEL_DYNAMIQ_COLLECTOR_ACCESS_KEY} it was started with).\n"
    "Reload the page and, when the browser asks to sign in, type any user name and the key as the password.\n"
)
FORBIDDEN_HOST = "without a key the collector answers reads for localhost, 127.x.x.x or [::1] only"

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# The page runs only its own scripts and styles and talks only to its own origin: a run's text that
# slipped past escaping still could not load or run anything.
_PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_NO_STORE = {"Cache-Control": "no-store"}
_LOOPBACK_HOST = re.compile(r"^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d{1,5})?$", re.IGNORECASE)
_STATUS_FILTERS = frozenset({"succeeded", "failed", "skipped", "canceled", "failures", "running"})
_DIRECTIONS = {"desc": True, "asc": False}


class _BadQuery(ValueError):
    pass


def is_viewer_path(path: str) -> bool:
    return path in ("/", "/index.html") or path.startswith(ASSETS_PREFIX)


@cache
def _assets() -> dict[str, tuple[bytes, str]]:
    """The page's files, read once from the installed package: nothing is fetched at run time."""
    folder = resources.files("otel_dynamiq.collector").joinpath("viewer")
    assets = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in _CONTENT_TYPES:
            assets[entry.name] = (entry.read_bytes(), _CONTENT_TYPES[suffix])
    return assets


def loopback_host(handler: BaseHTTPRequestHandler) -> bool:
    """The request names a loopback host: what a browser sends for 127.0.0.1, never for a rebound name."""
    return bool(_LOOPBACK_HOST.match(handler.headers.get("Host", "")))


def _authorized(handler: BaseHTTPRequestHandler, access_key: str | None) -> bool:
    if access_key is None:
        return loopback_host(handler)
    given = handler.headers.get("Authorization", "")
    scheme, _, credentials = given.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        given = "Bearer " + decoded.partition(":")[2]
    return hmac.compare_digest(given.encode("utf-8", "replace"), f"Bearer {access_key}".encode())


def _send(
    handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str, headers: dict[str, str]
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in {**_SECURITY_HEADERS, **headers}.items():
        handler.send_header(name, value)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def _send_json(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    _send(handler, status, json.dumps(payload).encode(), "application/json", _NO_STORE)


def serve(handler: BaseHTTPRequestHandler, store: RunStore, access_key: str | None, path: str, query: str) -> None:
    """Answer one GET for the viewer (``is_viewer_path(path)`` is true)."""
    if not _authorized(handler, access_key):
        if access_key is None:
            _send_json(handler, HTTPStatus.FORBIDDEN, {"detail": FORBIDDEN_HOST})
        else:
            # What a person sees after cancelling the browser's prompt, which itself may not say what to type.
            _send(
                handler,
                HTTPStatus.UNAUTHORIZED,
                KEY_NEEDED.encode(),
                "text/plain; charset=utf-8",
                {**_NO_STORE, "WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'},
            )
        return
    if path.startswith(API_PREFIX):
        try:
            _serve_data(handler, store, path[len(API_PREFIX) :], parse_qs(query, max_num_fields=20))
        except (_BadQuery, ValueError) as bad:
            _send_json(handler, HTTPStatus.BAD_REQUEST, {"detail": str(bad)[:200]})
        return
    name = "index.html" if path in ("/", "/index.html") else path[len(ASSETS_PREFIX) :]
    asset = _assets().get(name)
    if asset is None:
        _send_json(handler, HTTPStatus.NOT_FOUND, {"detail": "no such file in the viewer"})
        return
    body, content_type = asset
    headers = {"Cache-Control": "no-cache"}
    if name == "index.html":
        headers["Content-Security-Policy"] = _PAGE_POLICY
    _send(handler, HTTPStatus.OK, body, content_type, headers)


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _limit(query: dict[str, list[str]], default: int, most: int) -> int:
    text = _one(query, "limit")
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= most:
        raise _BadQuery(f"limit must be a number from 1 to {most}")
    return int(text)


def _cursor(text: str | None) -> tuple[str, str] | None:
    """``<position>~<id>``: where the previous page ended."""
    if text is None:
        return None
    position, separator, last_id = text.partition("~")
    if not separator or not last_id or len(position) > 64:
        raise _BadQuery("after must be the 'next' of the previous page")
    return position, last_id


def _time_cursor(text: str | None) -> tuple[float, str] | None:
    """A page of traces or of runs ends at a start time (milliseconds) and an id."""
    cursor = _cursor(text)
    if cursor is None:
        return None
    try:
        position = float(cursor[0])
    except ValueError:
        position = math.nan
    if not math.isfinite(position):
        raise _BadQuery("after must be the 'next' of the previous page")
    return position, cursor[1]


def _trace_cursor(text: str | None, order: str, sort: TraceSort) -> tuple[float | None, str] | None:
    """A page of traces ends at ``<order>:<key>~<trace id>``: the order it was listed in (``cost-asc``), its sort
    key there (``null`` once past every known one) and a trace id.

    A mark from another order is refused, never read as a place in this one (a cost taken for a start would
    start the page anywhere): the page that asks starts again from the top.
    """
    if text is None:
        return None
    listed, separator, rest = text.partition(":")
    if not separator:
        raise _BadQuery("after must be the 'next' of the previous page")
    if listed != order:
        raise _BadQuery(f"after is the 'next' of a page in another order ({listed[:20]}): ask for the first page again")
    if rest.startswith("null~") and sort.nullable:
        cursor = _cursor(rest)
        return None if cursor is None else (None, cursor[1])
    return _time_cursor(rest)


def _trace_sort(query: dict[str, list[str]]) -> tuple[str, TraceSort]:
    """``sort`` and ``dir`` name one of the store's orders; their text never reaches the SQL. Also its name,
    ``<sort>-<dir>``, which every page's ``next`` carries."""
    key = _one(query, "sort") or "start"
    direction = _one(query, "dir") or "desc"
    if key not in TRACE_SORTS:
        raise _BadQuery(f"sort must be one of {', '.join(TRACE_SORTS)}")
    if direction not in _DIRECTIONS:
        raise _BadQuery("dir must be asc or desc")
    return f"{key}-{direction}", replace(TRACE_SORTS[key], descending=_DIRECTIONS[direction])


def _epoch_ms(query: dict[str, list[str]], name: str) -> float | None:
    text = _one(query, name)
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise _BadQuery(f"{name} must be a time in milliseconds since the epoch")
    return value


def _trace_filter(query: dict[str, list[str]]) -> TraceFilter:
    """``from`` and ``to`` (epoch ms) and label values (``model=gpt-4o&tag=env:prod&tag=team:a``), all to hold."""
    labels = tuple((kind, value[:MAX_LABEL_CHARS]) for kind in LABEL_KINDS for value in query.get(kind, ()) if value)
    return TraceFilter(_epoch_ms(query, "from"), _epoch_ms(query, "to"), labels)


def _serve_data(handler: BaseHTTPRequestHandler, store: RunStore, route: str, query: dict[str, list[str]]) -> None:
    parts = [unquote(part) for part in route.split("/")]
    if parts == ["version"]:
        _send_json(handler, HTTPStatus.OK, {"version": store.version(), "instance": store.instance})
    elif parts == ["traces"]:
        status = _one(query, "status") or None
        if status is not None and status not in _STATUS_FILTERS:
            raise _BadQuery(f"status must be one of {', '.join(sorted(_STATUS_FILTERS))}")
        order, sort = _trace_sort(query)
        after = _trace_cursor(_one(query, "after"), order, sort)
        text = (_one(query, "q") or "").strip()[:200] or None
        limit = _limit(query, 50, MAX_TRACES_PER_PAGE)
        traces, following = store.trace_page(limit, after, status, text, sort, _trace_filter(query))
        next_page = None
        if following is not None:
            next_page = f"{order}:{'null' if following[0] is None else repr(following[0])}~{following[1]}"
        _send_json(handler, HTTPStatus.OK, {"traces": traces, "next": next_page})
    elif len(parts) == 2 and parts[0] == "labels":
        if parts[1] not in LABEL_KINDS:
            raise _BadQuery(f"labels are of {', '.join(LABEL_KINDS)}")
        values = store.label_values(parts[1], _limit(query, 50, MAX_LABEL_VALUES))
        _send_json(handler, HTTPStatus.OK, {"values": [{"value": v, "traces": n} for v, n in values]})
    elif parts == ["sessions"]:
        after = _time_cursor(_one(query, "after"))
        sessions, following = store.session_page(_limit(query, 50, MAX_SESSIONS_PER_PAGE), after, _trace_filter(query))
        next_page = f"{following[0]!r}~{following[1]}" if following else None
        _send_json(handler, HTTPStatus.OK, {"sessions": sessions, "next": next_page})
    elif len(parts) == 2 and parts[0] == "sessions":
        _serve_session(handler, store, parts[1], query)
    elif parts == ["overview"]:
        _serve_overview(handler, store, query)
    elif len(parts) == 2 and parts[0] == "traces":
        summary = store.trace_summary(str(canonical_id(parts[1])))
        if summary is None:
            _send_json(handler, HTTPStatus.NOT_FOUND, {"detail": "no such trace"})
        else:
            _send_json(handler, HTTPStatus.OK, summary)
    elif len(parts) == 3 and parts[0] == "traces" and parts[2] == "runs":
        run_after = _time_cursor(_one(query, "after"))
        trace_id = str(canonical_id(parts[1]))
        since = _one(query, "since")
        if since is not None and (not since.isdigit() or not since.isascii() or int(since) >= 2**63):
            raise _BadQuery("since must be a version the page was given")
        limit = _limit(query, 1000, MAX_RUNS_PER_PAGE)
        runs, run_following = store.run_page(trace_id, limit, run_after, int(since) if since is not None else None)
        next_runs = f"{run_following[0]!r}~{run_following[1]}" if run_following else None
        _send_json(handler, HTTPStatus.OK, {"trace_id": trace_id, "runs": runs, "next": next_runs})
    elif len(parts) == 2 and parts[0] == "runs":
        stored = store.run_json(str(canonical_id(parts[1])))
        if stored is None:
            _send_json(handler, HTTPStatus.NOT_FOUND, {"detail": "no such run"})
            return
        body, deliveries = stored
        payload = b'{"deliveries": %d, "run": %s}' % (deliveries, body.encode())
        _send(handler, HTTPStatus.OK, payload, "application/json", _NO_STORE)
    elif len(parts) == 3 and parts[0] == "traces" and parts[2] == "download":
        _send_download(handler, store, str(canonical_id(parts[1])))
    else:
        _send_json(handler, HTTPStatus.NOT_FOUND, {"detail": "no such viewer data"})


def _send_download(handler: BaseHTTPRequestHandler, store: RunStore, trace_id: str) -> None:
    """The trace's runs as one JSON list, in start order, each as stored: sent a page of runs at a time.

    Chunked over HTTP/1.1 (the length is not known until the last page); an HTTP/1.0 answer ends with the
    connection. The file name keeps only safe characters of the id: it goes into a header.
    """
    ids, following = store.run_marks(trace_id, DOWNLOAD_PAGE)
    if not ids:
        _send_json(handler, HTTPStatus.NOT_FOUND, {"detail": "no such trace"})
        return
    chunked = handler.request_version >= "HTTP/1.1"
    name = re.sub(r"[^A-Za-z0-9._-]", "_", trace_id)[:120]
    handler.send_response(HTTPStatus.OK)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Disposition", f'attachment; filename="trace-{name}.json"')
    for header, value in {**_SECURITY_HEADERS, **_NO_STORE}.items():
        handler.send_header(header, value)
    if chunked:
        handler.send_header("Transfer-Encoding", "chunked")
    else:
        handler.close_connection = True
        handler.send_header("Connection", "close")
    handler.end_headers()
    if handler.command == "HEAD":
        return
    # A run sent again while the file is written may move past the page mark: it is written once, where first met.
    written: set[str] = set()
    separator = b"["
    while True:
        for run_id in ids:
            stored = store.run_json(run_id)
            if stored is None or run_id in written:
                continue
            written.add(run_id)
            _write(handler, separator + stored[0].encode(), chunked)  # one run per chunk: memory for one run
            separator = b",\n"
        if following is None:
            break
        ids, following = store.run_marks(trace_id, DOWNLOAD_PAGE, following)
    _write(handler, b"[]\n" if separator == b"[" else b"]\n", chunked)
    if chunked:
        handler.wfile.write(b"0\r\n\r\n")


def _write(handler: BaseHTTPRequestHandler, data: bytes, chunked: bool) -> None:
    handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)


def _serve_session(
    handler: BaseHTTPRequestHandler, store: RunStore, session_id: str, query: dict[str, list[str]]
) -> None:
    """A session's totals and a page of its turns, oldest first: the totals come with every page."""
    after = _time_cursor(_one(query, "after"))
    limit = _limit(query, 50, MAX_TURNS_PER_PAGE)
    session_id = session_id[:FACT_TEXT_CHARS]  # kept as long as a run's facts keep it: a whole longer id finds it too
    session = store.session(session_id)
    if session is None:
        _send_json(handler, HTTPStatus.NOT_FOUND, {"detail": "no such session"})
        return
    turns, following = store.turn_page(session_id, limit, after)
    next_page = f"{following[0]!r}~{following[1]}" if following else None
    _send_json(handler, HTTPStatus.OK, {"session": session, "turns": turns, "next": next_page})


def _serve_overview(handler: BaseHTTPRequestHandler, store: RunStore, query: dict[str, list[str]]) -> None:
    """``from`` and ``to`` (either may be left open: the data's first or last start) and at most ``buckets``."""
    chosen = _trace_filter(query)
    if chosen.labels:
        raise _BadQuery("the overview takes from, to and buckets only")
    for bound in (chosen.start_from, chosen.start_to):
        if bound is not None and not 0 <= bound <= LATEST_MS:
            raise _BadQuery(f"from and to must be times from the epoch to {LATEST_MS:.0f} ms")
    if chosen.start_from is not None and chosen.start_to is not None and chosen.start_from >= chosen.start_to:
        raise _BadQuery("from must be before to")
    text = _one(query, "buckets")
    if text is not None and (not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_BUCKETS):
        raise _BadQuery(f"buckets must be a number from 1 to {MAX_BUCKETS}")
    _send_json(handler, HTTPStatus.OK, store.overview(chosen, int(text) if text is not None else 60))
