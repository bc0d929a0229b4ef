"""ctx.request_info_sync: the typed form of request_info for sync handlers."""

from __future__ import annotations

from agentic_nb import WorkflowBuilder, WorkflowContext, executor


async def test_sync_handler_asks_and_gets_the_answer_on_replay() -> None:
    calls: list[int] = []

    @executor(id="ask")
    def ask(n: int, ctx: WorkflowContext[None, int]) -> None:
        calls.append(n)
        extra = ctx.request_info_sync({"add to": n}, response_type=int)
        ctx.yield_output(n + extra)

    run = WorkflowBuilder(start=ask).build().start(1)
    waiting = await run.until_idle()
    assert waiting.status == "waiting"
    (req,) = run.pending_requests
    assert req.request == {"add to": 1} and req.response_type is int
    done = await run.respond(req.request_id, 41)
    assert done.status == "completed" and done.outputs == [42]
    assert calls == [1, 1]  # run again from the start, answer replayed


async def test_request_info_sync_in_an_async_handler_is_a_clear_error() -> None:
    @executor(id="wrong")
    async def wrong(n: int, ctx: WorkflowContext[None, int]) -> None:
        ctx.request_info_sync("?", response_type=int)

    result = await WorkflowBuilder(start=wrong).build().run(1)
    assert result.status == "failed"
    assert "request_info_sync is for sync handlers" in (result.error or "")
    assert "'wrong'" in (result.error or "")
