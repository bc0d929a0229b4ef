"""Retries (RetryPolicy + previous_errors / previous_attempts), timeouts, cancellation."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from agentic_nb import RetryPolicy, WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import (
    Attempt,
    ExecutorCompleted,
    ExecutorError,
    ExecutorFailed,
    ExecutorInvoked,
    MessageSent,
    SuperstepCompleted,
    WorkflowCancelled,
)

from ._util import invoked


def start_node(id: str = "start") -> Any:
    @executor(id=id)
    async def _start(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n)

    return _start


# ------------------------------------------------------------------- retries


async def test_retry_until_success_with_previous_errors() -> None:
    seen: list[tuple[int, list[str]]] = []

    @executor(id="flaky", retry=RetryPolicy(max_attempts=3))
    async def flaky(n: int, ctx: WorkflowContext[None, str]) -> None:
        seen.append((ctx.attempt, [str(e) for e in ctx.previous_errors]))
        if len(ctx.previous_errors) < 2:
            raise ConnectionError(f"try {len(ctx.previous_errors) + 1} failed")
        await ctx.yield_output(f"ok after {len(ctx.previous_errors)} errors")

    result = await WorkflowBuilder(start=flaky).build().run(1)
    assert result.status == "completed", result.error
    assert result.outputs == ["ok after 2 errors"]
    assert seen == [
        (1, []),
        (2, ["ConnectionError: try 1 failed"]),
        (3, ["ConnectionError: try 1 failed", "ConnectionError: try 2 failed"]),
    ]
    failed = result.events.of_type(ExecutorFailed)
    assert [(f.attempt, f.will_retry, f.error_type) for f in failed] == [
        (1, True, "ConnectionError"),
        (2, True, "ConnectionError"),
    ]
    assert [e.attempt for e in invoked(result, "flaky")] == [1, 2, 3]
    assert [e.attempt for e in result.events.of_type(ExecutorCompleted)] == [3]


async def test_previous_errors_carry_structured_details() -> None:
    captured: list[ExecutorError] = []

    @executor(id="flaky", retry=RetryPolicy(max_attempts=2))
    async def flaky(n: int, ctx: WorkflowContext[None, int]) -> None:
        if ctx.attempt == 1:
            raise ValueError("nope")
        captured.extend(ctx.previous_errors)
        await ctx.yield_output(n)

    await WorkflowBuilder(start=flaky).build().run(5)
    [err] = captured
    assert (err.executor_id, err.superstep, err.attempt) == ("flaky", 0, 1)
    assert (err.error_type, err.message) == ("ValueError", "nope")


async def test_retries_exhausted_fail_the_run() -> None:
    calls = 0

    @executor(id="always", retry=RetryPolicy(max_attempts=3))
    async def always(n: int, ctx: WorkflowContext[None, int]) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError(f"failure {calls}")

    result = await WorkflowBuilder(start=always).build().run(1)
    assert calls == 3
    assert result.status == "failed"
    assert result.error is not None and "'always'" in result.error and "failure 3" in result.error
    assert [f.will_retry for f in result.events.of_type(ExecutorFailed)] == [True, True, False]


async def test_only_exceptions_in_retry_on_are_retried() -> None:
    calls = 0

    @executor(id="picky", retry=RetryPolicy(max_attempts=5, retry_on=(TimeoutError,)))
    async def picky(n: int, ctx: WorkflowContext[None, int]) -> None:
        nonlocal calls
        calls += 1
        raise KeyError("not retryable")

    result = await WorkflowBuilder(start=picky).build().run(1)
    assert calls == 1
    assert result.status == "failed"
    [failed] = result.events.of_type(ExecutorFailed)
    assert failed.will_retry is False


async def test_backoff_waits_between_attempts() -> None:
    stamps: list[float] = []

    @executor(id="slowretry", retry=RetryPolicy(max_attempts=3, backoff=0.05, multiplier=2))
    async def slowretry(n: int, ctx: WorkflowContext[None, int]) -> None:
        stamps.append(time.perf_counter())
        if ctx.attempt < 3:
            raise OSError("again")
        await ctx.yield_output(n)

    result = await WorkflowBuilder(start=slowretry).build().run(1)
    assert result.status == "completed"
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert gaps[0] >= 0.045 and gaps[1] >= 0.095, gaps
    assert RetryPolicy(max_attempts=9, backoff=1, multiplier=10, max_backoff=5).delay(3) == 5


async def test_a_failed_attempt_leaves_no_effects_and_the_retry_starts_clean() -> None:
    @executor(id="flaky", retry=RetryPolicy(max_attempts=2))
    async def flaky(n: int, ctx: WorkflowContext[int, str]) -> None:
        await ctx.send_message(n * 10 + ctx.attempt)
        await ctx.set_state("attempt", ctx.attempt)
        await ctx.yield_output(f"attempt {ctx.attempt}")
        if ctx.attempt == 1:
            raise ValueError("first try fails after side effects")

    @executor(id="after")
    async def after(n: int, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output(f"after got {n}")

    wf = WorkflowBuilder(start=flaky).add_edge(flaky, after).build()
    result = await wf.run(1)
    assert result.status == "completed", result.error
    assert result.outputs == ["attempt 2", "after got 12"]
    assert result.state == {"attempt": 2}
    assert [m.payload for m in result.events.of_type(MessageSent)] == [12]


async def test_previous_attempts_list_every_invocation_in_the_run() -> None:
    """A validator loop: the reviewer sees each earlier invocation (the seed's feedback loop)."""
    history: list[list[Attempt]] = []

    @executor(id="writer")
    async def writer(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n + 1)

    @executor(id="reviewer", retry=RetryPolicy(max_attempts=2))
    async def reviewer(n: int, ctx: WorkflowContext[int, int]) -> None:
        history.append(ctx.previous_attempts)
        if n == 2 and ctx.attempt == 1:
            raise ValueError("flaky review")
        if n < 3:
            await ctx.send_message(n)
        else:
            await ctx.yield_output(n)

    wf = WorkflowBuilder(start=writer).add_edge(writer, reviewer).add_edge(reviewer, writer).build()
    result = await wf.run(0)
    assert result.status == "completed", result.error
    assert result.outputs == [3]
    # reviewer invocations: n=1 (ss1), n=2 attempt 1 fails (ss3), n=2 attempt 2 (ss3), n=3 (ss5)
    assert [len(h) for h in history] == [0, 1, 2, 3]
    last = history[-1]
    assert [(a.superstep, a.attempt, a.status) for a in last] == [
        (1, 1, "completed"),
        (3, 1, "failed"),
        (3, 2, "completed"),
    ]
    assert last[1].error is not None and last[1].error.message == "flaky review"
    assert all(a.message_type == "int" and a.duration_ms >= 0 for a in last)


# ------------------------------------------------------------------ timeouts


async def test_async_handler_timeout_fails_fast_with_executor_timeout() -> None:
    @executor(id="sleepy", timeout=0.05)
    async def sleepy(n: int, ctx: WorkflowContext[None, int]) -> None:
        await asyncio.sleep(5)

    t0 = time.perf_counter()
    result = await WorkflowBuilder(start=sleepy).build().run(1)
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.0
    assert result.status == "failed"
    [failed] = result.events.of_type(ExecutorFailed)
    assert failed.error_type == "ExecutorTimeout"
    assert result.error is not None and "'sleepy'" in result.error and "0.05" in result.error


async def test_sync_handler_timeout_fails_fast_with_executor_timeout() -> None:
    @executor(id="blocking", timeout=0.05)
    def blocking(n: int, ctx: WorkflowContext[None, int]) -> None:
        time.sleep(0.4)

    t0 = time.perf_counter()
    result = await WorkflowBuilder(start=blocking).build().run(1)
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.35, f"the run waited {elapsed:.2f}s for a timed-out sync handler"
    assert result.status == "failed"
    [failed] = result.events.of_type(ExecutorFailed)
    assert failed.error_type == "ExecutorTimeout"
    assert result.error is not None and "'blocking'" in result.error


async def test_timeouts_are_retried_and_seen_in_previous_errors() -> None:
    @executor(id="sometimes_slow", timeout=0.05, retry=RetryPolicy(max_attempts=2))
    async def sometimes_slow(n: int, ctx: WorkflowContext[None, str]) -> None:
        if ctx.attempt == 1:
            await asyncio.sleep(5)
        await ctx.yield_output(",".join(e.error_type for e in ctx.previous_errors))

    result = await WorkflowBuilder(start=sometimes_slow).build().run(1)
    assert result.status == "completed"
    assert result.outputs == ["ExecutorTimeout"]


async def test_handler_within_its_timeout_is_unaffected() -> None:
    @executor(id="quick", timeout=1.0)
    async def quick(n: int, ctx: WorkflowContext[None, int]) -> None:
        await asyncio.sleep(0.01)
        await ctx.yield_output(n)

    assert (await WorkflowBuilder(start=quick).build().run(3)).outputs == [3]


# -------------------------------------------------------------- cancellation


def cancel_graph(blocking_sync: bool = False) -> tuple[Any, asyncio.Event]:
    """start -> [fast, slow]; fast writes state, outputs and sends; slow blocks."""
    fast_done = asyncio.Event()

    @executor(id="fast")
    async def fast(n: int, ctx: WorkflowContext[int, str]) -> None:
        await ctx.set_state("fast", n)
        await ctx.yield_output("fast output")
        await ctx.send_message(n + 1)
        fast_done.set()

    if blocking_sync:

        @executor(id="slow")
        def slow(n: int, ctx: WorkflowContext[int, str]) -> None:
            time.sleep(0.3)
            ctx.set_state("slow", n)
            ctx.send_message(n)

    else:

        @executor(id="slow")
        async def slow(n: int, ctx: WorkflowContext[int, str]) -> None:
            await asyncio.sleep(10)
            await ctx.set_state("slow", n)

    @executor(id="after")
    async def after(n: int, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output("after")

    wf = (
        WorkflowBuilder(start=start_node())
        .add_fan_out("start", [fast, slow])
        .add_edge(fast, after)
        .add_edge(slow, after)
        .build()
    )
    return wf, fast_done


async def test_cancel_mid_superstep_stops_at_once_and_rolls_back_the_superstep() -> None:
    wf, fast_done = cancel_graph()
    run = wf.start(1)
    await run.step()  # superstep 0 committed: start -> fast, slow
    queued_before = [(q.target_id, q.source_id, q.payload) for q in run.queued_messages()]
    assert queued_before == [("fast", "start", 1), ("slow", "start", 1)]

    driver = asyncio.create_task(run.until_idle())
    await asyncio.wait_for(fast_done.wait(), 2)
    await asyncio.sleep(0.01)
    t0 = time.perf_counter()
    run.cancel()
    result = await asyncio.wait_for(driver, 2)
    assert time.perf_counter() - t0 < 0.5

    assert run.status == "cancelled" and result.status == "cancelled"
    assert isinstance(result.events[-1], WorkflowCancelled)
    # Nothing of the interrupted superstep 1 was committed...
    assert run.state == {} and result.state == {}
    assert run.outputs == [] and result.outputs == []
    assert run.superstep == 1
    assert [e.superstep for e in result.events.of_type(SuperstepCompleted)] == [0]
    assert not [m for m in result.events.of_type(MessageSent) if m.superstep == 1]
    # ...and its deliveries are queued again, exactly as before.
    assert [(q.target_id, q.source_id, q.payload) for q in run.queued_messages()] == queued_before
    # A cancelled run does not move any more.
    assert not run.can_progress()
    await run.step()
    assert run.status == "cancelled" and run.superstep == 1


async def test_cancel_while_a_sync_handler_blocks_does_not_wait_for_its_thread() -> None:
    wf, fast_done = cancel_graph(blocking_sync=True)
    run = wf.start(1)
    driver = asyncio.create_task(run.until_idle())
    await asyncio.wait_for(fast_done.wait(), 2)
    t0 = time.perf_counter()
    run.cancel()
    result = await asyncio.wait_for(driver, 2)
    assert time.perf_counter() - t0 < 0.2
    assert result.status == "cancelled"
    # The abandoned thread finishes later; its writes must never reach the run.
    await asyncio.sleep(0.4)
    assert run.state == {}
    assert run.outputs == []
    assert [q.target_id for q in run.queued_messages()] == ["fast", "slow"]


async def test_cancel_before_anything_runs() -> None:
    wf, _ = cancel_graph()
    run = wf.start(1)
    run.cancel()
    assert run.status == "cancelled"
    result = await run.until_idle()
    assert result.status == "cancelled"
    assert invoked(result) == []
    assert [q.target_id for q in run.queued_messages()] == ["start"]


async def test_cancel_after_completion_changes_nothing() -> None:
    @executor(id="one")
    async def one(n: int, ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(n)

    run = WorkflowBuilder(start=one).build().start(1)
    await run.until_idle()
    run.cancel()
    assert run.status == "completed"
    assert run.outputs == [1]


async def test_events_of_cancelled_superstep_are_kept_for_diagnosis() -> None:
    """Events already emitted (e.g. fast's ExecutorInvoked) stay in the log."""
    wf, fast_done = cancel_graph()
    run = wf.start(1)
    driver = asyncio.create_task(run.until_idle())
    await asyncio.wait_for(fast_done.wait(), 2)
    run.cancel()
    result = await asyncio.wait_for(driver, 2)
    assert [e.executor_id for e in result.events.of_type(ExecutorInvoked)] == [
        "start",
        "fast",
        "slow",
    ]
    assert result.outputs == []


async def test_cancel_keeps_fan_in_buffers_as_they_were_before_the_superstep() -> None:
    a_round2 = asyncio.Event()

    @executor(id="start")
    async def start(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n)

    @executor(id="a")
    async def a(n: int, ctx: WorkflowContext[int | str]) -> None:
        await ctx.send_message(f"a{n}")  # str: only the fan-in takes it
        if n < 2:
            await ctx.send_message(n + 1)  # int: only a itself takes it
        else:
            a_round2.set()

    @executor(id="gate")
    async def gate(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n)

    @executor(id="b")
    async def b(n: int, ctx: WorkflowContext[str]) -> None:
        await asyncio.sleep(10)
        await ctx.send_message(f"b{n}")

    @executor(id="join")
    async def join(items: list[str], ctx: WorkflowContext[None, list[str]]) -> None:
        await ctx.yield_output(items)

    wf = (
        WorkflowBuilder(start=start)
        .add_fan_out(start, [a, gate])
        .add_edge(a, a)
        .add_edge(gate, b)
        .add_fan_in([a, b], join)
        .build()
    )
    fan_in_id = wf.edges[-1].id
    run = wf.start(1)
    await run.step()  # superstep 0: start
    await run.step()  # superstep 1: a sends "a1" (buffered) and 2 to itself; gate -> b
    assert run.fan_in_buffers() == {fan_in_id: {"a": ["a1"], "b": []}}
    driver = asyncio.create_task(run.until_idle())  # superstep 2: a sends "a2"; b blocks
    await asyncio.wait_for(a_round2.wait(), 2)
    await asyncio.sleep(0.01)
    run.cancel()
    await asyncio.wait_for(driver, 2)
    assert run.status == "cancelled"
    # "a2" of the interrupted superstep never reached the buffer
    assert run.fan_in_buffers() == {fan_in_id: {"a": ["a1"], "b": []}}
    assert [(q.target_id, q.payload) for q in run.queued_messages()] == [("a", 2), ("b", 1)]


async def test_cancel_while_waiting_for_a_request() -> None:
    @executor(id="ask")
    async def ask(n: int, ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(await ctx.request_info("value?", response_type=int))

    run = WorkflowBuilder(start=ask).build().start(1)
    result = await run.until_idle()
    assert result.status == "waiting"
    run.cancel()
    assert run.status == "cancelled"
    assert isinstance(run.events[-1], WorkflowCancelled)


async def test_cancelling_a_parent_stops_a_running_child_workflow_at_once() -> None:
    from agentic_nb import WorkflowExecutor

    child_started = asyncio.Event()

    @executor(id="long")
    async def long(n: int, ctx: WorkflowContext[None, int]) -> None:
        child_started.set()
        await asyncio.sleep(10)
        await ctx.yield_output(n)

    child = WorkflowBuilder(name="kid", start=long).build()
    sub = WorkflowExecutor(child, id="sub")

    @executor(id="after")
    async def after(n: int, ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(n)

    run = WorkflowBuilder(start=sub).add_edge(sub, after).build().start(1)
    driver = asyncio.create_task(run.until_idle())
    await asyncio.wait_for(child_started.wait(), 2)
    t0 = time.perf_counter()
    run.cancel()
    result = await asyncio.wait_for(driver, 2)
    assert time.perf_counter() - t0 < 0.5
    assert result.status == "cancelled"
    assert result.outputs == []
    assert [q.target_id for q in run.queued_messages()] == ["sub"]


async def test_sync_handler_failures_are_retried_too() -> None:
    @executor(id="sync_flaky", retry=RetryPolicy(max_attempts=2))
    def sync_flaky(n: int, ctx: WorkflowContext[None, str]) -> None:
        if ctx.attempt == 1:
            raise ValueError("sync first try")
        ctx.yield_output(str(ctx.previous_errors[0]))

    result = await WorkflowBuilder(start=sync_flaky).build().run(1)
    assert result.status == "completed"
    assert result.outputs == ["ValueError: sync first try"]
