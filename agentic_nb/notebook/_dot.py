"""Graphviz DOT source for a workflow graph (pure string building: no graphviz needed).

Drawing conventions: the start executor has a double border and an arrow from a
black ``start`` dot; the shape tells the executor kind (worker: rounded box,
validator: hexagon, orchestrator: component); conditional edges are dashed with
their condition label, switch cases dotted purple with a diamond at the source and
their case label; fan-out edges are bold; a fan-in goes
through a small ``join`` triangle; sub-workflows are dashed clusters; edge labels
show the message types when the executors declare them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._model import EdgeSpec, GraphModel, NodeSpec, model_from_workflow
from ._tracker import STATE_COLORS, RunTracker

EDGE_COLOR = "#555555"
HIGHLIGHT_COLOR = "#e69138"
HIGHLIGHT_WIDTH = "3"
SWITCH_COLOR = "#7b4fa0"

_SHAPES = {
    "worker": 'shape=box style="rounded,filled"',
    "validator": 'shape=hexagon style="filled"',
    "orchestrator": 'shape=component style="filled"',
    # Wide enough that "join" sits inside the triangle's upper half.
    "join": 'shape=invtriangle style="filled" fixedsize=true width=0.75 height=0.5 '
    'fontsize=8 fillcolor="#dddddd" labelloc=t',
    "missing": 'shape=box style="dashed" color="#cc0000" fontcolor="#cc0000"',
}


def quote(text: str) -> str:
    """A DOT double-quoted string with quotes, backslashes and newlines escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def edge_label(e: EdgeSpec) -> str:
    parts = [p for p in (e.label, ", ".join(e.types) if e.kind != "fan_in" else "") if p]
    if e.kind == "fan_in" and e.label:
        parts = [e.label]
    return "\n".join(parts)


def model_to_dot(
    model: GraphModel,
    *,
    fills: Mapping[str, str] | None = None,
    highlighted: set[int] | None = None,
    dashed_nodes: set[str] | None = None,
    rankdir: str = "TB",
) -> str:
    """DOT text of ``model``; nodes get ids ``n<i>`` and edges ``e<j>`` in the SVG."""
    fills = fills or {}
    highlighted = highlighted or set()
    dashed_nodes = dashed_nodes or set()
    index = {n.id: i for i, n in enumerate(model.nodes)}
    lines = [
        f"digraph {quote(model.name)} {{",
        f'  graph [rankdir={rankdir} fontname="Helvetica" fontsize=11 nodesep=0.35 '
        f"ranksep=0.45 compound=true];",
        '  node [fontname="Helvetica" fontsize=11 height=0.4 margin="0.12,0.04"];',
        f'  edge [fontname="Helvetica" fontsize=9 color="{EDGE_COLOR}" '
        f'fontcolor="#333333" arrowsize=0.7];',
    ]

    def node_line(i: int, n: NodeSpec, indent: str) -> str:
        attrs = [f'id="n{i}"', f"label={quote(n.label)}", _SHAPES.get(n.kind, _SHAPES["worker"])]
        if n.is_executor:
            fill = fills.get(n.id, STATE_COLORS["pending"])
            attrs.append(f'fillcolor="{fill}"')
            if n.id in dashed_nodes:
                attrs[2] = (
                    attrs[2]
                    .replace('"filled"', '"filled,dashed"')
                    .replace('"rounded,filled"', '"rounded,filled,dashed"')
                )
        if n.is_start:
            attrs.append("peripheries=2")
        return f"{indent}{quote(n.id)} [{' '.join(attrs)}];"

    # Nodes, nested in their clusters.
    children: dict[str, list[str]] = {}
    for c in model.clusters:
        children.setdefault(c.parent, []).append(c.id)
    labels = {c.id: c.label for c in model.clusters}
    members: dict[str, list[int]] = {}
    for i, n in enumerate(model.nodes):
        members.setdefault(n.cluster, []).append(i)

    counter = [0]

    def emit_cluster(cid: str, depth: int) -> None:
        indent = "  " * (depth + 1)
        if cid:
            counter[0] += 1
            lines.append(f"{indent}subgraph cluster_{counter[0]} {{")
            lines.append(
                f'{indent}  label={quote(labels[cid])} style="rounded,dashed" color="#888888" '
                f'fontcolor="#555555" fontsize=10;'
            )
            inner = indent + "  "
        else:
            inner = indent
        for i in members.get(cid, []):
            lines.append(node_line(i, model.nodes[i], inner))
        for sub in children.get(cid, []):
            emit_cluster(sub, depth + 1 if cid else depth)
        if cid:
            lines.append(f"{indent}}}")

    emit_cluster("", 0)
    if model.start is not None and model.start in index:
        lines.append(
            '  "__start__" [id="start" label="start" shape=circle style=filled fillcolor=black '
            "fontcolor=white fontsize=8 width=0.45 fixedsize=true];"
        )
        lines.append(f'  "__start__" -> {quote(model.start)} [id="e_start"];')

    for j, e in enumerate(model.edges):
        attrs = [f'id="e{j}"']
        lab = edge_label(e)
        if lab:
            attrs.append(f"label={quote(lab)}")
        if e.kind == "conditional":
            attrs.append("style=dashed")
        elif e.kind == "switch":  # dotted, purple, a diamond at the source: not a condition
            attrs.append(
                f'style=dotted color="{SWITCH_COLOR}" fontcolor="{SWITCH_COLOR}" '
                "dir=both arrowtail=odiamond"
            )
        elif e.kind == "fan_out":
            attrs.append("style=bold")
        elif e.kind == "child":
            attrs.append("style=dotted arrowhead=empty")
        if j in highlighted:
            attrs.append(f'color="{HIGHLIGHT_COLOR}" penwidth={HIGHLIGHT_WIDTH}')
        lines.append(f"  {quote(e.source)} -> {quote(e.target)} [{' '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def highlighted_edges(model: GraphModel, taken: set[tuple[str, str]]) -> set[int]:
    """Indices of the model edges that carried one of the ``(edge id, target)`` pairs."""
    if not taken:
        return set()
    out: set[int] = set()
    for j, e in enumerate(model.edges):
        if any(c in taken for c in e.carries):
            out.add(j)
    return out


def run_fills(tracker: RunTracker) -> tuple[dict[str, str], set[str]]:
    """Fill colour per executor id and the set of skipped (dashed) executors."""
    states = tracker.states()
    fills = {k: STATE_COLORS[s] for k, s in states.items()}
    return fills, {k for k, s in states.items() if s == "skipped"}


def workflow_to_dot(wf: Any, *, run: Any = None) -> str:
    """Graphviz DOT source of ``wf``; with ``run``, executors are coloured by state.

    Colours: pending grey, running yellow, done green, failed red, waiting for
    input blue, skipped white with a dashed border; edges taken in the last
    superstep are thick and orange.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def hello(name: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output("hi " + name)
        >>> dot = workflow_to_dot(WorkflowBuilder(name="demo", start=hello).build())
        >>> dot.splitlines()[0]
        'digraph "demo" {'
    """
    model = model_from_workflow(wf)
    if run is None:
        return model_to_dot(model)
    tracker = RunTracker(run, model.executor_ids())
    tracker.update()
    fills, skipped = run_fills(tracker)
    return model_to_dot(
        model,
        fills=fills,
        highlighted=highlighted_edges(model, tracker.last_edges),
        dashed_nodes=skipped,
    )
