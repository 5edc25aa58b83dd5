"""Every way a process ends delivers what it made: pools, signals, servers' workers, PID 1.

Each test runs a real program (``tests/apps/process_ends.py``, ``tests/apps/web_apps.py``
under real uvicorn and gunicorn) against the local collector, reads the trace ids
the program wrote down as it made them, and checks that every one arrived, each
span once. ``OTEL_EXPORTER_DYNAMIQ_FLUSH_ON_EXIT=false`` shows what is lost without
the hooks, and the exit statuses show that they change nothing else.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_dynamiq import environment_variables as env
from otel_dynamiq.collector import LocalCollector
from tests.apps.celery_app import TASK_NAME, make_app
from tests.support.common import wait_for
from tests.support.processes import BIN, ROOT, clean_env
from tests.support.servers import Hang, Recorded, Reply, ScriptedServer, forward_to, free_port

METHODS = ["fork", "forkserver", "spawn"]
POOL_ENDS = ["pool-close", "pool-with", "pool-terminate", "executor", "process"]
SPANS_PER_TRACE = 2
TASKS_PER_CHILD = 10
EXIT_LIMIT_SECONDS = 60


@pytest.fixture
def made_file(tmp_path: Path) -> Path:
    return tmp_path / "made.txt"


def app_environment(collector: LocalCollector, made_file: Path, setup: str, **extra: str) -> dict[str, str]:
    return clean_env(
        MADE_FILE=str(made_file),
        APP_SETUP=setup,
        OTEL_SERVICE_NAME="process-ends",
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="*",  # none is needed here, and each costs seconds of start-up
        OTEL_BSP_SCHEDULE_DELAY="60000",  # the processor never exports on its own in time: only the hooks do
        **{env.OTEL_EXPORTER_DYNAMIQ_ENDPOINT: collector.url},
        **extra,
    )


def app_command(setup: str, *arguments: str) -> list[str]:
    command = [sys.executable, "-m", "tests.apps.process_ends", *arguments]
    if setup == "api":
        return [str(BIN / "opentelemetry-instrument"), "--traces_exporter", "dynamiq", *command]
    return command


def run_to_the_end(command: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the app until it ends by itself; it must end cleanly, with no traceback."""
    done = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=EXIT_LIMIT_SECONDS, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done


def made(made_file: Path) -> list[str]:
    return made_file.read_text().split() if made_file.exists() else []


def arrived(collector: LocalCollector) -> Counter[str]:
    """Runs per trace (hex); a run delivered twice fails the test."""
    runs = collector.store.runs()
    deliveries = collector.store.delivery_counts()
    assert all(deliveries[run["id"]] == 1 for run in runs), "a run arrived twice"
    return Counter(run["trace_id"].replace("-", "") for run in runs)


def assert_all_arrived(collector: LocalCollector, traces: list[str]) -> None:
    assert traces, "the app made nothing"
    wait_for(lambda: all(arrived(collector)[trace] >= SPANS_PER_TRACE for trace in traces), timeout=15)
    counts = arrived(collector)
    assert all(counts[trace] == SPANS_PER_TRACE for trace in traces), counts


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("scenario", POOL_ENDS)
def test_multiprocessing_children_deliver_every_run(
    scenario: str, method: str, collector: LocalCollector, made_file: Path
) -> None:
    run_to_the_end(app_command("manual", scenario, method), app_environment(collector, made_file, "manual"))
    traces = made(made_file)
    assert len(traces) == (3 if scenario == "process" else 21)  # the parent's trace and the workers'
    assert_all_arrived(collector, traces)


