"""Exactly once across resume: message types, answers, attempt counts, sub-workflows.

Issue 10, item 4. Each test was a defect: a ``str`` subclass came back as ``str``
after a resume and reached another handler; an answer that could not be stored was
consumed anyway; the retry budget restarted after a resume; a sub-workflow re-ran its
finished child tasks after an answer and announced child request ids the parent
rejected.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agentic_nb import Executor, RetryPolicy, WorkflowBuilder, WorkflowContext, executor, handler
from agentic_nb.workflow import (
    CodecError,
    InMemoryCheckpointStorage,
    RequestError,
    register_checkpoint_type,
)


class Ticket(str):
    """A str subclass with its own handler."""


@register_checkpoint_type
class Tag(str):
    """A registered str subclass: round-trips exactly."""


# ------------------------------------------------------------------ message types
def _typed(store: Any, make: Any) -> Any:
    @executor(id="send")
    async def send(n: int, ctx: WorkflowContext[Any]) -> None:
        await ctx.send_message(make(f"t{n}"))

    class Route(Executor):
        def __init__(self) -> None:
            super().__init__(id="route")

        @handler
        async def ticket(self, t: Ticket, ctx: WorkflowContext[None, str]) -> None:
            await ctx.yield_output(f"ticket {t}")

        @handler
        async def tag(self, t: Tag, ctx: WorkflowContext[None, str]) -> None:
            await ctx.yield_output(f"tag {t}")

        @handler
        async def text(self, t: str, ctx: WorkflowContext[None, str]) -> None:
            await ctx.yield_output(f"text {t}")

    route = Route()
    return WorkflowBuilder(start=send, checkpoint_storage=store).add_edge(send, route).build()


async def test_an_unregistered_str_subclass_is_refused_at_send_on_a_durable_run() -> None:
    result = await _typed(InMemoryCheckpointStorage(), Ticket).run(1)
    assert result.status == "failed"
    assert "Ticket" in (result.error or "") and "register_checkpoint_type" in (result.error or "")


async def test_a_str_subclass_is_fine_without_storage() -> None:
    assert (await _typed(None, Ticket).run(1)).outputs == ["ticket t1"]


async def test_a_registered_str_subclass_round_trips_through_a_resume() -> None:
    store = InMemoryCheckpointStorage()
    wf = _typed(store, Tag)
    run = wf.start(1)
    await run.step()  # send: the Tag is queued in the checkpoint
    resumed = await wf.resume(run.run_id)
    assert (await resumed.until_idle()).outputs == ["tag t1"]  # was "text t1"


# ------------------------------------------------------------------------ answers
async def test_an_answer_that_cannot_be_stored_leaves_the_request_pending() -> None:
    class Opaque:
        pass

    @executor(id="ask")
    async def ask(n: int, ctx: WorkflowContext[None, Any]) -> None:
        await ctx.yield_output(await ctx.request_info("anything?", response_type=object))

    wf = WorkflowBuilder(start=ask, checkpoint_storage=InMemoryCheckpointStorage()).build()
    run = wf.start(1)
    rid = (await run.until_idle()).pending_requests[0].request_id
    with pytest.raises(RequestError, match=r"cannot be stored.*still pending") as err:
        await run.respond(rid, Opaque())
    assert isinstance(err.value.__cause__, CodecError)
    assert run.status == "waiting"
    assert [p.request_id for p in run.pending_requests] == [rid]
    assert (await run.respond(rid, "fine")).outputs == ["fine"]


# ---------------------------------------------------------------- attempt counts
async def test_attempt_counts_survive_a_resume() -> None:
    store = InMemoryCheckpointStorage()
    seen: list[int] = []
    hang = asyncio.Event()

    @executor(id="flaky", retry=RetryPolicy(max_attempts=2))
    async def flaky(n: int, ctx: WorkflowContext[None, int]) -> None:
        seen.append(ctx.attempt)
        if ctx.attempt == 1:
            raise RuntimeError("first try fails")
        if len(seen) == 2:
            await hang.wait()  # the process "dies" during attempt 2
        raise RuntimeError("second try fails too")

    wf = WorkflowBuilder(start=flaky, checkpoint_storage=store).build()
    run = wf.start(1)
    driver = asyncio.create_task(run.until_idle())
    while len(seen) < 2:
        await asyncio.sleep(0.01)
    run.cancel()
    await driver
    resumed = await wf.resume(run.run_id, reopen=True)
    result = await resumed.until_idle()
    assert result.status == "failed"
    assert seen == [1, 2, 2]  # was [1, 2, 1, 2]: a third attempt with max_attempts=2
