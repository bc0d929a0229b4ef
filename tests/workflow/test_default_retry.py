"""A workflow-wide default RetryPolicy (issue 14): executors without their own use it."""

from __future__ import annotations

import pytest

from agentic_nb import RetryPolicy, WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import ExecutorFailed


def flaky(fails: int, id: str, retry: RetryPolicy | None = None) -> object:
    left = {"n": fails}

    @executor(id=id, retry=retry)
    async def step(x: str, ctx: WorkflowContext[None, str]) -> None:
        if left["n"] > 0:
            left["n"] -= 1
            raise ConnectionError("flaky")
        await ctx.yield_output(x)

    return step


async def test_the_default_policy_retries_executors_without_their_own() -> None:
    wf = WorkflowBuilder(start=flaky(2, "a"), retry=RetryPolicy(max_attempts=3)).build()
    result = await wf.run("ok")
    assert result.status == "completed" and result.outputs == ["ok"]
    assert [e.will_retry for e in result.events.of_type(ExecutorFailed)] == [True, True]


async def test_an_executors_own_policy_wins_over_the_default() -> None:
    own = flaky(1, "b", retry=RetryPolicy(max_attempts=1))
    wf = WorkflowBuilder(start=own, retry=RetryPolicy(max_attempts=5)).build()
    result = await wf.run("ok")
    assert result.status == "failed" and "flaky" in (result.error or "")


async def test_without_a_default_nothing_is_retried() -> None:
    result = await WorkflowBuilder(start=flaky(1, "c")).build().run("ok")
    assert result.status == "failed"


def test_a_default_that_is_not_a_policy_is_refused() -> None:
    with pytest.raises(TypeError, match="RetryPolicy"):
        WorkflowBuilder(retry=3)  # type: ignore[arg-type]
