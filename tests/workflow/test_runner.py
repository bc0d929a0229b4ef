"""The superstep loop: numbering, barrier, per-executor serial delivery, determinism,
concurrency, long chains, max_supersteps and terminal statuses."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from agentic_nb import Workflow, WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import (
    ExecutorCompleted,
    ExecutorFailed,
    MessageSent,
    SuperstepCompleted,
    SuperstepStarted,
    WorkflowCompleted,
    WorkflowEvent,
    WorkflowFailed,
)

from ._util import invoked, supersteps_of


def step(id: str, add: int = 1) -> Any:
    @executor(id=id)
    async def _step(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n + add)

    return _step


def out(id: str) -> Any:
    @executor(id=id)
    async def _out(n: int, ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(n)

    return _out


# ---------------------------------------------------------------- supersteps


async def test_start_input_is_superstep_zero_and_each_hop_is_one_superstep() -> None:
    wf = WorkflowBuilder(start=step("a")).add_chain(["a", step("b"), step("c"), out("d")]).build()
    result = await wf.run(0)
    assert result.outputs == [3]
    assert [supersteps_of(result, x) for x in "abcd"] == [[0], [1], [2], [3]]
    assert result.supersteps == 4
    started = [e.superstep for e in result.events.of_type(SuperstepStarted)]
    completed = [e.superstep for e in result.events.of_type(SuperstepCompleted)]
    assert started == completed == [0, 1, 2, 3]


async def test_messages_sent_in_a_superstep_wait_for_the_barrier() -> None:
    """b gets a's message only after slow sibling c has finished superstep 1."""
    order: list[str] = []

    @executor(id="start")
    async def start(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n)

    @executor(id="a")
    async def a(n: int, ctx: WorkflowContext[int]) -> None:
        order.append("a")
        await ctx.send_message(n)

    @executor(id="c")
    async def c(n: int, ctx: WorkflowContext[None, int]) -> None:
        await asyncio.sleep(0.05)
        order.append("c done")

    @executor(id="b")
    async def b(n: int, ctx: WorkflowContext[None, int]) -> None:
        order.append("b")

    wf = WorkflowBuilder(start=start).add_fan_out(start, [a, c]).add_edge(a, b).build()
    result = await wf.run(1)
    assert order == ["a", "c done", "b"]
    assert supersteps_of(result, "b") == [2]


async def test_one_executor_handles_its_deliveries_one_at_a_time_in_delivery_order() -> None:
    """Three senders finish in reverse order; the sink still sees them in registration
    order, one delivery at a time."""
    active = 0
    max_active = 0
    seen: list[str] = []

    @executor(id="start")
    async def start(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n)

    def sender(id: str, delay: float) -> Any:
        @executor(id=id)
        async def _s(n: int, ctx: WorkflowContext[str]) -> None:
            await asyncio.sleep(delay)
            await ctx.send_message(f"{id}.1")
            await ctx.send_message(f"{id}.2")

        return _s

    @executor(id="sink")
    async def sink(msg: str, ctx: WorkflowContext[None, str]) -> None:
        nonlocal active, max_active
        active += 1
        max_active = max(max_active, active)
        await asyncio.sleep(0.005)
        seen.append(msg)
        active -= 1

    s1, s2, s3 = sender("s1", 0.06), sender("s2", 0.03), sender("s3", 0.0)
    wf = (
        WorkflowBuilder(start=start)
        .add_fan_out(start, [s1, s2, s3])
        .add_edge(s1, sink)
        .add_edge(s2, sink)
        .add_edge(s3, sink)
        .build()
    )
    result = await wf.run(0)
    assert seen == ["s1.1", "s1.2", "s2.1", "s2.2", "s3.1", "s3.2"]
    assert max_active == 1
    assert supersteps_of(result, "sink") == [2] * 6


async def test_sync_deliveries_to_one_executor_are_serial_too() -> None:
    import threading

    lock = threading.Lock()
    overlaps: list[bool] = []
    seen: list[int] = []

    @executor(id="start")
    async def start(n: int, ctx: WorkflowContext[int]) -> None:
        for i in range(5):
            await ctx.send_message(i)

    @executor(id="slow_sync")
    def slow_sync(n: int, ctx: WorkflowContext[None, int]) -> None:
        got = lock.acquire(blocking=False)
        overlaps.append(not got)
        time.sleep(0.01)
        seen.append(n)
        if got:
            lock.release()

    await WorkflowBuilder(start=start).add_edge(start, slow_sync).build().run(0)
    assert seen == [0, 1, 2, 3, 4]
    assert not any(overlaps)