@pytest.mark.parametrize("method", METHODS)
def test_a_worker_ends_when_the_signal_lands_on_a_thread_other_than_its_main_one(
    method: str, collector: LocalCollector, made_file: Path
) -> None:
    """The kernel may hand a process's SIGTERM to any thread that does not block it while the main thread waits
    on a lock (an idle pool worker waits on its pool's): the app sends it, by thread id, to the SDK's processor
    thread of each of two workers waiting so, and checks that each ends by that signal, as it would without
    us, and promptly (``join`` waits 30 s at most); their runs arrive."""
    done = run_to_the_end(
        app_command("manual", "signal-to-a-thread", method), app_environment(collector, made_file, "manual")
    )
    assert done.stdout.split() == ["ended-by-SIGTERM"] * 2
    traces = made(made_file)
    assert len(traces) == 21
    assert_all_arrived(collector, traces)


@pytest.mark.parametrize("method", METHODS)
def test_pool_workers_deliver_under_opentelemetry_instrument(
    method: str, collector: LocalCollector, made_file: Path
) -> None:
    run_to_the_end(app_command("api", "pool-close", method), app_environment(collector, made_file, "api"))
    assert_all_arrived(collector, made(made_file))


def test_without_the_hooks_pool_workers_lose_their_runs(collector: LocalCollector, made_file: Path) -> None:
    """The setting turns them off, and what they are for shows: only the parent's trace arrives."""
    run_to_the_end(
        app_command("manual", "pool-close", "fork"),
        app_environment(collector, made_file, "manual", **{env.OTEL_EXPORTER_DYNAMIQ_FLUSH_ON_EXIT: "false"}),
    )
    traces = made(made_file)
    wait_for(lambda: arrived(collector)[traces[0]] == SPANS_PER_TRACE)
    time.sleep(0.5)
    assert sum(arrived(collector).values()) == SPANS_PER_TRACE


def default_sigint() -> None:
    """A shell's background job (CI's, a developer's ``&``) ignores SIGINT, and its children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_loop(command: list[str], environment: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        command,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        preexec_fn=default_sigint,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    time.sleep(0.5)  # a few traces made, the last ones still in the processor's queue
    return process


def sigterm_to_a_manual_app(scenario: str, collector: LocalCollector, made_file: Path) -> tuple[int, str, str]:
    """Start the app, send SIGTERM once it is ready, and wait for its end: its status, stdout and stderr."""
    process = start_loop(app_command("manual", scenario), app_environment(collector, made_file, "manual"))
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=EXIT_LIMIT_SECONDS)
    return process.returncode, stdout, stderr


@pytest.mark.parametrize("setup", ["manual", "api"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_delivers_then_ends_the_process_as_it_would_have(
    setup: str, signum: signal.Signals, collector: LocalCollector, made_file: Path
) -> None:
    """SIGTERM at its default action, and SIGINT's KeyboardInterrupt: same end, same status, every run."""
    process = start_loop(app_command(setup, "loop"), app_environment(collector, made_file, setup))
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=EXIT_LIMIT_SECONDS)
    if signum == signal.SIGTERM:
        assert process.returncode == -signum, stderr  # killed by the signal, as at its default action
    else:  # Python's own handler: KeyboardInterrupt and its traceback, then Python's own exit status
        assert process.returncode in (1, -signum) and stderr.rstrip().endswith("KeyboardInterrupt"), stderr
    assert_all_arrived(collector, made(made_file))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_child_that_terminates_its_own_children_is_not_ended_with_them(
    method: str, collector: LocalCollector, made_file: Path
) -> None:
    """A grandchild holds its parent's wakeup descriptor until its after-fork hook gives it up; a SIGTERM that
    lands in that moment is written to the parent's watcher, which must know it is not the parent's signal."""
    done = run_to_the_end(
        app_command("manual", "terminate-grandchildren", method), app_environment(collector, made_file, "manual")
    )
    assert done.stdout.split() == ["child", "exit", "0"]
    assert_all_arrived(collector, made(made_file))


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_a_worker_that_cannot_watch_for_signals_keeps_the_default_action(
    method: str, collector: LocalCollector, made_file: Path
) -> None:
    """Where the wakeup descriptor is someone else's (an asyncio parent's, inherited by a fork child before
    Python 3.12), a handler might never run in an idle worker: the worker keeps SIGTERM's default, so
    terminate() ends at once (its runs are lost, as without us); the parent's arrive. From Python 3.12 asyncio
    gives the descriptor up in every forked child, and forkserver children never inherit it: the watcher takes
    it there, the handler stays, and every run arrives."""
    done = run_to_the_end(
        app_command("manual", "pool-wakeup-held", method), app_environment(collector, made_file, "manual")
    )
    inherited = method == "fork" and sys.version_info < (3, 12)
    assert done.stdout.split() == (["default"] if inherited else ["handled"])
    traces = made(made_file)
    assert len(traces) == 21
    assert_all_arrived(collector, traces[:1] if inherited else traces)


