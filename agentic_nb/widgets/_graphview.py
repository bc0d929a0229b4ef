"""The graph of a run, coloured by executor state, as an HTML widget holding inline SVG."""

from __future__ import annotations

from html import escape
from typing import Any

from agentic_nb.notebook._graph import GraphTemplate, render_run, workflow_template
from agentic_nb.notebook._tracker import STATE_COLORS, STATES, RunTracker

from ._common import ipywidgets


def legend_html() -> str:
    items = "".join(
        f'<span style="display:inline-block;margin-right:10px">'
        f'<span style="display:inline-block;width:11px;height:11px;border:1px solid #888;'
        f'background:{STATE_COLORS[s]};vertical-align:middle"></span> {s}</span>'
        for s in STATES
    )
    return f'<div style="font-size:11px;color:#444;margin:2px 0">{items}</div>'


class GraphView:
    """Owns the laid-out template of a workflow and redraws it from a :class:`RunTracker`.

    The layout is computed once (``dot``), so node positions never move between
    redraws. Without graphviz the view says why and shows nothing else.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def a(x: str, ctx: WorkflowContext[None, str]) -> None: ...
        >>> run = WorkflowBuilder(start=a).build().start("x")
        >>> view = GraphView(run, RunTracker(run))
        >>> "<svg" in view.widget.value
        True
    """

    def __init__(self, run: Any, tracker: RunTracker) -> None:
        w = ipywidgets()
        self.run = run
        self.tracker = tracker
        self.error: str | None = None
        self.template: GraphTemplate | None = None
        try:
            self.template = workflow_template(run.workflow)
        except ImportError as exc:  # graphviz package or dot program missing
            self.error = str(exc)
        self.widget = w.HTML(layout=w.Layout(overflow="auto", max_height="600px"))
        self.widget.add_class("agentic-graph")
        self.svg = ""
        self.refresh()

    def refresh(self) -> None:
        if self.template is None:
            self.widget.value = (
                f'<div style="color:#b45f06">graph picture unavailable: {escape(self.error or "")}'
                "</div>"
            )
            return
        svg = render_run(self.template, self.tracker)
        if svg != self.svg:
            self.svg = svg
            self.widget.value = legend_html() + f'<div class="agentic-graph-svg">{svg}</div>'


def tracker_for(run: Any) -> RunTracker:
    """A tracker that knows every executor drawn (sub-workflow children included)."""
    from agentic_nb.notebook._model import model_from_workflow

    return RunTracker(run, model_from_workflow(run.workflow).executor_ids())
