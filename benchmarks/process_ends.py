"""How processes end, ours beside the stock OTLP/HTTP exporter: spans made, spans arrived, time to exit.

Each runtime is a real program (``tests/apps/process_ends.py``, and
``tests/apps/web_apps.py`` under uvicorn) run twice in this one run: once with
``DynamiqSpanExporter`` to the local collector, once with the stock
``OTLPSpanExporter`` to a loopback OTLP/HTTP receiver that counts the spans it
decodes. The app writes down each trace it made (two spans each), so
"made" is known even for a process that is killed.

    .venv/bin/python benchmarks/process_ends.py [--tiny]

"exit s" is the time from the signal (or from the start, for pools) to the
process's end. PID 1 rows need root and ``unshare``; they are left out otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _support import ROOT, free_port, machine, parser, table
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from examples.loopback import LoopbackServer, QuietHandler
from otel_dynamiq.collector import LocalCollector

BIN = Path(sys.executable).parent
SPANS_PER_TRACE = 2


class OtlpCounter(LoopbackServer):
    """A loopback OTLP/HTTP (protobuf) receiver that counts the spans it is sent."""

    def __init__(self) -> None:
        self.spans = 0
        lock = threading.Lock()
        counter = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                request = ExportTraceServiceRequest()
                request.ParseFromString(self.read_body())
                spans = sum(len(scope.spans) for rs in request.resource_spans for scope in rs.scope_spans)
                with lock:
                    counter.spans += spans
                self.answer(200, b"", {"Content-Type": "application/x-protobuf"})

        super().__init__(Handler)


@contextmanager
def receiver(side: str) -> Iterator[tuple[dict[str, str], callable]]:  # type: ignore[valid-type]
    """The environment that points the app at this side's receiver, and how to count what arrived."""
    if side == "ours":
        with LocalCollector() as collector:
            yield (
                {
                    "OTEL_EXPORTER_DYNAMIQ_ENDPOINT": collector.url,
                    "OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR": tempfile.mkdtemp(),
                },
                lambda: len(collector.store.runs()),
            )
    else:
        with OtlpCounter() as counter:
            yield {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{counter.url}/v1/traces"}, lambda: counter.spans


def base_environment(made_file: Path, side: str, extra: dict[str, str]) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DYNAMIQ_"))}
    environment.pop("PYTHONPATH", None)
    environment.update(
        MADE_FILE=str(made_file),
        APP_SETUP="manual" if side == "ours" else "stock",
        OTEL_SERVICE_NAME="process-ends",
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="*",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        **extra,
    )
    return environment


def app(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "tests.apps.process_ends", *arguments]


def run_to_end(command: list[str], environment: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run(command, env=environment, cwd=ROOT, capture_output=True, timeout=300, check=False)
    return time.monotonic() - started


def default_sigint() -> None:
    """A shell's background job ignores SIGINT, and its children inherit that: give them the default back."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def signal_loop(command: list[str], environment: dict[str, str], signum: int, pid_one: bool = False) -> float:
    process = subprocess.Popen(
        command,
        env=environment,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=default_sigint,
    )
    assert process.stdout is not None
    process.stdout.readline()
    time.sleep(1.0)
    target = process.pid
    if pid_one:
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
        while not children.read_text().split():
            time.sleep(0.01)
        target = int(children.read_text().split()[0])
    started = time.monotonic()
    os.kill(target, signum)
    if pid_one:  # the container's grace period, then SIGKILL
        time.sleep(2.0)
        process.kill()
    process.wait(timeout=300)
    return time.monotonic() - started


def uvicorn_workers(environment: dict[str, str], side: str, requests: int) -> float:
    port = free_port()
    exporter = "dynamiq" if side == "ours" else "otlp_proto_http"
    command = [
        str(BIN / "opentelemetry-instrument"), "--traces_exporter", exporter,
        str(BIN / "uvicorn"), "tests.apps.web_apps:asgi_app", "--workers", "2", "--port", str(port),
        "--log-level", "warning", "--timeout-worker-healthcheck", "60",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=environment, cwd=ROOT, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    traces = []
    while time.monotonic() < deadline and not traces:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/first", timeout=2) as response:
                traces.append(response.read().decode())
        except OSError:
            time.sleep(0.1)
    for number in range(requests - 1):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/item/{number}", timeout=10) as response:
            traces.append(response.read().decode())
    Path(environment["MADE_FILE"]).write_text("\n".join(traces) + "\n")
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=300)
    return time.monotonic() - started


def can_unshare() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True).returncode == 0


def runtimes(tiny: bool) -> list[tuple[str, object]]:
    """(label, how to run it); each ``how`` takes the environment and the side, and returns the exit time."""
    cases: list[tuple[str, object]] = []
    methods = ["fork"] if tiny else ["fork", "forkserver", "spawn"]
    scenarios = ["pool-with"] if tiny else ["pool-close", "pool-with", "pool-terminate", "executor", "process"]
    for method in methods:
        for scenario in scenarios:
            cases.append((f"{scenario}, {method}", lambda e, s, sc=scenario, m=method: run_to_end(app(sc, m), e)))
    cases.append(("os._exit after force_flush()", lambda e, s: run_to_end(app("os-exit"), e)))
    cases.append(("SIGTERM, default action", lambda e, s: signal_loop(app("loop"), e, signal.SIGTERM)))
    if not tiny:
        cases.append(("SIGINT (KeyboardInterrupt)", lambda e, s: signal_loop(app("loop"), e, signal.SIGINT)))
        if can_unshare():
            pid_one = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", *app("loop")]
            cases.append(
                ("PID 1: SIGTERM, SIGKILL 2 s later", lambda e, s: signal_loop(pid_one, e, signal.SIGTERM, True))
            )
        cases.append(("uvicorn --workers 2, SIGTERM", lambda e, s: uvicorn_workers(e, s, 100)))
    return cases


def main() -> None:
    arguments = parser(__doc__).parse_args()
    rows = []
    for label, how in runtimes(arguments.tiny):
        row: list[object] = [label]
        made = {}
        arrived = {}
        exits = {}
        for side in ("ours", "stock"):
            with tempfile.TemporaryDirectory() as folder, receiver(side) as (extra, count):
                made_file = Path(folder) / "made.txt"
                exits[side] = how(base_environment(made_file, side, extra), side)  # type: ignore[operator]
                made[side] = SPANS_PER_TRACE * len(made_file.read_text().split()) if made_file.exists() else 0
                time.sleep(1.0)  # what is still on its way
                arrived[side] = count()
        row += [made["ours"], arrived["ours"], made["stock"], arrived["stock"], exits["ours"], exits["stock"]]
        rows.append(row)
        print(f"  {label}: ours {arrived['ours']}/{made['ours']}, stock {arrived['stock']}/{made['stock']}", flush=True)
    print(f"\nProcess ends, ours beside the stock OTLP/HTTP exporter ({machine()})")
    print(table(["runtime", "made", "arrived, ours", "made", "arrived, stock", "exit s, ours", "exit s, stock"], rows))


if __name__ == "__main__":
    main()
