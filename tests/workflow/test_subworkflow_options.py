"""Sub-workflow options (issue 14): go on after a child's failure, or send a summary."""

from __future__ import annotations

import pytest

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import SubWorkflowResult, WorkflowExecutor


@executor(id="inc")
async def inc(n: int, ctx: WorkflowContext[None, int]) -> None:
    await ctx.yield_output(n + 1)


@executor(id="boom")
async def boom(n: int, ctx: WorkflowContext[None, int]) -> None:
    raise RuntimeError("child broke")


@executor(id="report")
async def report(r: SubWorkflowResult | int, ctx: WorkflowContext[None, str]) -> None:
    if isinstance(r, int):  # the child's own output (sent as is without summary=True)
        await ctx.yield_output(f"output {r}")
        return
    await ctx.yield_output(f"{r.workflow}: {r.status} {r.outputs} {r.error or ''}".strip())


def parent(child_start: object, **options: object) -> object:
    child = WorkflowBuilder(name="child", start=child_start).build()
    sub = WorkflowExecutor(child, id="sub", **options)  # type: ignore[arg-type]
    return WorkflowBuilder(name="parent", start=sub).add_edge(sub, report).build()


async def test_continue_sends_a_failure_summary_instead_of_failing() -> None:
    result = await parent(boom, on_child_failure="continue").run(1)  # type: ignore[attr-defined]
    assert result.status == "completed"
    [line] = result.outputs
    assert line.startswith("child: failed []") and "child broke" in line
    logs = [e for e in result.events if type(e).__name__ == "Log"]
    assert any("on_child_failure='continue'" in e.message for e in logs)


async def test_fail_is_the_default() -> None:
    result = await parent(boom).run(1)  # type: ignore[attr-defined]
    assert result.status == "failed" and "child broke" in (result.error or "")


async def test_summary_sends_one_result_with_the_outputs() -> None:
    result = await parent(inc, summary=True).run(1)  # type: ignore[attr-defined]
    assert result.outputs == ["child: completed [2]"]


def test_a_bad_option_is_refused() -> None:
    child = WorkflowBuilder(name="child", start=inc).build()
    with pytest.raises(ValueError, match="on_child_failure"):
        WorkflowExecutor(child, on_child_failure="ignore")


async def test_continue_still_sends_the_outputs_of_a_child_that_completed() -> None:
    result = await parent(inc, on_child_failure="continue").run(1)  # type: ignore[attr-defined]
    assert result.outputs == ["output 2"]
