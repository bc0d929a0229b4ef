"""Sub-workflows: WorkflowExecutor runs a child inside one parent superstep, sends the
child's outputs on, bubbles child events with a path prefix, nests, and surfaces child
requests on the parent run."""

from __future__ import annotations

from typing import Any

import pytest

from agentic_nb import (
    ExecutorKind,
    Workflow,
    WorkflowBuilder,
    WorkflowContext,
    WorkflowExecutor,
    executor,
)
from agentic_nb.workflow import (
    ExecutorFailed,
    ExecutorInvoked,
    Log,
    RequestInfo,
    SubWorkflowError,
)

from ._util import supersteps_of


def add(id: str, k: int) -> Any:
    @executor(id=id)
    async def _add(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.log("info", f"{id} got {n}")
        await ctx.send_message(n + k)

    return _add


def emit(id: str) -> Any:
    @executor(id=id)
    async def _emit(n: int, ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(n)

    return _emit


def child_chain(name: str = "child") -> Workflow:
    """child: c1(+1) -> c2(+10) -> c3 outputs; three child supersteps."""
    c1, c2 = add("c1", 1), add("c2", 10)
    return WorkflowBuilder(name=name, start=c1).add_chain([c1, c2, emit("c3")]).build()


def collect(id: str = "show") -> Any:
    @executor(id=id)
    async def _show(n: int, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output(f"{id}:{n}")

    return _show


async def test_child_runs_inside_one_parent_superstep_and_its_outputs_are_sent_on() -> None:
    sub = WorkflowExecutor(child_chain(), id="sub")
    assert sub.kind is ExecutorKind.ORCHESTRATOR
    wf = WorkflowBuilder(start=add("pre", 100)).add_chain(["pre", sub, collect()]).build()
    result = await wf.run(0)
    assert result.status == "completed", result.error
    assert result.outputs == ["show:111"]  # the child's output is a message, not a parent output
    assert supersteps_of(result, "pre") == [0]
    assert supersteps_of(result, "sub") == [1]
    assert supersteps_of(result, "show") == [2]
    assert result.supersteps == 3
    # every child event is reported inside parent superstep 1
    child_events = [e for e in result.events if (e.executor_id or "").startswith("sub/")]
    assert child_events and {e.superstep for e in child_events} == {1}


async def test_child_events_bubble_up_with_a_path_prefix_on_the_parent_run() -> None:
    sub = WorkflowExecutor(child_chain(), id="outer")
    wf = WorkflowBuilder(start=sub).add_edge(sub, collect()).build()
    result = await wf.run(5)
    ids = {e.executor_id for e in result.events.of_type(ExecutorInvoked)}
    assert {"outer", "outer/c1", "outer/c2", "outer/c3", "show"} <= ids
    logs = [(e.executor_id, e.message) for e in result.events.of_type(Log)]
    assert logs == [("outer/c1", "c1 got 5"), ("outer/c2", "c2 got 6")]
    assert {e.run_id for e in result.events} == {result.run_id}
    seqs = [e.seq for e in result.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


async def test_each_child_output_becomes_one_message() -> None:
    @executor(id="many")
    async def many(n: int, ctx: WorkflowContext[None, int]) -> None:
        for i in range(3):
            await ctx.yield_output(n + i)

    child = WorkflowBuilder(name="many", start=many).build()
    sub = WorkflowExecutor(child, id="sub")
    result = await WorkflowBuilder(start=sub).add_edge(sub, collect()).build().run(10)
    assert result.outputs == ["show:10", "show:11", "show:12"]


async def test_nesting_depth_four_works_and_paths_show_every_level() -> None:
    inner: Workflow = child_chain("level3")
    for level in (2, 1, 0):
        # Each level re-yields what its child sent on (child outputs are messages).
        wrapper = WorkflowExecutor(inner, id=f"l{level + 1}")
        inner = (
            WorkflowBuilder(name=f"level{level}", start=wrapper)
            .add_edge(wrapper, emit(f"e{level + 1}"))
            .build()
        )
    # root -> top(level0) -> l1(level1) -> l2(level2) -> l3(level3: c1, c2, c3): depth 5
    top = WorkflowExecutor(inner, id="top")
    wf = WorkflowBuilder(name="root", start=top).add_edge(top, collect()).build()
    result = await wf.run(0)
    assert result.status == "completed", result.error
    assert result.outputs == ["show:11"]
    ids = {e.executor_id for e in result.events.of_type(ExecutorInvoked)}
    assert "top/l1/l2/l3/c1" in ids and "top/l1/l2/l3/c3" in ids
    assert "top/l1/l2" in ids and "top/l1/l2/e3" in ids and "top/e1" in ids
    assert supersteps_of(result, "show") == [1]


async def test_a_workflow_given_to_the_builder_becomes_a_workflow_executor() -> None:
    child = child_chain("kid")
    wf = WorkflowBuilder(start=child).add_edge("kid", collect()).build()
    assert isinstance(wf.executor("kid"), WorkflowExecutor)
    assert (await wf.run(0)).outputs == ["show:11"]


async def test_one_child_workflow_used_by_two_executors_runs_isolated() -> None:
    @executor(id="acc")
    async def acc(n: int, ctx: WorkflowContext[None, int]) -> None:
        total = ctx.get_state("total", 0) + n
        await ctx.set_state("total", total)
        await ctx.yield_output(total)

    child = WorkflowBuilder(name="acc", start=acc).build()
    s1, s2 = WorkflowExecutor(child, id="s1"), WorkflowExecutor(child, id="s2")

    @executor(id="start")
    async def start(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n)

    @executor(id="join")
    async def join(items: list[int], ctx: WorkflowContext[None, list[int]]) -> None:
        await ctx.yield_output(items)

    wf = (
        WorkflowBuilder(start=start).add_fan_out(start, [s1, s2]).add_fan_in([s1, s2], join).build()
    )
    result = await wf.run(7)
    assert result.outputs == [[7, 7]]
    assert result.state == {}  # child state stays in the child


async def test_child_failure_fails_the_parent_executor_with_the_child_error() -> None:
    @executor(id="bad")
    async def bad(n: int, ctx: WorkflowContext[None, int]) -> None:
        raise ValueError("child broke")

    sub = WorkflowExecutor(WorkflowBuilder(name="kid", start=bad).build(), id="sub")
    result = await WorkflowBuilder(start=sub).add_edge(sub, collect()).build().run(1)
    assert result.status == "failed"
    failed = [e for e in result.events.of_type(ExecutorFailed) if e.executor_id == "sub"]
    assert failed and failed[0].error_type == "SubWorkflowError"
    assert result.error is not None and "child broke" in result.error and "'sub'" in result.error
    assert issubclass(SubWorkflowError, Exception)


async def test_child_request_surfaces_on_the_parent_and_answering_completes_the_child() -> None:
    @executor(id="ask")
    async def ask(n: int, ctx: WorkflowContext[None, str]) -> None:
        name = await ctx.request_info(f"name for {n}?", response_type=str)
        await ctx.yield_output(f"{name}#{n}")

    @executor(id="show")
    async def show(text: str, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output(f"show:{text}")

    child = WorkflowBuilder(name="kid", start=ask).build()
    sub = WorkflowExecutor(child, id="sub")
    wf = WorkflowBuilder(start=add("pre", 1)).add_chain(["pre", sub, show]).build()
    run = wf.start(1)
    result = await run.until_idle()
    assert result.status == "waiting"
    [req] = run.pending_requests
    assert req.request == "name for 2?"
    assert req.response_type is str
    infos = result.events.of_type(RequestInfo)
    assert infos and infos[-1].request_id == req.request_id
    result = await run.respond(req.request_id, "alice")
    assert result.status == "completed", result.error
    assert result.outputs == ["show:alice#2"]
    assert run.pending_requests == []


async def test_child_request_answer_is_type_checked_on_the_parent() -> None:
    from agentic_nb.workflow import RequestError

    @executor(id="ask")
    async def ask(n: int, ctx: WorkflowContext[None, int]) -> None:
        value = await ctx.request_info("a number?", response_type=int)
        await ctx.yield_output(value + n)

    sub = WorkflowExecutor(WorkflowBuilder(name="kid", start=ask).build(), id="sub")
    run = WorkflowBuilder(start=sub).add_edge(sub, emit("out")).build().start(1)
    await run.until_idle()
    [req] = run.pending_requests
    with pytest.raises(RequestError):
        await run.respond(req.request_id, "not an int")
    assert [r.request_id for r in run.pending_requests] == [req.request_id]
    result = await run.respond(req.request_id, 41)
    assert result.outputs == [42]


async def test_a_grandchild_request_surfaces_on_the_top_run() -> None:
    @executor(id="ask")
    async def ask(n: int, ctx: WorkflowContext[None, int]) -> None:
        extra = await ctx.request_info("extra?", response_type=int)
        await ctx.yield_output(n + extra)

    inner = WorkflowBuilder(name="inner", start=ask).build()
    mid_exec = WorkflowExecutor(inner, id="mid")
    middle = (
        WorkflowBuilder(name="middle", start=mid_exec).add_edge(mid_exec, emit("relay")).build()
    )
    top_exec = WorkflowExecutor(middle, id="top")
    run = (
        WorkflowBuilder(name="root", start=top_exec)
        .add_edge(top_exec, emit("out"))
        .build()
        .start(1)
    )
    result = await run.until_idle()
    assert result.status == "waiting"
    [req] = run.pending_requests
    assert req.request == "extra?"
    infos = result.events.of_type(RequestInfo)
    assert any(e.executor_id == "top/mid/ask" for e in infos)
    result = await run.respond(req.request_id, 41)
    assert result.status == "completed", result.error
    assert result.outputs == [42]
