"""Processes that end the ways real ones do: worker pools, termination signals, PID 1 in a container.

    python -m tests.apps.process_ends SCENARIO [START_METHOD]

``APP_SETUP=manual`` builds its own TracerProvider with a BatchSpanProcessor
(the README's manual setup) at import, so spawned children set it up too;
``APP_SETUP=api`` uses only the OpenTelemetry API, for ``opentelemetry-instrument``.
``APP_SETUP=stock`` is the manual setup with the stock OTLP/HTTP exporter
(``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``), for the benchmark's comparison.

Every span the app makes is a trace of two spans; the trace id is appended to
``MADE_FILE`` (one line each, written after both spans ended), so whoever
started the app knows what it made even when the app is killed.

Scenarios: ``pool-close``, ``pool-with`` (the with-block terminates the
workers), ``pool-terminate``, ``executor``, ``process``: 20 tasks in 2 workers, then exit.
``signal-to-a-thread``: SIGTERM to a thread other than the main one of each of 2 waiting workers.
``terminate-grandchildren``: a child terminates 30 forked children of its own.
``pool-wakeup-held``: a pool whose parent holds Python's wakeup descriptor, terminated.
``signalled-in-fork-hooks fork LIBRARY``: a fork child (multiprocessing or billiard) signalled among its
after-fork hooks (``SIGTERM_IN_FORK_HOOKS=1``). ``stuck-in-exit``: a child whose exit hangs, terminated.
``fork-in-a-worker``: a worker's own ``os.fork()`` child, made traces, ended by SIGTERM.
``signalled-while-exiting``: a child makes traces, returns, and sends itself SIGTERM 0.2 s into its exit.
``alarm-timeouts``: a loop whose SIGALRM handler raises every 0.2 s, caught by the loop.
``holding-a-lock``: make 5 traces, then wait holding the lock ``Thread.start()`` takes.
``loop``: make a trace every 20 ms until a signal ends the process. ``own-handler``: the
same with the application's own SIGTERM handler, which exits with status 3. ``chained-handler``:
a handler installed after the exporter's that cleans up, then calls the handler it found.
``os-exit``: a forked child makes traces, calls ``otel_dynamiq.force_flush()`` and ``os._exit(0)``.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import multiprocessing
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from opentelemetry import trace

TASKS = 20
WORKERS = 2


def set_up(setup: str) -> None:
    if setup in ("manual", "stock"):
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

        exporter: SpanExporter
        if setup == "manual":
            from otel_dynamiq import DynamiqSpanExporter

            exporter = DynamiqSpanExporter()
            if os.environ.get("SIGTERM_IN_FORK_HOOKS"):
                # Between the exporter's after-fork hook and the processor's, which are registered around it.
                os.register_at_fork(after_in_child=lambda: os.kill(os.getpid(), signal.SIGTERM))
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        provider = TracerProvider(resource=Resource.create({"service.name": "process-ends"}))
        provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
    elif setup != "api":
        sys.exit(f"unknown APP_SETUP {setup!r}")


def make_trace(label: str) -> str:
    tracer = trace.get_tracer("process-ends")
    with tracer.start_as_current_span(f"task {label}") as root:
        with tracer.start_as_current_span("step", attributes={"input.value": label}):
            pass
    trace_id = format(root.get_span_context().trace_id, "032x")
    with open(os.environ["MADE_FILE"], "a") as made:
        made.write(trace_id + "\n")
    return trace_id


def task(number: int) -> str:
    time.sleep(0.01)
    return make_trace(f"{os.getpid()}-{number}")


def run_pool(scenario: str, context: multiprocessing.context.BaseContext) -> None:
    if scenario == "pool-with":
        with context.Pool(WORKERS) as pool:  # type: ignore[attr-defined]
            pool.map(task, range(TASKS))
    else:
        pool = context.Pool(WORKERS)  # type: ignore[attr-defined]
        pool.map(task, range(TASKS))
        if scenario == "pool-close":
            pool.close()
        else:
            pool.terminate()
        pool.join()


def make_traces_then_wait(held: Any, ready: Any) -> None:
    """A worker that waits, as an idle pool worker does, on a lock its parent holds."""
    for number in range(TASKS // WORKERS):
        make_trace(f"{os.getpid()}-{number}")
    ready.set()
    held.acquire()  # never released


def signal_a_thread_of_each_worker(context: multiprocessing.context.BaseContext) -> None:
    """SIGTERM sent, while the worker's main thread waits, to the one thread of the worker besides the main one
    that does not block it (the SDK's processor's): prints how each worker ended."""
    held = context.Lock()  # type: ignore[attr-defined]
    held.acquire()
    for _ in range(WORKERS):
        ready = context.Event()  # type: ignore[attr-defined]
        worker = context.Process(target=make_traces_then_wait, args=(held, ready))  # type: ignore[attr-defined]
        worker.start()
        ready.wait(30)
        threads = [int(tid) for tid in os.listdir(f"/proc/{worker.pid}/task") if int(tid) != worker.pid]
        open_to_it = [tid for tid in threads if not _blocks_sigterm(worker.pid, tid)]
        os.kill(open_to_it[0], signal.SIGTERM)  # a thread id: Linux delivers to that thread if it can
        worker.join(30)
        print("ended-by-SIGTERM" if worker.exitcode == -signal.SIGTERM else f"exit {worker.exitcode}", flush=True)
        if worker.exitcode is None:
            worker.kill()


def _blocks_sigterm(pid: int, tid: int) -> bool:
    with open(f"/proc/{pid}/task/{tid}/status") as status:
        blocked = next(line for line in status if line.startswith("SigBlk:"))
    return bool(int(blocked.split()[1], 16) >> (signal.SIGTERM - 1) & 1)


def terminate_children_of_a_child(context: multiprocessing.context.BaseContext) -> None:
    """A multiprocessing child that starts and terminates forked children of its own: prints whether it lived."""
    worker = context.Process(target=start_and_terminate_children)  # type: ignore[attr-defined]
    worker.start()
    worker.join(60)
    print(f"child exit {worker.exitcode}", flush=True)


def start_and_terminate_children() -> None:
    make_trace(f"{os.getpid()}-outer")
    forked = multiprocessing.get_context("fork")
    for _ in range(30):  # each SIGTERM lands while the grandchild may still hold its parent's wakeup descriptor
        grandchild = forked.Process(target=time.sleep, args=(1,))
        grandchild.start()
        grandchild.terminate()
        grandchild.join()


def signalled_while_it_exits(context: multiprocessing.context.BaseContext) -> None:
    """A child makes traces and returns; 0.2 s into its exit it sends itself SIGTERM (as a ``terminate()``
    that lands late would), while the provider's shutdown exports what the processor held."""
    worker = context.Process(target=make_traces_then_return_and_be_signalled)  # type: ignore[attr-defined]
    worker.start()
    worker.join(60)
    print(f"child exit {worker.exitcode}", flush=True)


