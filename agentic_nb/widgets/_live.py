"""The live run widget: status, progress, per-executor table, coloured graph, outputs, log."""

from __future__ import annotations

from html import escape
from typing import Any

from agentic_nb.notebook._tracker import STATE_COLORS, TERMINAL

from ._approvals import ApprovalPanel
from ._common import (
    Throttle,
    drive,
    driver_of,
    html_table,
    ipywidgets,
    short,
    spawn,
    status_badge,
)


def shown_status(run: Any) -> str:
    """The run's status as a user sees it: a run with work left and nothing driving it
    (stepped, or paused) is ``"paused"``, not ``"running"``.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def a(x: int, ctx: WorkflowContext[int]) -> None:
        ...     ctx.send_message(x)
        >>> @executor
        ... def b(x: int, ctx: WorkflowContext[None, int]) -> None: ...
        >>> run = WorkflowBuilder(start=a).add_edge(a, b).build().start(1)
        >>> import asyncio
        >>> _ = asyncio.run(run.step())
        >>> run.status, shown_status(run)
        ('running', 'paused')
    """
    status: str = run.status
    if (
        status == "running"
        and getattr(run, "loaded", True)
        and driver_of(run) is None
        and run.can_progress()
    ):
        return "paused"
    return status


def status_line(run: Any) -> str:
    if not run.loaded:
        return f"run <code>{escape(run.run_id)}</code> · loading checkpoint…"
    wf = run.workflow
    extra = ""
    if run.status == "waiting":
        extra = f" · {len(run.pending_requests)} request(s) waiting for input"
    if run.error:
        extra += f' · <span style="color:#cc0000">{escape(short(run.error, 300))}</span>'
    return (
        f'<div class="agentic-status-line">run <code>{escape(run.run_id)}</code> of '
        f"<b>{escape(wf.name)}</b> · {status_badge(shown_status(run))} · "
        f'<span class="agentic-superstep">{run.superstep}</span> superstep(s) done '
        f'<span style="color:#777">(limit {wf.max_supersteps})</span> · '
        f"{len(run.outputs)} output(s){extra}</div>"
    )


MAX_ROWS = 150
SMALL_GRAPH = 30  # up to this many executors the table is kept current even while closed


def executor_table(tracker: Any, max_rows: int = MAX_ROWS) -> str:
    """One row per executor; in very large graphs, idle (pending/skipped) rows are counted
    instead of listed."""
    states = tracker.states()
    shown = list(tracker.stats.items())
    hidden = ""
    if len(shown) > max_rows:
        active = [(k, st) for k, st in shown if states[k] not in ("pending", "skipped")]
        idle = len(shown) - len(active)
        shown = active[-max_rows:]
        hidden = (
            f'<tr><td colspan="5" style="padding:1px 8px;color:#777">'
            f"… {idle} pending/skipped and {len(active) - len(shown)} earlier executors "
            f"not listed</td></tr>"
        )
    rows = []
    for xid, st in shown:
        s = states[xid]
        rows.append(
            "<tr>"
            f'<td style="padding:1px 8px;font-family:monospace">{escape(xid)}</td>'
            f'<td style="padding:1px 8px"><span data-executor="{escape(xid)}" '
            f'data-state="{s}" style="background:{STATE_COLORS[s]};padding:0 5px;'
            f'border:1px solid #aaa">{s}</span></td>'
            f'<td style="padding:1px 8px;text-align:right">{st.invocations}</td>'
            f'<td style="padding:1px 8px;text-align:right">'
            f"{'' if st.last_duration_ms is None else f'{st.last_duration_ms:.1f} ms'}</td>"
            f'<td style="padding:1px 8px;color:#cc0000">{escape(short(st.last_error, 160))}</td>'
            "</tr>"
        )
    head = "".join(
        f'<th style="text-align:left;padding:1px 8px">{h}</th>'
        for h in ("executor", "state", "invocations", "last duration", "last error")
    )
    return (
        f'<table class="agentic-executors" style="border-collapse:collapse;font-size:12px">'
        f"<tr>{head}</tr>{''.join(rows)}{hidden}</table>"
    )


def agent_stream_html(tracker: Any, limit: int = 600) -> str:
    """What each agent streamed in its current or last invocation ('' when none did)."""
    if not tracker.agent_text:
        return ""
    states = tracker.states()
    parts = []
    for xid, text in list(tracker.agent_text.items())[-6:]:
        if not text:
            continue
        shown = text if len(text) <= limit else "…" + text[-limit:]
        cursor = " ▌" if states.get(xid) == "running" else ""
        parts.append(
            f'<div data-agent="{escape(xid)}"><b>{escape(xid)}</b>: '
            f'<span style="white-space:pre-wrap">{escape(shown)}</span>{cursor}</div>'
        )
    return (
        '<div style="border-left:3px solid #9fc5f8;padding:2px 8px;margin:4px 0;'
        f'font-size:12px;max-height:160px;overflow:auto">{"".join(parts)}</div>'
        if parts
        else ""
    )


