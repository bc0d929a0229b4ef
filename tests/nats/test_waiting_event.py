"""The engine's WorkflowWaiting event drives the remote status and has its own subject."""

from __future__ import annotations

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.nats._mapping import event_subject
from agentic_nb.nats._tracker import RunTracker
from agentic_nb.workflow import WorkflowWaiting


@executor(id="ask")
async def ask(n: int, ctx: WorkflowContext[None, int]) -> None:
    await ctx.yield_output(n + await ctx.request_info("more?", response_type=int))


async def test_workflow_waiting_sets_the_status_and_has_its_subject() -> None:
    result = await WorkflowBuilder(name="asker", start=ask).build().run(1)
    waiting = result.events[-1]
    assert isinstance(waiting, WorkflowWaiting)
    assert event_subject(waiting) == f"agentic.workflow.{result.run_id}.waiting"
    tracker = RunTracker(result.run_id)
    tracker.apply(result.events[0])  # WorkflowStarted
    tracker.apply(waiting)  # the tracker missed everything in between
    assert tracker.status == "waiting"