def make_traces_then_return_and_be_signalled() -> None:
    exiting = threading.Event()

    def signal_this_process_once_its_exit_has_begun() -> None:
        exiting.wait()
        time.sleep(0.2)
        print("signalled", flush=True)
        os.kill(os.getpid(), signal.SIGTERM)

    # Started now: a thread may not start once the interpreter is exiting.
    threading.Thread(target=signal_this_process_once_its_exit_has_begun, daemon=True).start()
    # Registered after the provider's own shutdown, so it runs just before it.
    atexit.register(exiting.set)
    for number in range(TASKS // WORKERS):
        make_trace(f"{os.getpid()}-{number}")


def fork_a_child_that_is_signalled_in_its_fork_hooks(library: str) -> None:
    """With ``SIGTERM_IN_FORK_HOOKS`` set, a forked child signals itself as its after-fork hooks run, before
    the processor's has cleared the spans it inherited: prints how the child ended. ``library``:
    multiprocessing, or billiard (Celery's fork of it)."""
    processes: Any = multiprocessing if library == "multiprocessing" else __import__("billiard")
    worker = processes.get_context("fork").Process(target=time.sleep, args=(5,))
    worker.start()
    worker.join(60)
    print(f"child exit {worker.exitcode}", flush=True)


def terminate_a_child_stuck_in_its_exit(context: multiprocessing.context.BaseContext) -> None:
    """A child whose exit never ends (it put more on a queue than the pipe holds, and nobody reads: the
    deadlock multiprocessing's docs describe), ended the usual way, by ``terminate()``: prints its status."""
    queue = context.Queue()  # type: ignore[attr-defined]
    returned = context.Event()  # type: ignore[attr-defined]
    worker = context.Process(target=make_traces_then_fill_a_queue, args=(queue, returned))  # type: ignore[attr-defined]
    worker.start()
    returned.wait(60)
    time.sleep(0.5)  # into its exit, waiting on the queue's feeder thread
    worker.terminate()
    worker.join(60)
    print(f"child exit {worker.exitcode}", flush=True)
    if worker.exitcode is None:
        worker.kill()


def make_traces_then_fill_a_queue(queue: Any, returned: Any) -> None:
    for number in range(TASKS // WORKERS):
        make_trace(f"{os.getpid()}-{number}")
    queue.put(b"x" * 5_000_000)
    returned.set()


def fork_then_terminate_the_fork() -> None:
    """In a multiprocessing worker, a plain ``os.fork()`` (a daemon, ``pty.fork``): the fork makes traces
    and waits; the worker ends it with SIGTERM and prints how it ended."""
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        for number in range(TASKS // WORKERS):
            make_trace(f"fork-{number}")
        os.write(ready_write, b"r")
        while True:
            time.sleep(0.1)
    os.read(ready_read, 1)
    os.kill(pid, signal.SIGTERM)
    _, status = os.waitpid(pid, 0)
    print(f"fork ended by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else "fork exited", flush=True)


def describe_sigterm(_: object) -> str:
    handler = signal.getsignal(signal.SIGTERM)
    return "default" if handler is signal.SIG_DFL else "handled"


def pool_with_the_wakeup_descriptor_held(context: multiprocessing.context.BaseContext) -> None:
    """The parent holds Python's wakeup descriptor (as asyncio's ``add_signal_handler`` does): workers print
    what SIGTERM does in them, then the pool is terminated."""
    import socket

    reader, writer = socket.socketpair()
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno())
    pool = context.Pool(WORKERS)  # type: ignore[attr-defined]
    print(*sorted(set(pool.map(describe_sigterm, range(TASKS)))), flush=True)
    pool.map(task, range(TASKS))
    pool.terminate()
    pool.join()
    signal.set_wakeup_fd(-1)
    reader.close()
    writer.close()


def raise_timeout(signum: int, frame: FrameType | None) -> None:
    raise TimeoutError("the item took too long")


def run_with_alarm_timeouts() -> None:
    """Work items bounded by SIGALRM, whose handler raises (the usual per-item timeout), every 0.2 s."""
    signal.signal(signal.SIGALRM, raise_timeout)
    print("ready", flush=True)
    signal.setitimer(signal.ITIMER_REAL, 0.2, 0.2)
    number = 0
    while True:
        try:
            make_trace(f"alarm-{number}")
            number += 1
            time.sleep(1)
        except TimeoutError:
            continue


def run_loop() -> None:
    print("ready", flush=True)
    number = 0
    while True:
        make_trace(f"loop-{number}")
        number += 1
        time.sleep(0.02)


def exit_three(signum: int, frame: FrameType | None) -> None:
    sys.exit(3)


def chain_to_the_handler_found() -> None:
    """The pattern of libraries that clean up on SIGTERM and then defer to whatever was there (litellm does)."""
    found = signal.getsignal(signal.SIGTERM)

    def clean_up_then_chain(signum: int, frame: FrameType | None) -> None:
        print("cleaned up", flush=True)
        if callable(found):
            found(signum, frame)
        else:
            sys.exit(143)

    signal.signal(signal.SIGTERM, clean_up_then_chain)


def main() -> None:
    scenario = sys.argv[1]
    context = multiprocessing.get_context(sys.argv[2] if len(sys.argv) > 2 else None)
    make_trace("parent")
    if scenario == "terminate-grandchildren":
        terminate_children_of_a_child(context)
    elif scenario == "signalled-in-fork-hooks":
        fork_a_child_that_is_signalled_in_its_fork_hooks(sys.argv[3])
    elif scenario == "stuck-in-exit":
        terminate_a_child_stuck_in_its_exit(context)
    elif scenario == "fork-in-a-worker":
        worker = context.Process(target=fork_then_terminate_the_fork)  # type: ignore[attr-defined]
        worker.start()
        worker.join(60)
    elif scenario == "signalled-while-exiting":
        signalled_while_it_exits(context)
    elif scenario == "pool-wakeup-held":
        pool_with_the_wakeup_descriptor_held(context)
    elif scenario == "signal-to-a-thread":
        signal_a_thread_of_each_worker(context)
    elif scenario.startswith("pool"):
        run_pool(scenario, context)
    elif scenario == "executor":
        with concurrent.futures.ProcessPoolExecutor(WORKERS, mp_context=context) as executor:
            list(executor.map(task, range(TASKS)))
    elif scenario == "process":
        workers = [context.Process(target=task, args=(number,)) for number in range(WORKERS)]  # type: ignore[attr-defined]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    elif scenario == "loop":
        run_loop()
    elif scenario == "holding-a-lock":
        for number in range(5):
            make_trace(f"held-{number}")
        print("ready", flush=True)
        # The lock every Thread.start() takes, held as an application's thread start holds it for a moment:
        # a handler that started a thread, or took any lock, would wait here forever.
        with threading._active_limbo_lock:  # type: ignore[attr-defined]
            time.sleep(60)
    elif scenario == "alarm-timeouts":
        run_with_alarm_timeouts()
    elif scenario == "own-handler":
        signal.signal(signal.SIGTERM, exit_three)
        run_loop()
    elif scenario == "chained-handler":
        chain_to_the_handler_found()
        run_loop()
    elif scenario == "os-exit":
        pid = os.fork()
        if pid == 0:
            for number in range(5):
                make_trace(f"forked-{number}")
            import otel_dynamiq

            otel_dynamiq.force_flush()
            os._exit(0)
        os.waitpid(pid, 0)
    else:
        sys.exit(f"unknown scenario {scenario!r}")


set_up(os.environ.get("APP_SETUP", "api"))

if __name__ == "__main__":
    main()