@pytest.mark.parametrize("library", ["multiprocessing", "billiard"])
def test_a_child_signalled_before_its_processor_forgot_the_parents_spans_does_not_send_them(
    library: str, collector: LocalCollector, made_file: Path
) -> None:
    """A terminate() right after start() can land while the child's after-fork hooks run, before the span
    processor's has cleared the spans the child inherited: flushing then sent the parent's runs a second
    time. The child has made nothing yet; it takes the default action."""
    environment = app_environment(collector, made_file, "manual", SIGTERM_IN_FORK_HOOKS="1")
    done = run_to_the_end(app_command("manual", "signalled-in-fork-hooks", "fork", library), environment)
    assert done.stdout.split() == ["child", "exit", str(-signal.SIGTERM)]
    assert_all_arrived(collector, made(made_file))  # the parent's trace, each run once


@pytest.mark.parametrize("method", METHODS)
def test_a_fork_made_inside_a_worker_delivers_when_signalled(
    method: str, collector: LocalCollector, made_file: Path
) -> None:
    """Only a fork made by multiprocessing waits for multiprocessing's hooks; a worker's own ``os.fork()``
    child (a daemon, ``pty.fork``) is set up when ``fork()`` returns, and flushes on SIGTERM."""
    done = run_to_the_end(
        app_command("manual", "fork-in-a-worker", method), app_environment(collector, made_file, "manual")
    )
    assert done.stdout.split() == ["fork", "ended", "by", "signal", str(int(signal.SIGTERM))]
    traces = made(made_file)
    assert len(traces) == 1 + TASKS_PER_CHILD
    assert_all_arrived(collector, traces)


@pytest.mark.parametrize("method", METHODS)
def test_a_child_stuck_in_its_exit_is_still_ended_by_terminate(
    method: str, collector: LocalCollector, made_file: Path
) -> None:
    """A child whose exit hangs (a queue nobody reads) is ended by terminate(), within the exporter's
    timeout at most: on Python 3.13, where the signal lands after the exit's shutdown of the provider,
    the exit is let go on for one timeout, then the signal ends it."""
    environment = app_environment(collector, made_file, "manual", **{env.OTEL_EXPORTER_DYNAMIQ_TIMEOUT: "2"})
    done = run_to_the_end(app_command("manual", "stuck-in-exit", method), environment)
    assert done.stdout.split() == ["child", "exit", str(-signal.SIGTERM)]
    traces = made(made_file)
    assert len(traces) == 1 + TASKS_PER_CHILD
    assert_all_arrived(collector, traces)


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_a_signal_that_lands_while_a_child_exits_lets_its_exit_deliver(
    method: str, collector: LocalCollector, made_file: Path
) -> None:
    """From Python 3.13, spawn and forkserver children shut the provider down at exit (atexit) before
    multiprocessing's finalizers run; a terminate() that lands while that shutdown exports finds the
    processors closed to a flush. Ending the child then lost the batches the shutdown had yet to send; the
    exit goes on instead. Earlier Pythons flush in the finalizers first, and the signal then ends the child."""
    forward = forward_to(collector.url)

    def slowly(record: Recorded) -> Reply:
        time.sleep(0.3)  # batches of 4 spans, each answered slowly: the signal lands with batches left
        return forward(record)

    with ScriptedServer(slowly) as service:
        environment = app_environment(collector, made_file, "manual", OTEL_BSP_MAX_EXPORT_BATCH_SIZE="4")
        environment[env.OTEL_EXPORTER_DYNAMIQ_ENDPOINT] = service.url
        done = run_to_the_end(app_command("manual", "signalled-while-exiting", method), environment)
    said = done.stdout.split()
    if sys.version_info >= (3, 13):  # before, the finalizers' flush leaves the shutdown nothing to wait for
        assert said[0] == "signalled", said
    assert said[-3:] in (["child", "exit", "0"], ["child", "exit", str(-signal.SIGTERM)]), said
    traces = made(made_file)
    assert len(traces) == 1 + TASKS_PER_CHILD
    assert_all_arrived(collector, traces)


