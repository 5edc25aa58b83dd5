"""Conditional polling: instrumented flow loops sleep only after a step that finished nothing.

The sleeps are counted for real: ``time.sleep`` is replaced by a counter that
records the calls made on behalf of ``Flow.run_sync``'s scheduling loop.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from dynamiq import Workflow
from dynamiq.executors.base import BaseExecutor
from dynamiq.executors.pool import ProcessExecutor, ThreadExecutor
from dynamiq.flows import Flow
from dynamiq.runnables import RunnableResult, RunnableStatus
from opentelemetry.instrumentation.dynamiq import DynamiqInstrumentor

from tests.support import dynamiq_apps as ds


class SleepCounter:
    def __init__(self) -> None:
        self.scheduling_sleeps = 0
        self._real = time.sleep

    def __call__(self, seconds: float) -> None:
        for depth in (1, 2):
            frame = sys._getframe(depth)
            if frame.f_code.co_name == "run_sync" and frame.f_code.co_filename.endswith("flows/flow.py"):
                self.scheduling_sleeps += 1
                break
        self._real(seconds)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> SleepCounter:
    counter = SleepCounter()
    monkeypatch.setattr(time, "sleep", counter)
    return counter


@pytest.fixture
def instrumented() -> Iterator[None]:
    with ds.instrumentation():
        yield


def chain(length: int, executor: type[BaseExecutor] = ThreadExecutor) -> Workflow:
    nodes: list[ds.Step] = []
    for index in range(length):
        nodes.append(ds.step(f"n{index}", *nodes[-1:]))
    return Workflow(flow=Flow(nodes=nodes, executor=executor))


class HesitantExecutor(ThreadExecutor):
    """Holds back the first ready nodes for one step: a scheduling step that finishes nothing."""

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__(max_workers=max_workers)
        self._held: list[Any] = []
        self._hesitated = False

    def execute(self, ready_nodes: list[Any], config: Any = None, **kwargs: Any) -> dict[str, RunnableResult]:
        if ready_nodes and not self._hesitated:
            self._hesitated, self._held = True, list(ready_nodes)
            return super().execute(ready_nodes=[], config=config, **kwargs)
        ready, self._held = [*self._held, *ready_nodes], []
        return super().execute(ready_nodes=ready, config=config, **kwargs)


def test_stock_flow_sleeps_after_every_step(sleeps: SleepCounter) -> None:
    result = chain(5).run_sync(input_data={})
    assert result.status == RunnableStatus.SUCCESS
    assert sleeps.scheduling_sleeps == 5  # one step per node of the chain, one sleep per step


def test_instrumented_flow_never_sleeps_after_a_productive_step(instrumented: None, sleeps: SleepCounter) -> None:
    result = chain(5).run_sync(input_data={})
    assert result.status == RunnableStatus.SUCCESS
    assert sleeps.scheduling_sleeps == 0


def test_an_idle_step_still_sleeps(instrumented: None, sleeps: SleepCounter) -> None:
    result = chain(3, HesitantExecutor).run_sync(input_data={})
    assert result.status == RunnableStatus.SUCCESS
    assert sleeps.scheduling_sleeps == 1  # the idle step only: no busy loop, no sleep after the others


def test_stock_behaviour_returns_after_uninstrument(sleeps: SleepCounter) -> None:
    instrumentor = DynamiqInstrumentor()
    instrumentor.instrument()
    chain(3).run_sync(input_data={})
    assert sleeps.scheduling_sleeps == 0
    instrumentor.uninstrument()
    chain(3).run_sync(input_data={})
    assert sleeps.scheduling_sleeps == 3


def test_process_executor_is_observed_too(sleeps: SleepCounter) -> None:
    # Dynamiq 0.69 cannot pickle a run's config (its cancellation token holds a lock), so nodes on
    # the process executor fail, instrumented or not. Their steps still return results, which is
    # what the conditional sleep observes.
    stock = chain(3, ProcessExecutor).run_sync(input_data={})
    stock_sleeps, sleeps.scheduling_sleeps = sleeps.scheduling_sleeps, 0
    with ds.instrumentation():
        traced = chain(3, ProcessExecutor).run_sync(input_data={})
    assert traced.status == stock.status
    assert stock_sleeps >= 1
    assert sleeps.scheduling_sleeps == 0


class OpaqueExecutor(BaseExecutor):
    """An executor that is not a PoolExecutor: its steps cannot be observed."""

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__(max_workers=max_workers)
        self._pool = ThreadExecutor(max_workers=max_workers)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)

    def execute(self, ready_nodes: list[Any], config: Any = None, **kwargs: Any) -> dict[str, RunnableResult]:
        results = {}
        for ready in ready_nodes:
            results[ready.node.id] = ready.node.run(
                input_data=ready.input_data, config=config, depends_result=ready.depends_result, **kwargs
            )
        return results


def test_an_executor_we_cannot_observe_keeps_stock_behaviour(instrumented: None, sleeps: SleepCounter) -> None:
    result = chain(3, OpaqueExecutor).run_sync(input_data={})
    assert result.status == RunnableStatus.SUCCESS, result.error
    assert sleeps.scheduling_sleeps == 3


class AsyncSleepCounter:
    """Counts the 1 ms sleeps that Flow.run_async's scheduling loop asks for."""

    def __init__(self) -> None:
        self.scheduling_sleeps = 0
        self._real = asyncio.sleep

    async def __call__(self, delay: float, result: Any = None) -> Any:
        for depth in (1, 2):
            frame = sys._getframe(depth)
            if frame.f_code.co_name == "run_async" and frame.f_code.co_filename.endswith("flows/flow.py"):
                if delay > 0:
                    self.scheduling_sleeps += 1
                break
        return await self._real(delay, result)


