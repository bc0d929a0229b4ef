"""wf.resume() with no id resumes the one unfinished run of the workflow (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import CheckpointError, FileCheckpointStorage


@executor(id="ask")
async def ask(n: int, ctx: WorkflowContext[None, int]) -> None:
    await ctx.yield_output(n + await ctx.request_info("add?", response_type=int))


def workflow(store: FileCheckpointStorage) -> object:
    return WorkflowBuilder(name="adder", start=ask, checkpoint_storage=store).build()


async def test_resume_without_id_finds_the_waiting_run(tmp_path: Path) -> None:
    store = FileCheckpointStorage(tmp_path)
    wf = workflow(store)
    first = await wf.run(40)  # type: ignore[attr-defined]
    done = await workflow(store).run(1)  # type: ignore[attr-defined]
    await done_run(store, done)
    run = await workflow(store).resume()  # type: ignore[attr-defined]
    assert run.run_id == first.run_id
    result = await run.respond(run.pending_requests[0].request_id, 2)
    assert result.outputs == [42]
    with pytest.raises(CheckpointError, match="no unfinished run of workflow 'adder'"):
        await workflow(store).resume()  # type: ignore[attr-defined]


async def done_run(store: FileCheckpointStorage, waiting: object) -> None:
    # Finish the second run so only the first one is unfinished.
    wf = workflow(store)
    run = await wf.resume(waiting.run_id)  # type: ignore[attr-defined]
    await run.respond(run.pending_requests[0].request_id, 0)


async def test_several_unfinished_runs_are_listed(tmp_path: Path) -> None:
    store = FileCheckpointStorage(tmp_path)
    a = await workflow(store).run(1)  # type: ignore[attr-defined]
    b = await workflow(store).run(2)  # type: ignore[attr-defined]
    with pytest.raises(CheckpointError) as info:
        await workflow(store).resume()  # type: ignore[attr-defined]
    text = str(info.value)
    assert "2 unfinished runs" in text and a.run_id in text and b.run_id in text
    assert "wf.resume(run_id)" in text
