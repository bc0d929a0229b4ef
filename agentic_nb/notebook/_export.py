"""Other views of the graph: a networkx MultiDiGraph and Mermaid flowchart text."""

from __future__ import annotations

import re
from typing import Any

from agentic_nb._optional import require

from ._model import model_from_workflow


def workflow_to_networkx(wf: Any) -> Any:
    """A ``networkx.MultiDiGraph`` of ``wf`` (needs the ``notebook`` extra).

    Nodes are executor ids (sub-workflow children as ``"parent/child"``) with
    attributes ``kind``, ``accepts``, ``sends``, ``start``, ``executor_class`` and
    ``cluster``. Each edge is keyed by the engine edge id and carries
    ``edge_type`` (direct, conditional, switch, fan_out, fan_in, child),
    ``label`` (condition, switch case or selection), ``types`` (message types)
    and, for a fan-in, ``fan_in_sources`` (source order of the delivered list).

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def a(x: int, ctx: WorkflowContext[int]) -> None: ...
        >>> @executor
        ... def b(x: int, ctx: WorkflowContext[None, int]) -> None: ...
        >>> g = workflow_to_networkx(WorkflowBuilder(start=a).add_edge(a, b).build())
        >>> list(g.edges(data="edge_type"))
        [('a', 'b', 'direct')]
    """
    nx = require("networkx", "notebook")
    model = model_from_workflow(wf)
    g = nx.MultiDiGraph(name=model.name, start=model.start)
    for n in model.nodes:
        if not n.is_executor:
            continue
        g.add_node(
            n.id,
            kind=n.kind,
            accepts=list(n.accepts),
            sends=list(n.sends),
            start=n.is_start,
            executor_class=n.executor_class,
            cluster=n.cluster or None,
        )
    joins: dict[str, list[str]] = {}
    for e in model.edges:
        if e.kind == "fan_in" and e.target.endswith("::join"):
            joins.setdefault(e.target, []).append(e.source)
    for e in model.edges:
        if e.kind == "fan_in":
            if e.target.endswith("::join"):
                continue
            sources = joins.get(e.source, [])
            src_types = [t for s in sources if s in g.nodes for t in g.nodes[s]["sends"]]
            for s in sources:
                g.add_edge(
                    s,
                    e.target,
                    key=e.group,
                    edge_type="fan_in",
                    label="",
                    types=[f"list[{t}]" for t in dict.fromkeys(src_types)],
                    fan_in_sources=list(sources),
                )
            continue
        g.add_edge(
            e.source,
            e.target,
            key=e.group or f"{e.source}->{e.target}",
            edge_type=e.kind,
            label=e.label,
            condition=e.condition or None,
            types=list(e.types),
        )
    return g


_SAFE = re.compile(r"[^0-9A-Za-z_]")

_MERMAID_SHAPES = {
    "worker": ('("', '")'),
    "validator": ('{{"', '"}}'),
    "orchestrator": ('[["', '"]]'),
    "join": ('(("', '"))'),
    "missing": ('["', '"]'),
}


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", "<br/>")


def workflow_to_mermaid(wf: Any) -> str:
    """Mermaid ``flowchart`` text of ``wf`` (paste into Markdown, GitHub renders it).

    Shapes follow the DOT picture: worker rounded, validator hexagon,
    orchestrator subroutine box, fan-in join circle; conditional and switch
    edges are dotted with their label; sub-workflows are subgraphs.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def a(x: int, ctx: WorkflowContext[int]) -> None: ...
        >>> @executor
        ... def b(x: int, ctx: WorkflowContext[None, int]) -> None: ...
        >>> print(workflow_to_mermaid(WorkflowBuilder(start=a).add_edge(a, b).build()))
        flowchart TD
          n0("a")
          n1("b")
          start_(( )) --> n0
          n0 -->|"int"| n1
    """
    model = model_from_workflow(wf)
    ids = {n.id: f"n{i}" for i, n in enumerate(model.nodes)}
    lines = ["flowchart TD"]
    children: dict[str, list[str]] = {}
    for c in model.clusters:
        children.setdefault(c.parent, []).append(c.id)
    labels = {c.id: c.label for c in model.clusters}
    members: dict[str, list[int]] = {}
    for i, n in enumerate(model.nodes):
        members.setdefault(n.cluster, []).append(i)

    def emit(cid: str, indent: str) -> None:
        inner = indent
        if cid:
            lines.append(f'{indent}subgraph {ids[cid]}_cluster["{_mermaid_text(labels[cid])}"]')
            inner = indent + "  "
        for i in members.get(cid, []):
            n = model.nodes[i]
            left, right = _MERMAID_SHAPES.get(n.kind, _MERMAID_SHAPES["worker"])
            lines.append(f"{inner}{ids[n.id]}{left}{_mermaid_text(n.label)}{right}")
        for sub in children.get(cid, []):
            emit(sub, inner)
        if cid:
            lines.append(f"{indent}end")

    emit("", "  ")
    if model.start is not None and model.start in ids:
        lines.append(f"  start_(( )) --> {ids[model.start]}")
    for e in model.edges:
        text = "\n".join(p for p in (e.label, ", ".join(e.types)) if p)
        if e.kind == "fan_in" and e.target.endswith("::join"):
            text = ""
        arrow = "-.->" if e.kind in ("conditional", "switch", "child") else "-->"
        if e.kind == "fan_out":
            arrow = "==>"
        label = f'|"{_mermaid_text(text)}"|' if text else ""
        lines.append(f"  {ids[e.source]} {arrow}{label} {ids[e.target]}")
    return "\n".join(lines)