async def test_run_completes_when_nothing_is_pending() -> None:
    result = await WorkflowBuilder(start=step("a")).add_edge("a", out("b")).build().run(1)
    assert result.status == "completed"
    assert result.is_success
    assert isinstance(result.events[-1], WorkflowCompleted)
    assert result.duration > 0
    assert result.get_output(int) == 2
    assert result.get_output(str) is None


async def test_executor_failure_fails_the_run_naming_the_executor() -> None:
    @executor(id="boom")
    async def boom(n: int, ctx: WorkflowContext[int]) -> None:
        raise ValueError("bad input 7")

    result = await WorkflowBuilder(start=step("a")).add_edge("a", boom).build().run(1)
    assert result.status == "failed"
    assert result.error is not None and "'boom'" in result.error and "bad input 7" in result.error
    [failed] = result.events.of_type(ExecutorFailed)
    assert failed.executor_id == "boom" and failed.will_retry is False
    assert failed.error_type == "ValueError"
    assert isinstance(result.events[-1], WorkflowFailed)


# ------------------------------------------------------------- max_supersteps


async def test_max_supersteps_fails_the_run_and_lists_what_was_pending() -> None:
    @executor(id="loop")
    async def loop(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n + 1)

    wf = WorkflowBuilder(start=loop, max_supersteps=5).add_edge(loop, loop).build()
    result = await wf.run(0)
    assert result.status == "failed"
    assert result.supersteps == 5
    assert len(invoked(result, "loop")) == 5
    assert result.error is not None
    assert "max_supersteps" in result.error and "loop" in result.error
    [failed] = result.events.of_type(WorkflowFailed)
    assert "max_supersteps" in failed.error_message


async def test_cycle_with_exit_completes_within_max_supersteps() -> None:
    @executor(id="count")
    async def count(n: int, ctx: WorkflowContext[int, int]) -> None:
        if n >= 9:
            await ctx.yield_output(n)
        else:
            await ctx.send_message(n + 1)

    wf = WorkflowBuilder(start=count, max_supersteps=10).add_edge(count, count).build()
    result = await wf.run(0)
    assert result.status == "completed"
    assert result.outputs == [9]
    assert result.supersteps == 10


def test_chain_of_1000_executors_completes() -> None:
    ids = [f"e{i}" for i in range(1000)]
    execs = [step(i) for i in ids[:-1]] + [out(ids[-1])]
    wf = WorkflowBuilder(name="chain", start=execs[0]).add_chain(execs).build()
    t0 = time.perf_counter()
    result = wf.run_sync(0)
    elapsed = time.perf_counter() - t0
    assert result.status == "completed", result.error
    assert result.outputs == [999]
    assert result.supersteps == 1000
    assert elapsed < 10, f"1,000-executor chain took {elapsed:.2f}s"


# ---------------------------------------------------------------- concurrency


async def test_100_parallel_executors_sleeping_finish_in_one_superstep_well_under_1s() -> None:
    def sleeper(id: str) -> Any:
        @executor(id=id)
        async def _sleep(n: int, ctx: WorkflowContext[None, str]) -> None:
            await asyncio.sleep(0.1)
            await ctx.yield_output(id)

        return _sleep

    workers = [sleeper(f"w{i:03d}") for i in range(100)]
    wf = WorkflowBuilder(start=step("start")).add_fan_out("start", workers).build()
    t0 = time.perf_counter()
    result = await wf.run(0)
    elapsed = time.perf_counter() - t0
    assert result.status == "completed"
    assert sorted(result.outputs) == [w.id for w in workers]
    assert {e.superstep for e in invoked(result) if e.executor_id != "start"} == {1}
    assert result.supersteps == 2
    assert elapsed < 0.6, f"100 x 0.1 s in parallel took {elapsed:.2f}s"
    # outputs are committed in registration order, not completion order
    assert result.outputs == [w.id for w in workers]


async def test_sync_executors_in_one_superstep_run_in_parallel_threads() -> None:
    def sleeper(id: str) -> Any:
        @executor(id=id)
        def _sleep(n: int, ctx: WorkflowContext[None, str]) -> None:
            time.sleep(0.1)
            ctx.yield_output(id)

        return _sleep

    workers = [sleeper(f"t{i}") for i in range(4)]
    wf = WorkflowBuilder(start=step("start")).add_fan_out("start", workers).build()
    t0 = time.perf_counter()
    result = await wf.run(0)
    elapsed = time.perf_counter() - t0
    assert result.outputs == ["t0", "t1", "t2", "t3"]
    assert elapsed < 0.35, f"4 sync handlers of 0.1 s took {elapsed:.2f}s (not parallel?)"


