"""Notebook helpers: pictures of the graph and run events in pandas.

Graph exports (``workflow_to_dot`` needs nothing; SVG needs the graphviz
``dot`` program; networkx and pandas come with the ``notebook`` extra)::

    >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
    >>> from agentic_nb.notebook import events_to_dataframe, workflow_to_dot
    >>> @executor
    ... def echo(x: str, ctx: WorkflowContext[None, str]) -> None:
    ...     ctx.yield_output(x)
    >>> wf = WorkflowBuilder(name="demo", start=echo).build()
    >>> "echo" in workflow_to_dot(wf)
    True
    >>> df = events_to_dataframe(wf.run_sync("hi").events)
    >>> df.loc[df["type"] == "Output", "payload_preview"].tolist()
    ['hi']
"""

from ._cost import COST_COLUMNS, USAGE_COLUMNS, cost_chart, cost_table, usage_table
from ._dot import workflow_to_dot
from ._export import workflow_to_mermaid, workflow_to_networkx
from ._frames import (
    COLUMNS,
    SHOWN,
    compact_view,
    durations_summary,
    events_to_dataframe,
    executor_timeline,
    retries_and_failures,
    superstep_summary,
)
from ._graph import GraphvizNotFoundError, render_svg
from ._timeline import TimelineChart, timeline_chart
from ._tracker import STATE_COLORS, STATES, RunTracker

__all__ = [
    "COLUMNS",
    "COST_COLUMNS",
    "SHOWN",
    "STATES",
    "STATE_COLORS",
    "USAGE_COLUMNS",
    "GraphvizNotFoundError",
    "RunTracker",
    "TimelineChart",
    "compact_view",
    "cost_chart",
    "cost_table",
    "durations_summary",
    "events_to_dataframe",
    "executor_timeline",
    "render_svg",
    "retries_and_failures",
    "superstep_summary",
    "timeline_chart",
    "usage_table",
    "workflow_to_dot",
    "workflow_to_mermaid",
    "workflow_to_networkx",
]
