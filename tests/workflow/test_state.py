"""Shared state: writes buffered and committed at the barrier in registration order;
reads see the state committed before the superstep."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agentic_nb import WorkflowBuilder, WorkflowContext, executor


def fan(id: str = "start") -> Any:
    @executor(id=id)
    async def _fan(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n)

    return _fan


async def test_writes_become_visible_only_in_the_next_superstep() -> None:
    reads: dict[str, Any] = {}

    @executor(id="writer")
    async def writer(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.set_state("k", "written")
        await ctx.send_message(n)

    @executor(id="sibling")
    async def sibling(n: int, ctx: WorkflowContext[None, int]) -> None:
        await asyncio.sleep(0.03)  # the writer has long finished by now
        reads["sibling"] = ctx.get_state("k", "absent")

    @executor(id="next")
    async def next_(n: int, ctx: WorkflowContext[None, int]) -> None:
        reads["next"] = ctx.get_state("k", "absent")

    wf = (
        WorkflowBuilder(start=fan())
        .add_fan_out("start", [writer, sibling])
        .add_edge(writer, next_)
        .build()
    )
    result = await wf.run(0)
    assert reads == {"sibling": "absent", "next": "written"}
    assert result.state == {"k": "written"}


async def test_state_is_not_committed_before_the_barrier() -> None:
    @executor(id="writer")
    async def writer(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.set_state("k", 1)

    @executor(id="slow")
    async def slow(n: int, ctx: WorkflowContext[int]) -> None:
        await asyncio.sleep(0.2)

    wf = WorkflowBuilder(start=fan()).add_fan_out("start", [writer, slow]).build()
    run = wf.start(0)
    await run.step()
    task = asyncio.create_task(run.step())
    await asyncio.sleep(0.05)
    assert run.state == {}  # writer finished, but superstep 1 is still open
    await task
    assert run.state == {"k": 1}


@pytest.mark.parametrize("first_is_slow", [True, False])
async def test_conflicting_writes_commit_in_registration_order(first_is_slow: bool) -> None:
    """The later-registered executor's write wins, whoever finishes last."""

    def writer(id: str, delay: float) -> Any:
        @executor(id=id)
        async def _w(n: int, ctx: WorkflowContext[int]) -> None:
            await asyncio.sleep(delay)
            await ctx.set_state("winner", id)
            await ctx.set_state(f"only.{id}", True)

        return _w

    w1 = writer("w1", 0.03 if first_is_slow else 0.0)
    w2 = writer("w2", 0.0 if first_is_slow else 0.03)
    wf = WorkflowBuilder(start=fan()).add_fan_out("start", [w1, w2]).build()
    result = await wf.run(0)
    assert result.state == {"winner": "w2", "only.w1": True, "only.w2": True}
    assert list(result.state) == ["winner", "only.w1", "only.w2"]


async def test_state_accumulates_across_supersteps_and_overwrites() -> None:
    @executor(id="counter")
    async def counter(n: int, ctx: WorkflowContext[int, int]) -> None:
        total = ctx.get_state("total", 0) + n
        await ctx.set_state("total", total)
        await ctx.set_state(f"step{ctx.superstep}", total)
        if n < 3:
            await ctx.send_message(n + 1)
        else:
            await ctx.yield_output(total)

    wf = WorkflowBuilder(start=counter).add_edge(counter, counter).build()
    result = await wf.run(1)
    assert result.outputs == [6]
    assert result.state == {"total": 6, "step0": 1, "step1": 3, "step2": 6}


async def test_sync_handlers_read_and_write_state_without_await() -> None:
    @executor(id="w")
    def w(n: int, ctx: WorkflowContext[int]) -> None:
        ctx.set_state("n", n)
        ctx.send_message(n)

    @executor(id="r")
    def r(n: int, ctx: WorkflowContext[None, int]) -> None:
        ctx.yield_output(ctx.get_state("n") * 2)

    result = await WorkflowBuilder(start=w).add_edge(w, r).build().run(21)
    assert result.outputs == [42]


async def test_get_state_default_and_bad_keys() -> None:
    errors: list[str] = []

    @executor(id="x")
    async def x(n: int, ctx: WorkflowContext[None, Any]) -> None:
        await ctx.yield_output(ctx.get_state("missing", "dflt"))
        await ctx.yield_output(ctx.get_state("missing"))
        try:
            ctx.set_state("", 1)
        except ValueError as exc:
            errors.append(str(exc))

    result = await WorkflowBuilder(start=x).build().run(0)
    assert result.outputs == ["dflt", None]
    assert errors and "'x'" in errors[0]


async def test_run_state_is_a_copy() -> None:
    @executor(id="x")
    async def x(n: int, ctx: WorkflowContext[None, int]) -> None:
        await ctx.set_state("k", n)

    run = WorkflowBuilder(start=x).build().start(1)
    await run.until_idle()
    snapshot = run.state
    snapshot["k"] = 999
    assert run.state == {"k": 1}