# ---------------------------------------------------------------- determinism

VOLATILE = {"run_id", "seq", "ts", "duration_ms", "duration"}


def build_random_sleep_graph(seed: int) -> tuple[Workflow, list[str]]:
    """30 executors: start -> 8 branches of 3 -> fan-in join -> 2 finishers -> tail.

    Every executor sleeps a random 0-4 ms drawn from a per-run RNG, so completion
    order changes between runs while the results do not.
    """
    rng = random.Random(seed)

    def node(id: str, fan: int = 1) -> Any:
        @executor(id=id)
        async def _node(n: Any, ctx: WorkflowContext[int, str]) -> None:
            await asyncio.sleep(rng.random() * 0.004)
            value = sum(n) if isinstance(n, list) else n
            await ctx.log("info", f"{id} saw {value}")
            await ctx.set_state(f"seen.{id}", value)
            for k in range(fan):
                await ctx.send_message(value * 3 + len(id) + k)
            if id.startswith("fin"):
                await ctx.yield_output(f"{id}={value}")

        return _node

    start = node("start")
    b = WorkflowBuilder(name="det", start=start)
    heads, tails = [], []
    for i in range(8):
        chain = [node(f"b{i}_{j}", fan=1) for j in range(3)]
        b.add_chain(chain)
        heads.append(chain[0])
        tails.append(chain[-1])
    b.add_fan_out(start, heads)
    join = node("join", fan=2)
    b.add_fan_in(tails, join)
    fin1, fin2 = node("fin1"), node("fin2")
    b.add_fan_out(join, [fin1, fin2])
    tail_a, tail_b = node("tail_a"), node("fin_tail")
    b.add_edge(fin1, tail_a).add_edge(fin2, tail_b)
    # fin1/fin2/tail_a/fin_tail: 4 more -> 1 + 24 + 1 + 4 = 30 executors
    wf = b.build()
    order = [e.id for e in wf.executors]
    assert len(order) == 30
    return wf, order


def normalized(events: list[WorkflowEvent], order: list[str]) -> list[tuple[Any, ...]]:
    rank = {x: i for i, x in enumerate(order)}

    def key(e: WorkflowEvent) -> tuple[int, int, int]:
        return (e.superstep, -1 if e.executor_id is None else rank[e.executor_id], e.seq)

    rows = []
    for e in sorted(events, key=key):
        rec = e.to_record()
        payload = tuple(sorted((k, repr(v)) for k, v in rec.items() if k not in VOLATILE))
        rows.append((e.type, e.executor_id, e.superstep, payload))
    return rows


async def test_20_runs_with_random_sleeps_give_the_same_sorted_events_and_outputs() -> None:
    runs = []
    completion_orders: set[tuple[str | None, ...]] = set()
    for seed in range(20):
        wf, order = build_random_sleep_graph(seed)
        result = await wf.run(1)
        assert result.status == "completed", result.error
        runs.append((normalized(list(result.events), order), result.outputs, result.state))
        completion_orders.add(
            tuple(e.executor_id for e in result.events.of_type(ExecutorCompleted))
        )
    first_events, first_outputs, first_state = runs[0]
    assert first_outputs and len(first_events) > 150
    assert any(t == "MessageSent" for t, *_ in first_events)
    for i, (evs, outs, state) in enumerate(runs[1:], start=1):
        assert outs == first_outputs, f"run {i} outputs differ"
        assert state == first_state, f"run {i} state differs"
        assert evs == first_events, f"run {i} sorted events differ"
    # The random sleeps really changed who finished first (else this proves nothing).
    assert len(completion_orders) > 1


async def test_events_of_one_executor_in_a_superstep_keep_their_emission_order() -> None:
    """seq is monotonic within a run and MessageSent follows the sender's emission order."""

    @executor(id="a")
    async def a(n: int, ctx: WorkflowContext[int]) -> None:
        for i in range(5):
            await ctx.send_message(i)

    result = await WorkflowBuilder(start=a).add_edge(a, out("b")).build().run(0)
    seqs = [e.seq for e in result.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert [m.payload for m in result.events.of_type(MessageSent)] == [0, 1, 2, 3, 4]
    assert result.outputs == [0, 1, 2, 3, 4]
