"""Exactly once inside sub-workflows (issue 10, item 4).

Before: after the parent's answer, a sub-workflow re-ran the child tasks that had
finished; the child's ``RequestInfo`` reached the parent stream with the child's
request ids, which ``parent.respond`` rejected, and was announced again on replay.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import InMemoryCheckpointStorage, RequestInfo, WorkflowExecutor


# --------------------------------------------------------------- sub-workflows
def _parent(store: Any, calls: Counter[str]) -> Any:
    @executor(id="prepare")
    async def prepare(n: int, ctx: WorkflowContext[int]) -> None:
        calls["prepare"] += 1
        await ctx.send_message(n + 1)

    @executor(id="approve")
    async def approve(n: int, ctx: WorkflowContext[int]) -> None:
        calls["approve"] += 1
        ok = await ctx.request_info(f"deploy {n}?", response_type=bool)
        extra = await ctx.request_info(f"how many extra for {n}?", response_type=int)
        await ctx.send_message(n + extra if ok else -n)

    @executor(id="finish")
    async def finish(n: int, ctx: WorkflowContext[None, int]) -> None:
        calls["finish"] += 1
        await ctx.yield_output(n)

    child = (
        WorkflowBuilder(name="child", start=prepare).add_chain([prepare, approve, finish]).build()
    )
    sub = WorkflowExecutor(child, id="sub")

    @executor(id="report")
    async def report(n: int, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output(f"child said {n}")

    return WorkflowBuilder(start=sub, checkpoint_storage=store).add_edge(sub, report).build()


@pytest.mark.parametrize("durable", [False, True])
async def test_a_child_asking_twice_runs_each_task_once_and_takes_parent_answers(
    durable: bool,
) -> None:
    calls: Counter[str] = Counter()
    wf = _parent(InMemoryCheckpointStorage() if durable else None, calls)
    run = wf.start(1)
    first = await run.until_idle()
    assert first.status == "waiting"
    (req,) = first.pending_requests
    announced = [e.request_id for e in run.events.of_type(RequestInfo)]
    assert announced == [req.request_id]  # announced once, with the id respond accepts
    second = await run.respond(req.request_id, True)
    assert second.status == "waiting"
    (req2,) = second.pending_requests
    result = await run.respond(req2.request_id, 5)
    assert result.status == "completed", result.error
    assert result.outputs == ["child said 7"]
    assert calls == Counter({"prepare": 1, "approve": 3, "finish": 1})  # prepare ran once
    ids = [e.request_id for e in run.events.of_type(RequestInfo)]
    assert ids == [req.request_id, req2.request_id]  # each announced once


async def test_a_child_waiting_on_a_request_survives_a_resume() -> None:
    store = InMemoryCheckpointStorage()
    calls: Counter[str] = Counter()
    first = await _parent(store, calls).run(1)
    (req,) = first.pending_requests

    later: Counter[str] = Counter()
    run = await _parent(store, later).resume(first.run_id)
    assert [p.request_id for p in run.pending_requests] == [req.request_id]
    second = await run.respond(req.request_id, True)
    (req2,) = second.pending_requests
    result = await run.respond(req2.request_id, 5)
    assert result.outputs == ["child said 7"], result.error
    assert later["prepare"] == 0  # the child's finished task is replayed, not re-run
    assert later["finish"] == 1