def test_a_signal_that_interrupts_code_holding_a_lock_still_delivers_and_ends_the_process(
    collector: LocalCollector, made_file: Path
) -> None:
    """The handler takes no lock and starts no thread: the interrupted code may hold the one it would need."""
    returncode, _, stderr = sigterm_to_a_manual_app("holding-a-lock", collector, made_file)
    assert returncode == -signal.SIGTERM, stderr
    assert_all_arrived(collector, made(made_file))


def test_sigterm_while_the_service_hangs_spools_within_the_timeout_and_the_next_process_delivers(
    collector: LocalCollector, made_file: Path
) -> None:
    """Bounded: the flush gives up at the exporter's timeout, spools, and the signal still ends the process."""
    hanging = threading.Event()
    hanging.set()
    forward = forward_to(collector.url)
    with ScriptedServer(lambda record: Hang() if hanging.is_set() else forward(record)) as service:
        environment = app_environment(collector, made_file, "manual", **{env.OTEL_EXPORTER_DYNAMIQ_TIMEOUT: "2"})
        environment[env.OTEL_EXPORTER_DYNAMIQ_ENDPOINT] = service.url
        process = start_loop(app_command("manual", "loop"), environment)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=EXIT_LIMIT_SECONDS)
        held = time.monotonic() - started
        assert process.returncode == -signal.SIGTERM, stderr
        assert held < EXIT_LIMIT_SECONDS / 2, held  # a hang would reach the limit; the bound is the 2 s timeout
        assert not collector.store.runs()
        # The service answers again: the next process to the same endpoint resends what the spool holds.
        hanging.clear()
        run_to_the_end(app_command("manual", "process", "fork"), environment)
        assert_all_arrived(collector, made(made_file))


def test_sigterm_ends_the_process_even_when_another_handler_raises_while_ours_waits(
    collector: LocalCollector, made_file: Path
) -> None:
    """The app's SIGALRM handler raises every 0.2 s while our handler waits on a service that never answers."""
    with ScriptedServer(lambda record: Hang()) as service:
        environment = app_environment(collector, made_file, "manual", **{env.OTEL_EXPORTER_DYNAMIQ_TIMEOUT: "2"})
        environment[env.OTEL_EXPORTER_DYNAMIQ_ENDPOINT] = service.url
        process = start_loop(app_command("manual", "alarm-timeouts"), environment)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=EXIT_LIMIT_SECONDS)
        assert process.returncode == -signal.SIGTERM, stderr


def test_without_the_hooks_sigterm_loses_the_last_runs(collector: LocalCollector, made_file: Path) -> None:
    environment = app_environment(collector, made_file, "manual", **{env.OTEL_EXPORTER_DYNAMIQ_FLUSH_ON_EXIT: "false"})
    process = start_loop(app_command("manual", "loop"), environment)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=EXIT_LIMIT_SECONDS)
    assert process.returncode == -signal.SIGTERM
    time.sleep(0.5)
    assert not any(arrived(collector)[trace] for trace in made(made_file))  # the processor's delay is 5 s


