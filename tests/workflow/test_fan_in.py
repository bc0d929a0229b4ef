"""Fan-in: FIFO buffer per source, fires when every source has a message, list in source
order, sources firing in different supersteps, and starvation diagnosis."""

from __future__ import annotations

import asyncio
from typing import Any

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import FanInWaiting, MessageSent

from ._util import invoked, supersteps_of


def relay(id: str, tag: str | None = None, *, delay: float = 0.0, times: int = 1) -> Any:
    """Send ``f"{tag}{n}"`` (``times`` messages) after sleeping ``delay`` seconds."""

    @executor(id=id)
    async def _relay(n: int, ctx: WorkflowContext[str]) -> None:
        if delay:
            await asyncio.sleep(delay)
        for i in range(times):
            await ctx.send_message(f"{tag or id}{n + i}")

    return _relay


def forward(id: str) -> Any:
    @executor(id=id)
    async def _forward(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n)

    return _forward


def collector(id: str = "join") -> Any:
    @executor(id=id)
    async def _join(items: list[str], ctx: WorkflowContext[None, list[str]]) -> None:
        await ctx.yield_output(list(items))

    return _join


async def test_fan_in_delivers_one_list_in_source_order_not_completion_order() -> None:
    start = forward("start")
    # "slow" is registered first but finishes last; the list follows add_fan_in's order.
    slow, fast = relay("slow", "s", delay=0.05), relay("fast", "f")
    join = collector()
    wf = (
        WorkflowBuilder(start=start)
        .add_fan_out(start, [slow, fast])
        .add_fan_in([fast, slow], join)
        .build()
    )
    result = await wf.run(1)
    assert result.status == "completed"
    assert result.outputs == [["f1", "s1"]]
    assert supersteps_of(result, "join") == [2]
    assert len(invoked(result, "join")) == 1


async def test_fan_in_waits_for_sources_that_fire_in_different_supersteps() -> None:
    start = forward("start")
    direct = relay("direct", "d")
    hop1, hop2 = forward("hop1"), forward("hop2")
    late = relay("late", "l")
    join = collector()
    wf = (
        WorkflowBuilder(start=start)
        .add_fan_out(start, [direct, hop1])
        .add_chain([hop1, hop2, late])
        .add_fan_in([direct, late], join)
        .build()
    )
    run = wf.start(1)
    # superstep 0: start; 1: direct + hop1; 2: hop2; 3: late; 4: join
    await run.step()
    await run.step()
    assert run.fan_in_buffers() == {wf.edges[-1].id: {"direct": ["d1"], "late": []}}
    await run.step()
    assert not [q for q in run.queued_messages() if q.target_id == "join"]
    await run.step()
    assert [q.target_id for q in run.queued_messages()] == ["join"]
    assert run.queued_messages()[0].payload == ["d1", "l1"]
    result = await run.until_idle()
    assert result.status == "completed"
    assert result.outputs == [["d1", "l1"]]
    assert supersteps_of(result, "direct") == [1]
    assert supersteps_of(result, "late") == [3]
    assert supersteps_of(result, "join") == [4]
    assert result.fan_in_waiting == []


async def test_fan_in_buffers_are_fifo_per_source() -> None:
    start = forward("start")
    a = relay("a", "a", times=3)  # a1 a2 a3 in one superstep
    b = relay("b", "b", times=2)  # b1 b2
    join = collector()
    wf = WorkflowBuilder(start=start).add_fan_out(start, [a, b]).add_fan_in([a, b], join).build()
    result = await wf.run(1)
    assert result.outputs == [["a1", "b1"], ["a2", "b2"]]
    # a3 is left over: the run says the fan-in still waits on b.
    [waiting] = result.fan_in_waiting
    assert waiting.waiting_on == ["b"]
    assert waiting.buffered == {"a": 1}


async def test_fan_in_starvation_is_diagnosed_with_edge_target_and_missing_sources() -> None:
    start = forward("start")
    a = relay("a")
    b_never = relay("b")
    c = relay("c")

    @executor(id="gate")
    async def gate(n: int, ctx: WorkflowContext[int]) -> None:
        # decides never to send to b
        return None

    join = collector()
    wf = (
        WorkflowBuilder(start=start)
        .add_fan_out(start, [a, gate, c])
        .add_edge(gate, b_never)
        .add_fan_in([a, b_never, c], join)
        .build()
    )
    result = await wf.run(1)
    assert result.status == "completed"  # nothing pending: the run is idle...
    assert result.outputs == []  # ...but the fan-in never fired, and the result says why
    [ev] = result.fan_in_waiting
    assert isinstance(ev, FanInWaiting)
    assert ev.target_id == "join"
    assert ev.waiting_on == ["b"]
    assert ev.buffered == {"a": 1, "c": 1}
    fan_in_id = wf.edges[-1].id
    assert ev.edge == fan_in_id
    [diag] = [d for d in result.diagnostics if fan_in_id in d]
    assert "join" in diag and "'b'" in diag


async def test_full_fan_in_leaves_no_diagnosis() -> None:
    start = forward("start")
    a, b = relay("a"), relay("b")
    join = collector()
    wf = WorkflowBuilder(start=start).add_fan_out(start, [a, b]).add_fan_in([a, b], join).build()
    result = await wf.run(3)
    assert result.outputs == [["a3", "b3"]]
    assert result.fan_in_waiting == []
    assert result.diagnostics == []


async def test_fan_in_message_sent_events_name_the_fan_in_edge() -> None:
    start = forward("start")
    a, b = relay("a"), relay("b")
    join = collector()
    wf = WorkflowBuilder(start=start).add_fan_out(start, [a, b]).add_fan_in([a, b], join).build()
    result = await wf.run(1)
    fan_in_id = wf.edges[-1].id
    into_join = [m for m in result.events.of_type(MessageSent) if m.target_id == "join"]
    assert sorted(m.source_id for m in into_join) == ["a", "b"]
    assert {m.edge for m in into_join} == {fan_in_id}


async def test_fan_in_target_receives_a_list_typed_handler_only() -> None:
    start = forward("start")
    a, b = relay("a"), relay("b")
    seen: list[Any] = []

    @executor(id="join")
    async def join(items: list[str], ctx: WorkflowContext[None, int]) -> None:
        seen.append(items)
        await ctx.yield_output(len(items))

    wf = WorkflowBuilder(start=start).add_fan_out(start, [a, b]).add_fan_in([a, b], join).build()
    result = await wf.run(1)
    assert seen == [["a1", "b1"]] and isinstance(seen[0], list)
    assert result.outputs == [2]
