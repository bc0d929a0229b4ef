"""Budget(max_tokens, max_cost, max_model_calls): stops between supersteps, resumable (14.5)."""

from __future__ import annotations

import pytest

from agentic_nb import Budget, Prices, WorkflowBuilder, WorkflowContext, executor
from agentic_nb.agents import AgentUsage
from agentic_nb.workflow import ExecutorInvoked, FileCheckpointStorage, InMemoryCheckpointStorage

from ._flows import chain


def invoked(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.executor_id for e in result.events if isinstance(e, ExecutorInvoked)]


async def test_the_free_run_uses_tokens_in_every_superstep() -> None:
    result = await chain().run("go")
    assert result.status == "completed"
    per_agent = [e.total_tokens for e in result.events.of_type(AgentUsage)]
    assert len(per_agent) == 3 and all(t > 0 for t in per_agent)


async def test_max_tokens_stops_the_run_between_supersteps() -> None:
    free = await chain().run("go")
    first = free.events.of_type(AgentUsage)[0].total_tokens
    result = await chain().run("go", budget=Budget(max_tokens=first))
    # a's tokens are exactly the cap (not past it): b runs, then the run stops before c
    assert result.status == "failed"
    assert "budget" in (result.error or "")
    assert "max_tokens" in (result.error or "")
    assert invoked(result) == ["a", "b"]
    used = sum(e.total_tokens for e in result.events.of_type(AgentUsage))
    assert f"{used} tokens used" in (result.error or "")
    assert result.events[-1].type == "WorkflowFailed"
    assert result.events[-1].error_type == "BudgetExceeded"
    assert result.outputs == []


async def test_max_model_calls_stops_the_run() -> None:
    result = await chain().run("go", budget=Budget(max_model_calls=1))
    assert result.status == "failed"
    assert invoked(result) == ["a", "b"]
    assert "max_model_calls=1 passed: 2 model calls" in (result.error or "")


async def test_max_cost_uses_the_price_table() -> None:
    prices = Prices({"model-x": (1.0, 2.0)})  # illustrative figures, not vendor prices
    free = await chain().run("go")
    cost_a = prices.cost("model-x", *_tokens(free.events.of_type(AgentUsage)[0]))
    result = await chain().run("go", budget=Budget(max_cost=cost_a * 1.5, prices=prices))
    assert result.status == "failed"
    assert "max_cost" in (result.error or "") and "budget" in (result.error or "")
    assert invoked(result) == ["a", "b"]
    assert free.usage.cost(prices) > cost_a * 1.5


async def test_a_model_without_a_price_stops_a_cost_budget_with_its_name() -> None:
    budget = Budget(max_cost=100.0, prices=Prices({"other": (1.0, 1.0)}))
    result = await chain().run("go", budget=budget)
    assert result.status == "failed"
    assert "model-x" in (result.error or "") and "budget" in (result.error or "")


async def test_a_budget_that_is_not_passed_changes_nothing() -> None:
    result = await chain().run("go", budget=Budget(max_tokens=10**6, max_model_calls=3))
    assert result.status == "completed"
    assert invoked(result) == ["a", "b", "c"]


async def test_start_takes_a_budget_and_step_honours_it() -> None:
    run = chain().start("go", budget=Budget(max_model_calls=0))
    report = await run.step()
    assert report.executors == ["a"]
    assert run.status == "running"
    await run.step()
    assert run.status == "failed" and "budget" in (run.error or "")
    assert (await run.until_idle()).status == "failed"


async def test_a_stopped_run_resumes_with_a_larger_budget(tmp_path) -> None:
    store = FileCheckpointStorage(str(tmp_path))
    wf = chain(storage=store)
    stopped = await wf.run("go", budget=Budget(max_model_calls=1))
    assert stopped.status == "failed" and invoked(stopped) == ["a", "b"]

    # the same budget again: what the run used before counts, so it stops at once
    again = await wf.resume(stopped.run_id, budget=Budget(max_model_calls=1))
    result = await again.until_idle()
    assert result.status == "failed"
    assert "2 model calls" in (result.error or "")
    assert invoked(result) == []

    larger = await wf.resume(stopped.run_id, budget=Budget(max_model_calls=3))
    done = await larger.until_idle()
    assert done.status == "completed", done.error
    assert invoked(done) == ["c"]
    assert len(done.outputs) == 1
    assert done.usage.model_calls == 3  # the two calls before the stop are counted
    assert done.usage.agent_invocations == 3


async def test_in_memory_storage_resumes_too() -> None:
    store = InMemoryCheckpointStorage()
    wf = chain(storage=store)
    stopped = await wf.run("go", budget=Budget(max_tokens=1))
    assert stopped.status == "failed"
    run = await wf.resume(stopped.run_id)  # no budget: no cap
    assert (await run.until_idle()).status == "completed"


async def test_a_budget_ignores_workflows_without_agents() -> None:
    @executor(id="n")
    async def n(x: int, ctx: WorkflowContext[int, int]) -> None:
        if x < 5:
            await ctx.send_message(x + 1)
        else:
            await ctx.yield_output(x)

    wf = WorkflowBuilder(start=n).add_edge("n", "n").build()
    result = await wf.run(0, budget=Budget(max_tokens=0, max_model_calls=0))
    assert result.status == "completed" and result.outputs == [5]


def test_bad_budgets_are_refused_with_what_to_do() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        Budget(max_tokens=-1)
    with pytest.raises(ValueError, match="needs prices"):
        Budget(max_cost=1.0)
    with pytest.raises(TypeError, match=r"agentic_nb\.Budget"):
        chain().start("go", budget=1000)  # type: ignore[arg-type]


def _tokens(ev: AgentUsage) -> tuple[int, int]:
    return ev.input_tokens, ev.output_tokens