class LiveRunWidget:
    """Watch a run as it goes: returned at once by ``run.show()`` / ``wf.run_live()``.

    Shows the status line (run id, state, supersteps done), a progress bar scaled to
    the supersteps done (the total is unknown until the run ends), one
    row per executor (state, invocations, last duration, last error), the graph
    coloured by state with the last superstep's edges highlighted, approval cards
    for pending requests, outputs as they arrive and a log. Redraws at most
    ``10`` times a second (``interval``) however fast the run goes.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def echo(x: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output(x)
        >>> run = WorkflowBuilder(start=echo).build().start("hi")
        >>> live = LiveRunWidget(run, drive_run=False)
        >>> live.progress.max, live.sections.selected_index   # Outputs open
        (1, 1)
    """

    def __init__(self, run: Any, *, drive_run: bool = True, interval: float = 0.1) -> None:
        from ._graphview import GraphView, tracker_for

        w = ipywidgets()
        self.run = run
        self.tracker = tracker_for(run)
        self.status = w.HTML()
        self.progress = w.IntProgress(
            value=0,
            min=0,
            max=1,
            description="superstep",
            layout=w.Layout(width="60%"),
        )
        self.executors = w.HTML()
        self.graph = GraphView(run, tracker=self.tracker, follow=False)
        self.approvals = ApprovalPanel(run, follow=False)
        self.outputs = w.HTML()
        self.stream = w.HTML()  # agent tokens as they stream
        self.stream.add_class("agentic-agent-stream")
        self.log = w.HTML()
        self.driver: Any = None
        self.driver_error: str = ""
        # Outputs open; the executor table (long in big graphs; the graph shows the
        # same states) is rendered only while its section is open.
        self.sections = sections = w.Accordion(
            children=[self.executors, self.outputs, self.log],
            titles=("Executors", "Outputs", "Log"),
            selected_index=1,
        )
        sections.observe(self._on_section, names=["selected_index"])
        self.widget = w.VBox(
            [self.status, self.progress, self.graph, self.stream, self.approvals.widget, sections]
        )
        self.widget.add_class("agentic-live-run")
        self._throttle = Throttle(self.redraw, interval)
        self._unsubscribe: Any = run.subscribe(self._on_event)
        if drive_run:
            self.start()
        elif not run.loaded:
            spawn(self._load())
        self._throttle.flush()

    async def _load(self) -> None:
        await self.run.load()
        self._throttle.poke()

    def start(self) -> None:
        """Drive the run in a background task (no-op if something drives it already)."""
        self.driver = drive(self.run)
        if self.driver is not None:
            self.driver.add_done_callback(self._driver_done)

    def _on_section(self, _change: Any) -> None:
        self._throttle.poke()

    def _on_event(self, _event: Any) -> None:
        self._throttle.poke()

    def _driver_done(self, task: Any) -> None:
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.driver_error = f"{type(exc).__name__}: {exc}"
        self._throttle.poke()

    @property
    def redraws(self) -> int:
        """How many times the widget redrew (for measuring the throttle)."""
        return self._throttle.redraws

    def redraw(self) -> None:
        """Fold new events and update every part of the widget now."""
        run = self.run
        if not run.loaded:
            self.status.value = status_line(run)
            return
        self.tracker.update()
        self.status.value = status_line(run)
        # Scaled to the supersteps done: full when the run ended, one step short while
        # work remains (max_supersteps is a limit, not a forecast).
        done = run.superstep
        more = 1 if run.status not in TERMINAL and run.status != "waiting" else 0
        self.progress.max = max(1, done + more)
        self.progress.value = done
        self.progress.description = f"{done} step(s)"
        self.progress.bar_style = {
            "completed": "success",
            "failed": "danger",
            "cancelled": "warning",
            "waiting": "info",
        }.get(run.status, "")
        if self.sections.selected_index == 0 or len(self.tracker.stats) <= SMALL_GRAPH:
            self.executors.value = executor_table(self.tracker)
        self.graph.refresh()
        self.approvals.refresh()
        self.stream.value = agent_stream_html(self.tracker)
        outs = run.outputs
        rows = [[i, type(o).__name__, o] for i, o in enumerate(outs)][-50:]
        self.outputs.value = html_table(["#", "type", "value"], rows, empty="no outputs yet")
        lines = list(self.tracker.logs)[-50:]
        lines += [f"diagnostic: {d}" for d in run.diagnostics]
        if self.driver_error:
            lines.append(f"driver error: {self.driver_error}")
        self.log.value = (
            '<pre class="agentic-log" style="max-height:200px;overflow:auto;margin:0">'
            + escape("\n".join(lines) or "(no log lines)")
            + "</pre>"
        )
        if run.status in TERMINAL and self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    async def wait(self) -> Any:
        """Await the background driver and the last redraw (for scripts and tests)."""
        if self.driver is not None:
            await self.driver
        await self._throttle.idle()
        self._throttle.flush()
        return self.run.result() if self.run.loaded else None

    def close(self) -> None:
        """Stop following the run (the run itself goes on)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def live_run(run: Any, *, interval: float = 0.1) -> LiveRunWidget:
    """Return the live widget of ``run`` at once and drive the run in a background task.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def echo(x: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output(x)
        >>> wf = WorkflowBuilder(start=echo).build()
        >>> import asyncio
        >>> async def cell():
        ...     live = live_run(wf.start("hi"))  # in a notebook: wf.run_live("hi")
        ...     await live.wait()
        ...     return live.progress.bar_style
        >>> asyncio.run(cell())
        'success'
    """
    return LiveRunWidget(run, interval=interval)
