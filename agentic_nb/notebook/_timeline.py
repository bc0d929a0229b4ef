"""A Gantt-style SVG chart of executor invocations across supersteps (no matplotlib)."""

from __future__ import annotations

from html import escape
from typing import Any

from agentic_nb.workflow._events import SuperstepStarted

from ._frames import _invocations, events_of

OUTCOME_COLORS = {
    "completed": "#6aa84f",
    "failed": "#cc0000",
    "retried": "#e69138",
    "waiting": "#3d85c6",
    "running": "#f1c232",
    "interrupted": "#999999",
}


class TimelineChart:
    """One row per executor, one bar per invocation, superstep boundaries as dashed lines.

    Displays itself in a notebook (``_repr_svg_``); ``.svg`` is the SVG text.
    Bars are coloured by outcome (completed green, retried orange, failed red,
    waiting for input blue) and carry a tooltip with superstep, attempt and duration.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def echo(x: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output(x)
        >>> chart = timeline_chart(WorkflowBuilder(start=echo).build().run_sync("hi"))
        >>> chart.svg.startswith("<svg"), chart.rows
        (True, ['echo'])
    """

    def __init__(self, events: Any, *, width: int = 720, row_height: int = 22) -> None:
        evs = events_of(events)
        self.invocations = _invocations(evs)
        self.rows: list[str] = list(dict.fromkeys(r["executor_id"] for r in self.invocations))
        self.steps = [(e.superstep, e.ts) for e in evs if type(e) is SuperstepStarted]
        self.width = width
        self.row_height = row_height
        self.svg = self._draw()

    def _draw(self) -> str:
        label_w = min(220, 12 + 7 * max((len(r) for r in self.rows), default=4))
        plot_w = max(200, self.width - label_w - 10)
        top = 22
        legend_y = top + self.row_height * max(1, len(self.rows)) + 14
        h = legend_y + 10
        times = [r["start"] for r in self.invocations] + [
            r["end"] for r in self.invocations if r["end"] is not None
        ]
        times += [t for _, t in self.steps]
        t0 = min(times) if times else 0.0
        t1 = max(times) if times else 1.0
        span = max(t1 - t0, 1e-6)

        def x(t: float) -> float:
            return label_w + (t - t0) / span * plot_w

        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{h}" '
            f'font-family="Helvetica,sans-serif" font-size="11">',
            f'<text x="{label_w}" y="12" fill="#555">0 ms</text>',
            f'<text x="{label_w + plot_w}" y="12" text-anchor="end" fill="#555">'
            f"{span * 1000:.1f} ms</text>",
        ]
        for n, t in self.steps:
            xs = x(t)
            out.append(
                f'<line x1="{xs:.1f}" y1="{top - 4}" x2="{xs:.1f}" y2="{h - 4}" stroke="#bbb" '
                f'stroke-dasharray="3,3"><title>superstep {n}</title></line>'
            )
            out.append(f'<text x="{xs + 2:.1f}" y="{top - 6}" fill="#999" font-size="9">{n}</text>')
        index = {r: i for i, r in enumerate(self.rows)}
        for i, r in enumerate(self.rows):
            y = top + i * self.row_height
            out.append(
                f'<text x="{label_w - 6}" y="{y + self.row_height * 0.65:.1f}" '
                f'text-anchor="end">{escape(r)}</text>'
            )
        for inv in self.invocations:
            y = top + index[inv["executor_id"]] * self.row_height + 3
            start = x(inv["start"])
            end = x(inv["end"]) if inv["end"] is not None else x(t1)
            w = max(end - start, 2.0)
            color = OUTCOME_COLORS.get(inv["outcome"], "#999999")
            dur = inv["duration_ms"]
            tip = (
                f"{inv['executor_id']} superstep {inv['superstep']} attempt {inv['attempt']}: "
                f"{inv['outcome']}" + (f", {dur:.2f} ms" if dur is not None else "")
            )
            if inv["error"]:
                tip += f" ({inv['error']})"
            out.append(
                f'<rect x="{start:.1f}" y="{y}" width="{w:.1f}" height="{self.row_height - 6}" '
                f'fill="{color}" class="bar {inv["outcome"]}"><title>{escape(tip)}</title></rect>'
            )
        # Legend: what each bar colour means (only the outcomes this chart shows, in order).
        shown = [o for o in OUTCOME_COLORS if any(i["outcome"] == o for i in self.invocations)]
        lx = float(label_w)
        out.append(f'<g class="legend"><text x="{label_w - 6}" y="{legend_y + 4}" '
                   'text-anchor="end" fill="#555">legend</text>')  # fmt: skip
        for o in shown:
            out.append(
                f'<rect x="{lx:.1f}" y="{legend_y - 5}" width="10" height="10" '
                f'fill="{OUTCOME_COLORS[o]}"/><text x="{lx + 13:.1f}" y="{legend_y + 4}" '
                f'fill="#333">{o}</text>'
            )
            lx += 22 + 7 * len(o)
        out.append(
            f'<line x1="{lx:.1f}" y1="{legend_y}" x2="{lx + 16:.1f}" y2="{legend_y}" '
            f'stroke="#bbb" stroke-dasharray="3,3"/><text x="{lx + 20:.1f}" '
            f'y="{legend_y + 4}" fill="#333">superstep boundary</text></g>'
        )
        out.append("</svg>")
        return "".join(out)

    def _repr_svg_(self) -> str:
        return self.svg


def timeline_chart(events: Any, *, width: int = 720) -> TimelineChart:
    """Gantt-style chart of a run's invocations (see :class:`TimelineChart`)."""
    return TimelineChart(events, width=width)
