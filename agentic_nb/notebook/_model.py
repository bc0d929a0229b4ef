"""A drawing-neutral model of a workflow graph, shared by the DOT, Mermaid and networkx exports.

Nodes are executors (sub-workflow children get ids ``"parent/child"``, the same
paths their bubbled events carry); each edge group becomes one or more drawn
edges. A fan-in becomes a visible join node. The model is built from a finished
:class:`~agentic_nb.workflow.Workflow` or from a :class:`WorkflowBuilder` that is
still being assembled (unknown ids show up as *missing* nodes).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentic_nb.workflow import EdgeGroup, Executor, SwitchEdge
from agentic_nb.workflow.typing import could_flow, type_name


@dataclass
class NodeSpec:
    """One drawn node: an executor, a fan-in join, the start marker or a missing id."""

    id: str
    label: str
    kind: str  # worker | validator | orchestrator | join | start | missing
    cluster: str = ""  # id of the sub-workflow cluster it sits in ("" = top level)
    accepts: tuple[str, ...] = ()
    sends: tuple[str, ...] = ()
    is_start: bool = False
    is_executor: bool = True
    executor_class: str = ""


@dataclass
class EdgeSpec:
    """One drawn edge; ``group`` is the id of the engine edge group it belongs to."""

    source: str
    target: str
    group: str
    kind: str  # direct | conditional | switch | fan_out | fan_in | start | child
    label: str = ""
    condition: str = ""
    types: tuple[str, ...] = ()
    # For highlighting: the engine (edge id, target) pairs of MessageSent events drawn here.
    carries: tuple[tuple[str, str], ...] = ()


@dataclass
class ClusterSpec:
    """A sub-workflow drawn as a cluster around its executors."""

    id: str
    label: str
    parent: str = ""


@dataclass
class GraphModel:
    name: str
    nodes: list[NodeSpec] = field(default_factory=list)
    edges: list[EdgeSpec] = field(default_factory=list)
    clusters: list[ClusterSpec] = field(default_factory=list)
    start: str | None = None

    def executor_ids(self) -> list[str]:
        return [n.id for n in self.nodes if n.is_executor]


def _types(source: Executor | None, target: Executor | None) -> tuple[str, ...]:
    if source is None:
        return ()
    sent = source.message_types
    if not sent:
        return ()
    if target is not None and target.input_types:
        flowing = [m for m in sent if any(could_flow(m, a) for a in target.input_types)]
        if flowing:
            sent = tuple(flowing)
    names = tuple(dict.fromkeys(type_name(m) for m in sent))
    concrete = tuple(n for n in names if n not in ("Any", "object"))
    return concrete or names


_models: weakref.WeakKeyDictionary[Any, GraphModel] = weakref.WeakKeyDictionary()


def model_from_workflow(wf: Any) -> GraphModel:
    """Model of a built :class:`Workflow` (sub-workflows expanded as clusters).

    A workflow is immutable, so its model is computed once and cached.
    """
    model = _models.get(wf)
    if model is None:
        model = GraphModel(name=wf.name, start=wf.start_executor_id)
        _add_graph(
            model, wf.name, wf.executors, wf.edges, wf.start_executor_id, prefix="", cluster=""
        )
        _models[wf] = model
    return model


def model_from_builder(builder: Any) -> GraphModel:
    """Model of a :class:`WorkflowBuilder` as it stands (it may not validate yet)."""
    model = GraphModel(name=builder.name, start=builder._start)
    _add_graph(
        model,
        builder.name,
        list(builder._executors.values()),
        list(builder._edges),
        builder._start,
        prefix="",
        cluster="",
    )
    return model


def _add_graph(
    model: GraphModel,
    name: str,
    executors: Iterable[Executor],
    edges: Iterable[EdgeGroup],
    start: str | None,
    *,
    prefix: str,
    cluster: str,
) -> None:
    by_id: dict[str, Executor] = {}
    for ex in executors:
        by_id[ex.id] = ex
        nid = prefix + ex.id
        model.nodes.append(
            NodeSpec(
                id=nid,
                label=ex.id,
                kind=ex.kind.value,
                cluster=cluster,
                accepts=tuple(h.input_name for h in ex.handlers),
                sends=tuple(dict.fromkeys(type_name(t) for t in ex.message_types)),
                is_start=(ex.id == start),
                executor_class=type(ex).__qualname__,
            )
        )
        child = getattr(ex, "workflow", None)
        if child is not None and hasattr(child, "executors"):
            cid = nid
            model.clusters.append(
                ClusterSpec(id=cid, label=f"sub-workflow {child.name!r}", parent=cluster)
            )
            model.nodes[-1].cluster = cid
            _add_graph(
                model,
                child.name,
                child.executors,
                child.edges,
                child.start_executor_id,
                prefix=nid + "/",
                cluster=cid,
            )
            model.edges.append(
                EdgeSpec(nid, f"{nid}/{child.start_executor_id}", "", "child", label="input")
            )
    known = set(by_id)

    def ref(xid: str) -> str:
        nid = prefix + xid
        if xid not in known:
            model.nodes.append(
                NodeSpec(id=nid, label=xid, kind="missing", cluster=cluster, is_executor=False)
            )
            known.add(xid)
        return nid

    for e in edges:
        _add_edge_group(model, e, by_id, ref, prefix, cluster)


def _add_edge_group(
    model: GraphModel,
    e: EdgeGroup,
    by_id: Mapping[str, Executor],
    ref: Any,
    prefix: str,
    cluster: str,
) -> None:
    gid = prefix + e.id if prefix else e.id
    if e.kind == "fan_in":
        target = e.targets[0]
        join = f"{gid}::join"
        model.nodes.append(
            NodeSpec(id=join, label="join", kind="join", cluster=cluster, is_executor=False)
        )
        for s in e.sources:
            model.edges.append(
                EdgeSpec(
                    ref(s),
                    join,
                    gid,
                    "fan_in",
                    types=_types(by_id.get(s), None),
                    carries=((gid, prefix + target),),
                )
            )
        model.edges.append(
            EdgeSpec(
                join,
                ref(target),
                gid,
                "fan_in",
                label="list",
                types=("list",),
                carries=((gid, "join:" + prefix + target),),
            )
        )
        return
    source = e.sources[0]
    src_ex = by_id.get(source)
    if isinstance(e, SwitchEdge):
        labels: dict[str, list[str]] = {}
        for case, lab in zip(e.cases, e.case_labels):
            labels.setdefault(case.target, []).append(lab)
        if e.default is not None:
            labels.setdefault(e.default, []).append(
                e.case_labels[-1] if e.case_labels else "default"
            )
        for t in e.targets:
            lab = " | ".join(labels.get(t, []))
            model.edges.append(
                EdgeSpec(
                    ref(source),
                    ref(t),
                    gid,
                    "switch",
                    label=lab,
                    condition=lab,
                    types=_types(src_ex, by_id.get(t)),
                    carries=((gid, prefix + t),),
                )
            )
        return
    for t in e.targets:
        label = e.label or ""
        if e.kind == "fan_out":
            label = f"fan-out: {label}" if label else "fan-out"
        model.edges.append(
            EdgeSpec(
                ref(source),
                ref(t),
                gid,
                e.kind,
                label=label,
                condition=e.label or "" if e.kind == "conditional" else "",
                types=_types(src_ex, by_id.get(t)),
                carries=((gid, prefix + t),),
            )
        )
