"""``otel-dynamiq``: run the local collector, print a trace it holds, or check a setup."""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any, NoReturn

from otel_dynamiq import environment_variables as env
from otel_dynamiq._config import TRACES_PATH, is_loopback_host
from otel_dynamiq._doctor import run_doctor
from otel_dynamiq.collector import LocalCollector, render_tree
from otel_dynamiq.collector._validate import canonical_id
from otel_dynamiq.version import __version__

DEFAULT_PORT = 4319
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
COLLECTOR_KEY_VARIABLE = env.OTEL_DYNAMIQ_COLLECTOR_ACCESS_KEY
INDEX_CONTENT_VARIABLE = env.OTEL_DYNAMIQ_COLLECTOR_INDEX_CONTENT
REQUEST_TIMEOUT_SECONDS = 10.0


class CommandError(Exception):
    """A failure the user can act on: printed as one line on stderr, never as a traceback."""


def _get_json(url: str, key: str | None, timeout: float = REQUEST_TIMEOUT_SECONDS) -> Any:
    # The URL was checked to be http(s) by _base_url.
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return json.load(response)
    except json.JSONDecodeError:
        raise CommandError(f"{url} did not answer with JSON: is it an otel-dynamiq collector?") from None


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0 to 65535)")
    return port


def _serve(args: argparse.Namespace) -> int:
    # The key comes from the environment: a command line is visible to every user of the machine.
    key = os.environ.get(COLLECTOR_KEY_VARIABLE) or None
    if key is None and not is_loopback_host(args.host):
        raise CommandError(
            f"refusing to serve on {args.host} without a key: anyone who can reach it could read every run. "
            f"Set {COLLECTOR_KEY_VARIABLE}, or serve on 127.0.0.1"
        )
    if args.db != ":memory:" and not os.path.isdir(os.path.dirname(os.path.abspath(args.db))):
        raise CommandError(f"--db {args.db}: the directory {os.path.dirname(os.path.abspath(args.db))} does not exist")
    index_content = args.index_content
    if index_content is None:  # neither flag: the environment decides, as for the key
        try:
            index_content = env.parse_bool(INDEX_CONTENT_VARIABLE, os.environ.get(INDEX_CONTENT_VARIABLE) or "false")
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    try:
        collector = LocalCollector(args.host, args.port, args.db, key, index_content=index_content)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise CommandError(f"port {args.port} on {args.host} is in use; choose another with --port") from None
        raise CommandError(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}") from None
    except Exception as exc:  # sqlite3 errors on a --db that cannot be opened
        raise CommandError(f"cannot open --db {args.db}: {exc}") from None
    print(
        f"otel-dynamiq collector listening on {collector.url} (POST {TRACES_PATH}), trace viewer at {collector.url}/",
        flush=True,
    )
    try:
        collector.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        collector.stop()
    return 0


def _gateway(args: argparse.Namespace) -> int:
    """Imported here: the gateway needs the ``gateway`` extra, the other commands do not."""
    try:
        from otel_dynamiq.gateway import Gateway
    except ImportError as exc:
        raise CommandError(
            f"the gateway needs the gateway extra: pip install 'otel-dynamiq[gateway]' ({exc})"
        ) from None
    grpc_port = None if args.grpc_port == 0 else args.grpc_port
    try:
        gateway = Gateway(args.host, args.port, grpc_port)
    except ValueError as exc:  # a missing token or spool: what to set
        raise CommandError(str(exc)) from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise CommandError(
                f"a port on {args.host} is in use ({exc.strerror or exc}); choose others with --port and --grpc-port"
            ) from None
        raise CommandError(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}") from None
    grpc_part = f", OTLP/gRPC on {args.host}:{gateway.grpc_port}" if gateway.grpc_port else ""
    print(f"otel-dynamiq gateway: OTLP/HTTP on {gateway.http_url}{TRACES_PATH}{grpc_part}", flush=True)
    finished = gateway.serve_until_signalled(args.drain_seconds)
    counts = gateway.counts()
    print(
        f"otel-dynamiq gateway stopped: {counts.spans_accepted} spans accepted, {counts.spans_rejected} rejected, "
        f"{counts.requests_refused} requests refused" + ("" if finished else "; the drain deadline passed"),
        flush=True,
    )
    return 0 if finished else 1


