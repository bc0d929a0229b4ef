"""After a restart, the widgets show what executors did before it (issue 12)."""

from __future__ import annotations

from pathlib import Path

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.notebook._tracker import RunTracker
from agentic_nb.workflow import FileCheckpointStorage


def build(storage: FileCheckpointStorage) -> object:
    @executor(id="draft")
    async def draft(topic: str, ctx: WorkflowContext[str]) -> None:
        await ctx.send_message(f"notes on {topic}")

    @executor(id="review")
    async def review(text: str, ctx: WorkflowContext[None, str]) -> None:
        ok = await ctx.request_info(text, response_type=bool)
        await ctx.yield_output(f"{text}: {'yes' if ok else 'no'}")

    @executor(id="never")
    async def never(text: str, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output(text)

    return (
        WorkflowBuilder(name="pub", start=draft, checkpoint_storage=storage)
        .add_edge(draft, review)
        .add_edge(draft, never, condition=lambda _m: False)
        .build()
    )


async def test_a_resumed_run_shows_the_executors_history_from_before_the_restart(
    tmp_path: Path,
) -> None:
    storage = FileCheckpointStorage(tmp_path)
    first = build(storage).start("v1")  # type: ignore[attr-defined]
    await first.until_idle()
    assert first.status == "waiting"

    run = await build(storage).resume(first.run_id)  # type: ignore[attr-defined]
    assert [a.status for a in run.attempts()["draft"]] == ["completed"]
    await run.respond(run.pending_requests[0].request_id, True)
    tracker = RunTracker(run)
    tracker.update()
    states = tracker.states()
    assert run.status == "completed"
    assert states["draft"] == "done" and tracker.stats["draft"].invocations == 1
    assert states["review"] == "done"
    assert states["never"] == "skipped"
