"""The engine's fast paths change nothing observable.

``agentic_nb.workflow._routing.FAST_PATHS`` turns off the direct-edge shortcut at
the barrier and the inlined single-slot loop; the event log of every run must be
the same, event for event, except for times.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agentic_nb import Case, Default, WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import InMemoryCheckpointStorage, Workflow, _routing

TIMES = {"ts", "duration_ms", "run_id"}


@pytest.fixture
def no_fast_paths() -> Iterator[None]:
    assert _routing.FAST_PATHS is True
    _routing.FAST_PATHS = False
    try:
        yield
    finally:
        _routing.FAST_PATHS = True


def _log(result: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.to_record().items() if k not in TIMES} for e in result.events]


def _graph(checkpoints: bool) -> Workflow:
    @executor(id="head")
    async def head(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n)

    @executor(id="inc")
    async def inc(n: int, ctx: WorkflowContext[int]) -> None:
        ctx.set_state(f"inc{n}", n)
        await ctx.send_message(n + 1)
        await ctx.send_message(f"text {n}")  # no handler downstream: undelivered, twice

    @executor(id="split")
    async def split(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n)

    @executor(id="small")
    async def small(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n * 10)

    @executor(id="big")
    def big(n: int, ctx: WorkflowContext[int]) -> None:  # sync: runs on a thread
        ctx.send_message(n * 100)

    @executor(id="join")
    async def join(ns: list[int], ctx: WorkflowContext[int, int]) -> None:
        await ctx.yield_output(sum(ns))
        if sum(ns) < 1000:
            await ctx.send_message(sum(ns))

    b = WorkflowBuilder(
        name="fastpaths",
        start=head,
        checkpoint_storage=InMemoryCheckpointStorage() if checkpoints else None,
    )
    b.add_chain([head, inc, split])
    b.add_switch(split, [Case(lambda n: n < 3, small), Default(big)])
    b.add_fan_out(split, [small, big])
    b.add_fan_in([small, big], join)
    b.add_edge(join, inc)
    return b.build()


@pytest.mark.parametrize("checkpoints", [False, True])
async def test_event_log_is_identical_without_fast_paths(checkpoints: bool) -> None:
    fast = await _graph(checkpoints).run(1, run_id="same")
    assert fast.status == "completed", fast.error
    assert _routing.FAST_PATHS is True
    _routing.FAST_PATHS = False
    try:
        slow = await _graph(checkpoints).run(1, run_id="same")
    finally:
        _routing.FAST_PATHS = True
    assert slow.outputs == fast.outputs
    fast_log, slow_log = _log(fast), _log(slow)
    if checkpoints:  # checkpoint ids are fresh uuids
        for log in (fast_log, slow_log):
            for rec in log:
                rec.pop("checkpoint_id", None)
    assert [r["type"] for r in slow_log] == [r["type"] for r in fast_log]
    assert slow_log == fast_log
    # the graph exercised both fast paths and the general route
    types = {r["type"] for r in fast_log}
    assert {"MessageSent", "MessageUndelivered", "SuperstepCompleted"} <= types


def test_switch_is_restored_after_each_test(no_fast_paths: None) -> None:
    assert _routing.FAST_PATHS is False
    result = _graph(False).run_sync(5)
    assert result.status == "completed", result.error