def test_the_applications_own_handler_is_kept(collector: LocalCollector, made_file: Path) -> None:
    """It exits with status 3 through SystemExit; the provider's atexit hook delivers, as without us."""
    process = start_loop(app_command("manual", "own-handler"), app_environment(collector, made_file, "manual"))
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=EXIT_LIMIT_SECONDS)
    assert process.returncode == 3, stderr
    assert_all_arrived(collector, made(made_file))


def test_a_handler_that_chains_to_ours_runs_once_and_the_process_ends_by_the_signal(
    collector: LocalCollector, made_file: Path
) -> None:
    returncode, stdout, stderr = sigterm_to_a_manual_app("chained-handler", collector, made_file)
    assert returncode == -signal.SIGTERM, stderr
    assert stdout.split().count("cleaned") == 1, stdout
    assert "Traceback" not in stderr, stderr
    assert_all_arrived(collector, made(made_file))


def test_a_handler_installed_from_c_is_left_alone() -> None:
    """faulthandler's (an embedded runtime's) handler shows as SIG_DFL to Python; replacing it would lose it."""
    probe = (
        "import faulthandler, signal, otel_dynamiq\n"
        "faulthandler.register(signal.SIGTERM, chain=True)\n"
        "otel_dynamiq.DynamiqSpanExporter(endpoint='http://127.0.0.1:9')\n"
        "print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, signal.getsignal(signal.SIGINT) is not None)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], env=clean_env(), capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["True", "True"], done.stderr


def test_the_hooks_are_installed_only_where_the_default_action_was(tmp_path: Path) -> None:
    probe = (
        "import signal, otel_dynamiq\n"
        "def mine(*_): pass\n"
        "signal.signal(signal.SIGINT, mine)\n"
        "before = signal.getsignal(signal.SIGTERM)\n"
        "otel_dynamiq.DynamiqSpanExporter(endpoint='http://127.0.0.1:9')\n"
        "print(before is signal.SIG_DFL, signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL,"
        " signal.getsignal(signal.SIGINT) is mine)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], env=clean_env(), capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["True", "True", "True"], done.stderr
    off = clean_env(**{env.OTEL_EXPORTER_DYNAMIQ_FLUSH_ON_EXIT: "false"})
    done = subprocess.run([sys.executable, "-c", probe], env=off, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["True", "False", "True"], done.stderr


def test_a_process_that_calls_os_exit_itself_delivers_after_force_flush(
    collector: LocalCollector, made_file: Path
) -> None:
    """The one end no hook sees; the documented one-line fix, ``otel_dynamiq.force_flush()``, works."""
    run_to_the_end(app_command("manual", "os-exit"), app_environment(collector, made_file, "manual"))
    traces = made(made_file)
    assert len(traces) == 6
    assert_all_arrived(collector, traces)


def can_unshare_pid() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not can_unshare_pid(), reason="needs root and unshare(1) for a PID namespace")
@pytest.mark.parametrize("setup", ["manual", "api"])
def test_as_pid_1_runs_keep_arriving_after_sigterm_until_sigkill(
    setup: str, collector: LocalCollector, made_file: Path
) -> None:
    """PID 1 ignores a signal it does not handle: the app runs on until the container's SIGKILL.

    After the SIGTERM, each span arrives within moments of its end (the processor
    would otherwise hold it for up to 5 s), so the SIGKILL loses nothing made before it.
    """
    command = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", *app_command(setup, "loop")]
    process = start_loop(command, app_environment(collector, made_file, setup))
    try:
        init = wait_for(lambda: pid_one_of(process.pid))
        os.kill(init, signal.SIGTERM)
        time.sleep(1.0)
        assert process.poll() is None, "PID 1 ended on a SIGTERM it does not handle"
        before_kill = made(made_file)
        # Three seconds, below the processor's five: only prompt exporting gets them there in time.
        wait_for(lambda: all(arrived(collector)[trace] == SPANS_PER_TRACE for trace in before_kill), timeout=3)
    finally:
        process.kill()
        process.communicate(timeout=EXIT_LIMIT_SECONDS)
    assert len(before_kill) > 30


def pid_one_of(unshare_pid: int) -> int | None:
    """The host's pid of the program unshare started as PID 1 of its namespace."""
    children = Path(f"/proc/{unshare_pid}/task/{unshare_pid}/children")
    found = children.read_text().split() if children.exists() else []
    return int(found[0]) if found else None


@pytest.fixture
def server_port() -> int:
    return free_port()


def fetch_traces(port: int, count: int) -> list[str]:
    wait_for(lambda: responds(port), timeout=30)
    traces = []
    for number in range(count):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/item/{number}", timeout=10) as response:
            traces.append(response.read().decode())
    return traces


def responds(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
            return True
    except OSError:
        return False


def serve(
    command: list[str], collector: LocalCollector, tmp_path: Path, **extra: str
) -> Iterator[subprocess.Popen[str]]:
    """A server under ``opentelemetry-instrument``; the test stops it, or it is killed at the end."""
    environment = clean_env(
        OTEL_SERVICE_NAME="web-app",
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="*",
        OTEL_BSP_SCHEDULE_DELAY="60000",
        **{env.OTEL_EXPORTER_DYNAMIQ_ENDPOINT: collector.url},
        **extra,
    )
    process = subprocess.Popen(
        [str(BIN / "opentelemetry-instrument"), "--traces_exporter", "dynamiq", *command],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "server.log").open("w"),
        text=True,
        cwd=ROOT,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=EXIT_LIMIT_SECONDS)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_uvicorn_workers_deliver_when_the_supervisor_is_stopped(
    signum: signal.Signals, collector: LocalCollector, server_port: int, tmp_path: Path
) -> None:
    """Every deploy: the supervisor terminates its two workers, which shut down, then re-raise SIGTERM."""
    command = [
        str(BIN / "uvicorn"), "tests.apps.web_apps:asgi_app", "--workers", "2",
        "--port", str(server_port), "--log-level", "warning", "--lifespan", "on", "--timeout-worker-healthcheck", "60",
    ]  # fmt: skip
    for process in serve(command, collector, tmp_path):
        traces = fetch_traces(server_port, 40)
        process.send_signal(signum)
        process.wait(timeout=EXIT_LIMIT_SECONDS)
    assert_all_arrived(collector, traces)


@pytest.mark.same_on_every_python  # gunicorn's own exit path (sys.exit and atexit); nothing of ours is needed
def test_gunicorn_workers_deliver_when_the_arbiter_is_stopped(
    collector: LocalCollector, server_port: int, tmp_path: Path
) -> None:
    command = [
        str(BIN / "gunicorn"), "tests.apps.web_apps:wsgi_app", "--workers", "2",
        "--bind", f"127.0.0.1:{server_port}", "--log-level", "warning",
    ]  # fmt: skip
    for process in serve(command, collector, tmp_path):
        traces = fetch_traces(server_port, 40)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=EXIT_LIMIT_SECONDS) == 0
    assert_all_arrived(collector, traces)


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_celery_workers_deliver_when_the_worker_is_stopped(
    pool: str, collector: LocalCollector, tmp_path: Path
) -> None:
    """Celery's warm shutdown on SIGTERM, with its pool of forked children or of threads.

    Prefork children end with os._exit inside their loop, before any finalizer: they flush when Celery
    announces the end (``worker_process_shutdown``). The thread pool ends through atexit.
    """
    client = make_app(tmp_path / "celery")

    command = [
        str(BIN / "celery"), "-A", "tests.apps.celery_app", "worker", "--pool", pool,
        "--concurrency", "2", "--loglevel", "warning", "--without-heartbeat", "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    for process in serve(command, collector, tmp_path, CELERY_DIR=str(tmp_path / "celery")):
        results = [client.send_task(TASK_NAME, args=(number,)) for number in range(20)]
        traces = [result.get(timeout=60) for result in results]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=EXIT_LIMIT_SECONDS) == 0
    assert_all_arrived(collector, traces)
