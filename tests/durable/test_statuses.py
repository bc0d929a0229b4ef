"""Statuses and events of durable runs: terminal checkpoints, cancellation, going idle.

Issue 10, item 5. Each test was a defect: resuming or forking the last checkpoint of
a completed run stayed ``running`` forever; a cancelled run took answers and came
back on resume; no event said that a run went idle waiting; a handler raising
``CancelledError`` left the run ``running`` with its superstep open.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agentic_nb import RetryPolicy, WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import (
    ExecutorFailed,
    FileCheckpointStorage,
    InMemoryCheckpointStorage,
    RunStateError,
    Workflow,
    WorkflowCompleted,
    WorkflowWaiting,
)


def chain(storage: Any) -> Workflow:
    @executor(id="double")
    async def double(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n * 2)

    @executor(id="emit")
    async def emit(n: int, ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(n)

    return (
        WorkflowBuilder(name="terminal", start=double, checkpoint_storage=storage)
        .add_edge(double, emit)
        .build()
    )


def asking(storage: Any) -> Workflow:
    @executor(id="ask")
    async def ask(n: int, ctx: WorkflowContext[None, int]) -> None:
        extra = await ctx.request_info(f"add to {n}?", response_type=int)
        await ctx.yield_output(n + extra)

    return WorkflowBuilder(name="asking", start=ask, checkpoint_storage=storage).build()


@pytest.fixture(params=["memory", "file"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "memory":
        return InMemoryCheckpointStorage()
    return FileCheckpointStorage(tmp_path)


# ------------------------------------------------------------ terminal checkpoints
async def test_resuming_a_completed_run_is_completed_at_once(storage: Any) -> None:
    wf = chain(storage)
    done = await wf.run(3)
    assert done.status == "completed"
    run = await wf.resume(done.run_id)
    assert run.status == "completed"
    again = await asyncio.wait_for(run.until_idle(), 5)
    assert again.status == "completed"
    assert again.outputs == [6]
    assert not run.can_progress()


async def test_forking_the_last_checkpoint_of_a_completed_run_completes(storage: Any) -> None:
    wf = chain(storage)
    done = await wf.run(3)
    last = (await storage.list(done.run_id))[-1]
    forked = await wf.fork(last.checkpoint_id)
    result = await asyncio.wait_for(forked.until_idle(), 5)
    assert result.status == "completed"
    assert result.outputs == [6]
    assert forked.run_id != done.run_id


async def test_a_fork_with_state_edits_and_nothing_to_run_says_so(storage: Any) -> None:
    wf = chain(storage)
    done = await wf.run(3)
    last = (await storage.list(done.run_id))[-1]
    forked = await wf.fork(last.checkpoint_id, state={"factor": 10})
    result = await asyncio.wait_for(forked.until_idle(), 5)
    assert result.status == "completed"
    (note,) = [d for d in result.diagnostics if "nothing to run" in d]
    assert last.checkpoint_id in note and "'factor'" in note


# ------------------------------------------------------------------- cancelled
async def test_a_cancelled_run_refuses_answers_until_reopened() -> None:
    run = asking(None).start(40)
    waiting = await run.until_idle()
    rid = waiting.pending_requests[0].request_id
    run.cancel()
    assert run.status == "cancelled"
    with pytest.raises(RunStateError, match=r"cancelled.*reopen\(\)"):
        run.answer(rid, 2)
    with pytest.raises(RunStateError, match="cancelled"):
        await run.respond(rid, 2)
    assert [p.request_id for p in run.pending_requests] == [rid]  # still pending
    assert (await run.until_idle()).status == "cancelled"
    run.reopen()
    assert (await run.respond(rid, 2)).outputs == [42]


async def test_reopen_is_only_for_cancelled_runs() -> None:
    run = asking(None).start(1)
    with pytest.raises(RunStateError, match="not cancelled"):
        run.reopen()


async def test_a_stored_cancelled_run_comes_back_cancelled(storage: Any) -> None:
    wf = asking(storage)
    run = wf.start(40)
    rid = (await run.until_idle()).pending_requests[0].request_id
    run.cancel()
    await run.flush_journal()

    back = await wf.resume(run.run_id)
    assert back.status == "cancelled"
    with pytest.raises(RunStateError, match="reopen"):
        await back.respond(rid, 2)
    assert (await back.until_idle()).status == "cancelled"

    reopened = await wf.resume(run.run_id, reopen=True)
    assert reopened.status == "waiting"
    assert (await reopened.respond(rid, 2)).outputs == [42]
    # reopened for good: a later resume finds the completed run
    assert (await wf.resume(run.run_id)).status == "completed"


async def test_cancel_while_driving_is_stored(storage: Any) -> None:
    started = asyncio.Event()

    @executor(id="slow")
    async def slow(n: int, ctx: WorkflowContext[None, int]) -> None:
        started.set()
        await asyncio.sleep(30)

    wf = WorkflowBuilder(name="slow", start=slow, checkpoint_storage=storage).build()
    run = wf.start(1)
    driver = asyncio.create_task(run.until_idle())
    await started.wait()
    run.cancel()
    assert (await asyncio.wait_for(driver, 5)).status == "cancelled"
    assert (await wf.resume(run.run_id)).status == "cancelled"


# --------------------------------------------------------------------- waiting
async def test_a_run_going_idle_waiting_emits_workflow_waiting() -> None:
    wf = asking(None)
    events = [ev async for ev in wf.run_stream(40)]
    last = events[-1]
    assert isinstance(last, WorkflowWaiting)
    assert last.status == "waiting"
    assert len(last.pending_requests) == 1
    assert not any(isinstance(e, WorkflowCompleted) for e in events)


async def test_workflow_waiting_names_the_ids_respond_accepts(storage: Any) -> None:
    wf = asking(storage)
    first = await wf.run(40)
    (waiting,) = first.events.of_type(WorkflowWaiting)
    assert waiting.pending_requests == [p.request_id for p in first.pending_requests]
    run = await wf.resume(first.run_id)
    result = await run.until_idle()  # resumed, still waiting: said again
    assert isinstance(result.events[-1], WorkflowWaiting)
    assert result.events[-1].pending_requests == waiting.pending_requests
    assert (await run.respond(waiting.pending_requests[0], 2)).outputs == [42]


# ------------------------------------------------------- CancelledError handler
async def test_a_handler_raising_cancelled_error_is_that_executors_failure() -> None:
    @executor(id="rude")
    async def rude(n: int, ctx: WorkflowContext[None]) -> None:
        raise asyncio.CancelledError("not really cancelled")

    result = await asyncio.wait_for(WorkflowBuilder(start=rude).build().run(1), 5)
    assert result.status == "failed"
    assert "executor 'rude' failed" in (result.error or "")
    assert "CancelledError" in (result.error or "")
    (failed,) = result.events.of_type(ExecutorFailed)
    assert failed.error_type == "CancelledError"


async def test_cancelled_error_in_parallel_slots_and_sync_handlers() -> None:
    @executor(id="fan")
    async def fan(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n)

    @executor(id="ok")
    async def ok(n: int, ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(n)

    @executor(id="sync_rude")
    def sync_rude(n: int, ctx: WorkflowContext[None]) -> None:
        raise asyncio.CancelledError()

    wf = WorkflowBuilder(start=fan).add_fan_out(fan, [ok, sync_rude]).build()
    result = await asyncio.wait_for(wf.run(1), 5)
    assert result.status == "failed"
    assert "'sync_rude'" in (result.error or "")


async def test_a_handler_raising_cancelled_error_is_retried_like_any_failure() -> None:
    calls = []

    @executor(id="flaky", retry=RetryPolicy(max_attempts=2, retry_on=(BaseException,)))
    async def flaky(n: int, ctx: WorkflowContext[None, int]) -> None:
        calls.append(n)
        if len(calls) == 1:
            raise asyncio.CancelledError()
        await ctx.yield_output(n)

    result = await asyncio.wait_for(WorkflowBuilder(start=flaky).build().run(7), 5)
    assert result.status == "completed" and result.outputs == [7]
    assert len(calls) == 2


# --------------------------------------------------------------- existing run ids
async def test_starting_a_run_id_that_exists_raises(storage: Any) -> None:
    wf = chain(storage)
    first = await wf.run(3, run_id="taken")
    assert first.status == "completed"
    journal_before = await storage.journal("taken")
    with pytest.raises(RunStateError, match=r"'taken' already exists.*wf\.resume\('taken'\)"):
        await wf.run(4, run_id="taken")
    assert await storage.journal("taken") == journal_before  # nothing merged
    assert (await wf.resume("taken")).status == "completed"


async def test_resuming_an_earlier_checkpoint_forks_under_a_new_run_id(storage: Any) -> None:
    wf = chain(storage)
    done = await wf.run(3, run_id="orig")
    journal_before = await storage.journal("orig")
    earlier = (await storage.list("orig"))[0]
    forked = await wf.resume("orig", checkpoint_id=earlier.checkpoint_id)
    result = await forked.until_idle()  # raised RunStateError: it reused the run id "orig"
    assert result.outputs == [6]
    assert forked.run_id != "orig" and forked.parent == ("orig", earlier.checkpoint_id)
    assert await storage.journal("orig") == journal_before
    assert done.outputs == [6]
