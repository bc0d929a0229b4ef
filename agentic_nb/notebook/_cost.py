"""Tokens and cost per agent invocation and per executor, as DataFrames and a chart.

They read the ``AgentUsage`` events agents emit in workflows (one per agent
invocation, with the executor that ran it and the model that answered).

Example::

    >>> from agentic_nb import Prices, WorkflowBuilder
    >>> from agentic_nb.agents import ChatAgent
    >>> from agentic_nb.llm import ScriptedChatClient            # a test double
    >>> a = ChatAgent(ScriptedChatClient(["Hello there"], model="m"), name="greeter")
    >>> result = WorkflowBuilder(start=a).build().run_sync("Hi")
    >>> table = cost_table(result, Prices({"m": (1.0, 2.0)}))   # made-up prices
    >>> table[["executor_id", "model", "model_calls", "input_tokens", "output_tokens"]]
      executor_id model  model_calls  input_tokens  output_tokens
    0     greeter     m            1             5              3
    >>> float(table["cost"].iloc[0])
    0.011
"""

from __future__ import annotations

import math
from typing import Any

from agentic_nb._optional import require
from agentic_nb.workflow import Prices

from ._frames import events_of

USAGE_COLUMNS = (
    "superstep",
    "executor_id",
    "agent_id",
    "model",
    "model_calls",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost",
)
"""Columns of :func:`usage_table` (one row per agent invocation)."""

COST_COLUMNS = (
    "executor_id",
    "agent_id",
    "model",
    "invocations",
    "model_calls",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost",
)
"""Columns of :func:`cost_table` (one row per executor, agent and model)."""


def _cost(prices: Prices | None, model: str | None, i: int, o: int) -> float:
    if prices is None:
        return math.nan
    try:
        return prices.cost(model, i, o)
    except KeyError:
        return math.nan  # an unpriced model: no figure rather than a wrong one


def usage_table(source: Any, prices: Prices | None = None) -> Any:
    """One row per agent invocation of a Run / WorkflowResult / event list.

    ``cost`` is NaN without ``prices`` or for a model the table does not price.
    """
    pd = require("pandas", "notebook")
    rows = []
    for ev in events_of(source):
        if getattr(ev, "type", None) != "AgentUsage":
            continue
        model = getattr(ev, "model", None)
        i, o = ev.input_tokens, ev.output_tokens  # type: ignore[attr-defined]
        rows.append(
            {
                "superstep": ev.superstep,
                "executor_id": ev.executor_id,
                "agent_id": getattr(ev, "agent_id", ""),
                "model": model,
                "model_calls": int(getattr(ev, "model_calls", 0) or 0) or 1,
                "input_tokens": i,
                "output_tokens": o,
                "total_tokens": i + o,
                "cost": _cost(prices, model, i, o),
            }
        )
    return pd.DataFrame(rows, columns=list(USAGE_COLUMNS))


def cost_table(run_or_result: Any, prices: Prices | None = None) -> Any:
    """Tokens, model calls and cost per executor (and agent and model), in run order.

    ``prices`` is a :class:`agentic_nb.Prices` table (none is built in: pass your
    provider's figures); without it ``cost`` is NaN. ``table.sum(numeric_only=True)``
    gives the run's totals (also in ``result.usage``).
    """
    pd = require("pandas", "notebook")
    usage = usage_table(run_or_result, prices)
    if usage.empty:
        return pd.DataFrame(columns=list(COST_COLUMNS))
    keys = ["executor_id", "agent_id", "model"]
    grouped = usage.groupby(keys, sort=False, dropna=False)
    table = grouped.agg(
        invocations=("superstep", "size"),
        model_calls=("model_calls", "sum"),
        input_tokens=("input_tokens", "sum"),
        output_tokens=("output_tokens", "sum"),
        total_tokens=("total_tokens", "sum"),
        cost=("cost", lambda c: c.sum(min_count=len(c))),
    ).reset_index()
    return table[list(COST_COLUMNS)]


def cost_chart(run_or_result: Any, prices: Prices | None = None, *, ax: Any = None) -> Any:
    """A bar chart per executor: input and output tokens stacked, cost on a second axis.

    Returns the matplotlib ``Figure`` (the notebook shows it).
    """
    plt = require("matplotlib.pyplot", "notebook")
    table = cost_table(run_or_result, prices)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.2))
    else:
        fig = ax.figure
    labels = [str(x) for x in table["executor_id"]]
    xs = list(range(len(labels)))
    ax.bar(xs, table["input_tokens"], label="input tokens", color="#4c78a8")
    ax.bar(
        xs,
        table["output_tokens"],
        bottom=table["input_tokens"],
        label="output tokens",
        color="#f58518",
    )
    ax.set_xticks(xs, labels)
    ax.set_ylabel("tokens")
    ax.set_title("Tokens and cost per executor")
    handles, names = ax.get_legend_handles_labels()
    if prices is not None and len(table) and not table["cost"].isna().all():
        ax2 = ax.twinx()
        ax2.plot(xs, table["cost"], "o-", color="#54a24b", label="cost")
        ax2.set_ylabel("cost")
        ax2.set_ylim(bottom=0)
        h2, n2 = ax2.get_legend_handles_labels()
        handles, names = handles + h2, names + n2
    ax.legend(handles, names, loc="upper left", fontsize="small")
    fig.tight_layout()
    return fig