def _base_url(url: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise CommandError(f"--url {url!r} is not an http:// or https:// URL")
    return url.rstrip("/")


def _latest_trace_id(base_url: str, key: str | None, timeout: float) -> str | None:
    answer = _get_json(f"{base_url}{TRACES_PATH}", key, timeout)
    traces = answer.get("traces") if isinstance(answer, dict) else None
    if not isinstance(traces, list):
        raise CommandError(f"{base_url} did not answer like an otel-dynamiq collector")
    return str(traces[0]["trace_id"]) if traces else None


def _trace_runs(base_url: str, trace_id: str, key: str | None, timeout: float) -> list[dict[str, Any]]:
    answer = _get_json(f"{base_url}{TRACES_PATH}/{urllib.parse.quote(trace_id, safe='')}", key, timeout)
    runs = answer.get("runs") if isinstance(answer, dict) else None
    if not isinstance(runs, list) or not all(isinstance(run, dict) for run in runs):
        raise CommandError(f"{base_url} did not answer like an otel-dynamiq collector")
    return runs


def _show(args: argparse.Namespace) -> int:
    base_url = _base_url(args.url)
    key = os.environ.get(COLLECTOR_KEY_VARIABLE) or None
    wanted = args.trace_id if args.trace_id == "latest" else str(canonical_id(args.trace_id))
    deadline = time.monotonic() + args.wait
    while True:
        try:
            trace_id = wanted if wanted != "latest" else _latest_trace_id(base_url, key, args.timeout)
            runs = _trace_runs(base_url, trace_id, key, args.timeout) if trace_id else []
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise CommandError(f"the collector refused the key: set {COLLECTOR_KEY_VARIABLE}") from None
            if exc.code != 404:
                raise CommandError(f"the collector at {base_url} answered HTTP {exc.code}") from None
            runs = []
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CommandError(f"cannot reach the collector at {base_url}: {reason}") from None
        if len(runs) >= args.min_runs or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if not runs:
        print(f"otel-dynamiq: no runs for trace {args.trace_id} at {base_url}", file=sys.stderr)
        return 1
    print(f"trace {runs[0].get('trace_id')} ({len(runs)} runs)")
    print(render_tree(runs))
    return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, as every other failure: what was wrong, and where to look."""
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(
        prog="otel-dynamiq", description="Run the local collector or the OTLP gateway, print a trace, or check a setup."
    )
    parser.add_argument("--version", action="version", version=f"otel-dynamiq {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("collector", help="serve the local collector")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})")
    serve.add_argument("--db", default=":memory:", help="SQLite file to keep runs in (default: memory)")
    serve.add_argument(
        "--index-content",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"let the viewer's search find text in runs' inputs and outputs (default: {INDEX_CONTENT_VARIABLE}, "
        "or off)",
    )
    serve.set_defaults(handler=_serve)

    show = commands.add_parser("show", help="print a trace from the collector as a tree")
    show.add_argument("trace_id", nargs="?", default="latest", help="a trace id (either form), or 'latest'")
    show.add_argument("--url", default=DEFAULT_URL, help=f"the collector's base URL (default {DEFAULT_URL})")
    show.add_argument("--wait", type=float, default=0.0, help="seconds to wait for the runs to arrive")
    show.add_argument("--min-runs", type=int, default=1, help="with --wait, how many runs to wait for")
    show.add_argument(
        "--timeout", type=float, default=REQUEST_TIMEOUT_SECONDS, help="seconds to wait for each answer (default 10)"
    )
    show.set_defaults(handler=_show)

    gateway = commands.add_parser("gateway", help="receive OTLP from any SDK or Collector and deliver it to Dynamiq")
    gateway.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    gateway.add_argument("--port", type=_port, default=4318, help="OTLP/HTTP port (default 4318)")
    gateway.add_argument("--grpc-port", type=_port, default=4317, help="OTLP/gRPC port, 0 for none (default 4317)")
    gateway.add_argument(
        "--drain-seconds", type=float, default=20.0, help="on SIGTERM, how long to finish what was taken (default 20)"
    )
    gateway.set_defaults(handler=_gateway)

    doctor = commands.add_parser("doctor", help="check the configuration and send the service one test run")
    doctor.set_defaults(handler=lambda _args: run_doctor(sys.stdout))

    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except CommandError as exc:
        print(f"otel-dynamiq: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader (``| head``) left: stop quietly, and keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        print(f"otel-dynamiq: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
