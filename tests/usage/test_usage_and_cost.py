"""Tokens per agent, executor and model in events; result.usage; Prices; cost tables (14.5)."""

from __future__ import annotations

import math

import matplotlib
import pytest

from agentic_nb import Prices, WorkflowBuilder, WorkflowContext, executor
from agentic_nb.agents import AgentUsage, ChatAgent, tool
from agentic_nb.llm import ScriptedChatClient
from agentic_nb.notebook import COST_COLUMNS, cost_chart, cost_table, usage_table
from agentic_nb.patterns import SequentialBuilder
from agentic_nb.workflow import RunUsage

from ._flows import chain

matplotlib.use("Agg")


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def tool_flow():  # type: ignore[no-untyped-def]
    # ScriptedChatClient is a test double: it replays the scripted answers.
    calc = ChatAgent(
        ScriptedChatClient(
            [ScriptedChatClient.calls(("add", {"a": 2, "b": 3})), "It is 5."], model="big"
        ),
        name="calc",
        tools=[add],
    )
    echo = ChatAgent(ScriptedChatClient(["ok"], model="small"), name="echo")
    return WorkflowBuilder(name="tools", start=calc).add_edge(calc, echo).build()


async def test_usage_events_carry_executor_model_and_model_calls() -> None:
    result = await tool_flow().run("2+3?")
    assert result.status == "completed", result.error
    evs = result.events.of_type(AgentUsage)
    assert [(e.executor_id, e.agent_id != "", e.model, e.model_calls) for e in evs] == [
        ("calc", True, "big", 2),
        ("echo", True, "small", 1),
    ]
    assert all(e.input_tokens > 0 and e.output_tokens > 0 for e in evs)


async def test_result_usage_totals_by_model() -> None:
    result = await tool_flow().run("2+3?")
    u = result.usage
    evs = result.events.of_type(AgentUsage)
    assert isinstance(u, RunUsage)
    assert u.input_tokens == sum(e.input_tokens for e in evs)
    assert u.output_tokens == sum(e.output_tokens for e in evs)
    assert u.total_tokens == u.input_tokens + u.output_tokens
    assert u.model_calls == 3 and u.agent_invocations == 2
    assert set(u.by_model) == {"big", "small"}
    assert u.by_model["big"][2] == 2
    prices = Prices({"big": (10.0, 20.0), "small": (1.0, 2.0)})  # illustrative only
    big_in, big_out, _ = u.by_model["big"]
    small_in, small_out, _ = u.by_model["small"]
    expected = (big_in * 10 + big_out * 20 + small_in * 1 + small_out * 2) / 1000
    assert u.cost(prices) == pytest.approx(expected)
    with pytest.raises(KeyError, match="'small'"):
        u.cost(Prices({"big": (1.0, 1.0)}))


async def test_a_pattern_run_reports_usage_too() -> None:
    writer = ChatAgent(ScriptedChatClient(["Ride far."], model="w"), name="writer")
    reviewer = ChatAgent(ScriptedChatClient(["Fine."], model="r"), name="reviewer")
    result = await SequentialBuilder([writer, reviewer]).build().run("Tagline")
    assert result.usage.agent_invocations == 2
    assert set(result.usage.by_model) == {"w", "r"}


def test_prices_are_checked_and_the_default_table_is_empty() -> None:
    assert Prices().table == {}
    with pytest.raises(TypeError, match="pair"):
        Prices({"m": 3})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="negative"):
        Prices({"m": (-1, 0)})
    with pytest.raises(KeyError, match="no price for model 'x'"):
        Prices({"m": (1, 1)}).cost("x", 1, 1)
    assert Prices(default=(1.0, 1.0)).cost("x", 500, 500) == 1.0


async def test_cost_table_per_executor() -> None:
    result = await tool_flow().run("2+3?")
    prices = Prices({"big": (10.0, 20.0), "small": (1.0, 2.0)})
    table = cost_table(result, prices)
    assert list(table.columns) == list(COST_COLUMNS)
    assert table["executor_id"].tolist() == ["calc", "echo"]
    assert table["model"].tolist() == ["big", "small"]
    assert table["model_calls"].tolist() == [2, 1]
    assert table["invocations"].tolist() == [1, 1]
    assert table["cost"].sum() == pytest.approx(result.usage.cost(prices))
    assert int(table["total_tokens"].sum()) == result.usage.total_tokens
    # without prices: tokens, no cost
    bare = cost_table(result)
    assert bare["cost"].isna().all()
    # a model the table lacks: NaN for it, a figure for the other
    partial = cost_table(result, Prices({"big": (1.0, 1.0)}))
    assert not math.isnan(partial["cost"].iloc[0]) and math.isnan(partial["cost"].iloc[1])


async def test_cost_table_sums_repeated_invocations_and_works_on_a_run() -> None:
    run = chain(("a", "b")).start("go")
    await run.until_idle()
    rows = usage_table(run)
    assert rows["executor_id"].tolist() == ["a", "b"]
    assert rows["superstep"].tolist() == [0, 1]
    table = cost_table(run)
    assert table["executor_id"].tolist() == ["a", "b"]


async def test_cost_table_of_a_run_without_agents_is_empty() -> None:
    @executor(id="n")
    async def n(x: int, ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(x)

    table = cost_table(await WorkflowBuilder(start=n).build().run(1))
    assert table.empty and list(table.columns) == list(COST_COLUMNS)


async def test_cost_chart_draws_tokens_and_cost() -> None:
    result = await tool_flow().run("2+3?")
    fig = cost_chart(result, Prices({"big": (10.0, 20.0), "small": (1.0, 2.0)}))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["calc", "echo"]
    assert len(ax.patches) == 4  # input and output bars for two executors
    assert len(fig.axes) == 2  # the cost axis
    assert len(cost_chart(result).axes) == 1  # no prices: no cost axis
