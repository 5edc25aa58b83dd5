"""``otel-dynamiq``: run the local collector, print a trace it holds, or check a setup."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from otel_dynamiq._doctor import run_doctor
from otel_dynamiq.collector import LocalCollector, render_tree

DEFAULT_PORT = 4319
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
COLLECTOR_KEY_VARIABLE = "OTEL_DYNAMIQ_COLLECTOR_ACCESS_KEY"


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the URL is the user's collector
        return json.load(response)


def _serve(args: argparse.Namespace) -> int:
    # The key comes from the environment: a command line is visible to every user of the machine.
    collector = LocalCollector(args.host, args.port, args.db, os.environ.get(COLLECTOR_KEY_VARIABLE) or None)
    print(f"otel-dynamiq collector listening on {collector.url} (POST /v1/traces)", flush=True)
    try:
        collector.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        collector.stop()
    return 0


def _latest_trace_id(base_url: str) -> str | None:
    traces = _get_json(f"{base_url}/v1/traces")["traces"]
    return traces[0]["trace_id"] if traces else None


def _show(args: argparse.Namespace) -> int:
    base_url = args.url.rstrip("/")
    deadline = time.monotonic() + args.wait
    while True:
        try:
            trace_id = args.trace_id if args.trace_id != "latest" else _latest_trace_id(base_url)
            runs = _get_json(f"{base_url}/v1/traces/{trace_id}")["runs"] if trace_id else []
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
            runs = []
        except urllib.error.URLError as exc:
            print(f"otel-dynamiq: cannot reach the collector at {base_url}: {exc.reason}", file=sys.stderr)
            return 2
        if len(runs) >= args.min_runs or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if not runs:
        print(f"otel-dynamiq: no runs for trace {args.trace_id} at {base_url}", file=sys.stderr)
        return 1
    print(f"trace {runs[0]['trace_id']} ({len(runs)} runs)")
    print(render_tree(runs))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="otel-dynamiq", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("collector", help="serve the local collector")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--db", default=":memory:", help="SQLite file to keep runs in (default: memory)")
    serve.set_defaults(handler=_serve)

    show = commands.add_parser("show", help="print a trace from the collector as a tree")
    show.add_argument("trace_id", nargs="?", default="latest", help="a trace id, or 'latest'")
    show.add_argument("--url", default=DEFAULT_URL, help=f"the collector's base URL (default {DEFAULT_URL})")
    show.add_argument("--wait", type=float, default=0.0, help="seconds to wait for the runs to arrive")
    show.add_argument("--min-runs", type=int, default=1, help="with --wait, how many runs to wait for")
    show.set_defaults(handler=_show)

    doctor = commands.add_parser("doctor", help="check the configuration and send the service one test run")
    doctor.set_defaults(handler=lambda _args: run_doctor(sys.stdout))

    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
