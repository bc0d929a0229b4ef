"""Node positions of a workflow graph, computed once in Python by graphviz ``dot -Tjson``.

The interactive graph view draws SVG in the browser from this compact layout:
nodes (centre, size, kind), edges (one SVG path each, label position) and
sub-workflow clusters (boxes). The direction is chosen from the graph's shape:
a graph wider than it is deep (a big fan-out) is laid out left to right so it
grows downwards and stays readable at the cell's width; a deep one top to bottom.
Collapsed sub-workflows are laid out as their single executor node.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import weakref
from collections import deque
from dataclasses import replace
from typing import Any

from ._dot import edge_label, model_to_dot
from ._model import GraphModel, model_from_workflow

_DOT_INSTALL = (
    "the graphviz 'dot' program is not installed, so the graph cannot be laid out: "
    "apt-get install graphviz  (or  conda install graphviz)"
)


def choose_rankdir(model: GraphModel) -> str:
    """``"LR"`` when the widest rank has more nodes than there are ranks, else ``"TB"``.

    Example::

        >>> from agentic_nb.notebook._model import EdgeSpec, GraphModel, NodeSpec
        >>> wide = GraphModel("w", [NodeSpec("s", "s", "worker")]
        ...     + [NodeSpec(f"t{i}", "t", "worker") for i in range(5)],
        ...     [EdgeSpec("s", f"t{i}", "g", "fan_out") for i in range(5)], start="s")
        >>> choose_rankdir(wide)
        'LR'
    """
    succ: dict[str, list[str]] = {n.id: [] for n in model.nodes}
    for e in model.edges:
        succ.setdefault(e.source, []).append(e.target)
    depth: dict[str, int] = {}
    roots = [model.start] if model.start in succ else []
    roots += [n.id for n in model.nodes if n.id not in roots]
    for root in roots:  # BFS ranks from the start, then from anything not reached
        if root in depth:
            continue
        depth[root] = 0
        queue = deque([root])
        while queue:
            cur = queue.popleft()
            for nxt in succ.get(cur, ()):
                if nxt not in depth:
                    depth[nxt] = depth[cur] + 1
                    queue.append(nxt)
    if not depth:
        return "TB"
    per_rank: dict[int, int] = {}
    for d in depth.values():
        per_rank[d] = per_rank.get(d, 0) + 1
    return "LR" if max(per_rank.values()) > len(per_rank) else "TB"


def collapse(model: GraphModel, collapsed: frozenset[str]) -> GraphModel:
    """``model`` with every collapsed sub-workflow reduced to its own executor node."""
    if not collapsed:
        return model
    parent = {c.id: c.parent for c in model.clusters}

    def hidden_by(cluster: str) -> str | None:
        # The outermost collapsed cluster that contains ``cluster`` (itself included).
        found = None
        while cluster:
            if cluster in collapsed:
                found = cluster
            cluster = parent.get(cluster, "")
        return found

    nodes = []
    for n in model.nodes:
        top = hidden_by(n.cluster)
        if top is None:
            nodes.append(n)
        elif n.id == top:  # the WorkflowExecutor that owns the collapsed cluster
            nodes.append(replace(n, cluster=parent.get(top, ""), label=n.label + " ▸"))
    keep = {n.id for n in nodes}
    edges = [e for e in model.edges if e.source in keep and e.target in keep]
    clusters = [c for c in model.clusters if hidden_by(c.id) is None]
    return GraphModel(model.name, nodes, edges, clusters, model.start)


def _xy(text: str) -> tuple[float, float]:
    x, y = text.split(",")[:2]
    return float(x), float(y)


def _points(pos: str) -> tuple[list[tuple[float, float]], tuple[float, float] | None]:
    pts: list[tuple[float, float]] = []
    tip = None
    for tok in pos.split():
        if tok.startswith("e,"):
            x, y = tok[2:].split(",")
            tip = (float(x), float(y))
        elif tok.startswith("s,"):
            continue
        else:
            x, y = tok.split(",")[:2]
            pts.append((float(x), float(y)))
    return pts, tip


def layout_model(model: GraphModel, rankdir: str | None = None) -> dict[str, Any]:
    """The drawing data the browser needs: positions in points, y growing downwards.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def a(x: str, ctx: WorkflowContext[str]) -> None: ...
        >>> @executor
        ... def b(x: str, ctx: WorkflowContext[None, str]) -> None: ...
        >>> lay = layout_model(model_from_workflow(WorkflowBuilder(start=a).add_edge(a, b).build()))
        >>> [n["id"] for n in lay["nodes"]], lay["rankdir"]
        (['a', 'b', '__start__'], 'TB')
        >>> lay["nodes"][0]["y"] < lay["nodes"][1]["y"]   # a above b
        True
    """
    if shutil.which("dot") is None:
        from ._graph import GraphvizNotFoundError

        raise GraphvizNotFoundError(_DOT_INSTALL)
    rankdir = rankdir or choose_rankdir(model)
    source = model_to_dot(model, rankdir=rankdir)
    # dot names clusters cluster_1, cluster_2 … in the order model_to_dot emits them.
    order: list[str] = []
    children: dict[str, list[str]] = {}
    for c in model.clusters:
        children.setdefault(c.parent, []).append(c.id)

    def walk(cid: str) -> None:
        for sub in children.get(cid, []):
            order.append(sub)
            walk(sub)

    walk("")
    proc = subprocess.run(["dot", "-Tjson0"], input=source.encode(), capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"graphviz dot failed on the workflow graph: {proc.stderr.decode()}")
    data = json.loads(proc.stdout)
    x0, y0, x1, y1 = (float(v) for v in data["bb"].split(","))
    height = y1 - y0

    def flip(p: tuple[float, float]) -> list[float]:
        return [round(p[0] - x0, 1), round(y1 - p[1], 1)]

    index = {n.id: i for i, n in enumerate(model.nodes)}
    by_gvid: dict[int, str] = {}
    nodes: list[dict[str, Any]] = [{} for _ in model.nodes]
    clusters = []
    labels = {c.id: c.label for c in model.clusters}
    for obj in data.get("objects", []):
        name = obj.get("name", "")
        if name.startswith("cluster_") and "bb" in obj:
            k = int(name.split("_", 1)[1]) - 1
            cid = order[k] if k < len(order) else name
            bx0, by0, bx1, by1 = (float(v) for v in obj["bb"].split(","))
            tl, br = flip((bx0, by1)), flip((bx1, by0))
            clusters.append(
                {"id": cid, "label": labels.get(cid, cid), "x": tl[0], "y": tl[1],
                 "w": round(br[0] - tl[0], 1), "h": round(br[1] - tl[1], 1)}
            )  # fmt: skip
            continue
        if "pos" not in obj:
            continue
        by_gvid[obj["_gvid"]] = name
        x, y = flip(_xy(obj["pos"]))
        entry: dict[str, Any] = {
            "x": x,
            "y": y,
            "w": round(float(obj["width"]) * 72, 1),
            "h": round(float(obj["height"]) * 72, 1),
        }
        if name in index:
            n = model.nodes[index[name]]
            entry.update(id=n.id, label=n.label, kind=n.kind, cluster=n.cluster)
            if n.is_start:
                entry["start"] = True
            if n.is_executor:
                entry["exec"] = True
            hover = [f"{n.id} ({n.kind})"]
            if n.executor_class:
                hover.append(f"class {n.executor_class}")
            if n.accepts:
                hover.append("accepts " + ", ".join(n.accepts))
            if n.sends:
                hover.append("sends " + ", ".join(n.sends))
            entry["tip"] = "\n".join(hover)
            nodes[index[name]] = entry
        elif name == "__start__":
            entry.update(id="__start__", label="start", kind="start")
            nodes.append(entry)
    edges = []
    for obj in data.get("edges", []):
        eid = obj.get("id", "")
        pts, tip = _points(obj.get("pos", ""))
        if not pts:
            continue
        fp = [flip(p) for p in pts]
        d = f"M{fp[0][0]},{fp[0][1]}"
        for i in range(1, len(fp) - 2, 3):
            (ax, ay), (bx, by), (cx, cy) = fp[i], fp[i + 1], fp[i + 2]
            d += f"C{ax},{ay} {bx},{by} {cx},{cy}"
        edge: dict[str, Any] = {"d": d, "kind": "start", "label": ""}
        if tip is not None:
            edge["tip"] = flip(tip)
            edge["from"] = fp[-1]
        if eid.startswith("e") and eid[1:].isdigit():
            spec = model.edges[int(eid[1:])]
            edge.update(
                i=int(eid[1:]),
                kind=spec.kind,
                label=edge_label(spec),
                s=spec.source,
                t=spec.target,
            )
        if "lp" in obj:
            edge["lp"] = flip(_xy(obj["lp"]))
        edges.append(edge)
    return {
        "name": model.name,
        "rankdir": rankdir,
        "width": round(x1 - x0, 1),
        "height": round(height, 1),
        "nodes": [n for n in nodes if n],
        "edges": edges,
        "clusters": clusters,
    }


_layouts: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)


def workflow_layout(
    wf: Any, *, collapsed: frozenset[str] = frozenset(), rankdir: str | None = None
) -> dict[str, Any]:
    """The cached layout of a built workflow (``collapsed``: sub-workflow ids drawn closed)."""
    cache = _layouts.setdefault(wf, {})
    key = (collapsed, rankdir)
    lay = cache.get(key)
    if lay is None:
        lay = cache[key] = layout_model(collapse(model_from_workflow(wf), collapsed), rankdir)
    return lay