@pytest.fixture
def async_sleeps(monkeypatch: pytest.MonkeyPatch) -> AsyncSleepCounter:
    counter = AsyncSleepCounter()
    monkeypatch.setattr(asyncio, "sleep", counter)
    return counter


class HesitantFlow(Flow):
    """Holds back the first ready nodes for one step: an async scheduling step that runs nothing."""

    def _get_nodes_ready_to_run(self, input_data: Any) -> list[Any]:
        ready = super()._get_nodes_ready_to_run(input_data)
        if ready and not getattr(self, "_hesitated", False):
            object.__setattr__(self, "_hesitated", True)
            object.__setattr__(self, "_held", ready)
            return []
        held = getattr(self, "_held", [])
        object.__setattr__(self, "_held", [])
        return [*held, *ready]


def async_chain(length: int, flow_class: type[Flow] = Flow) -> Workflow:
    nodes: list[ds.Step] = []
    for index in range(length):
        nodes.append(ds.step(f"n{index}", *nodes[-1:]))
    return Workflow(flow=flow_class(nodes=nodes))


def test_stock_async_flow_sleeps_after_every_step(async_sleeps: AsyncSleepCounter) -> None:
    result = asyncio.run(async_chain(5).run_async(input_data={}))
    assert result.status == RunnableStatus.SUCCESS
    assert async_sleeps.scheduling_sleeps == 5


def test_instrumented_async_flow_never_waits_after_a_productive_step(
    instrumented: None, async_sleeps: AsyncSleepCounter
) -> None:
    result = asyncio.run(async_chain(5).run_async(input_data={}))
    assert result.status == RunnableStatus.SUCCESS
    assert async_sleeps.scheduling_sleeps == 0


def test_an_idle_async_step_still_sleeps(instrumented: None, async_sleeps: AsyncSleepCounter) -> None:
    result = asyncio.run(async_chain(3, HesitantFlow).run_async(input_data={}))
    assert result.status == RunnableStatus.SUCCESS
    assert async_sleeps.scheduling_sleeps == 1
