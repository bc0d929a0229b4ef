"""Pictures of the graph: DOT conventions, SVG, run colours, exports, missing graphviz."""

from __future__ import annotations

import re
import sys
import time

import pytest

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb._optional import MissingDependencyError
from agentic_nb.notebook import (
    STATE_COLORS,
    GraphvizNotFoundError,
    workflow_to_dot,
    workflow_to_mermaid,
    workflow_to_networkx,
)
from agentic_nb.notebook._graph import builder_svg, run_svg, workflow_svg

from .flows import approval_workflow, chain, routing_workflow


def _node_line(dot: str, node: str) -> str:
    (line,) = [ln for ln in dot.splitlines() if ln.strip().startswith(f'"{node}" [')]
    return line


def _edge_line(dot: str, src: str, dst: str) -> str:
    (line,) = [ln for ln in dot.splitlines() if f'"{src}" -> "{dst}"' in ln]
    return line


def test_dot_draws_every_convention() -> None:
    dot = routing_workflow().to_dot()
    # start marked: double border plus an arrow from the start dot
    assert "peripheries=2" in _node_line(dot, "start")
    assert '"__start__" -> "start"' in dot
    # kinds by shape
    assert "shape=box" in _node_line(dot, "pos")
    assert "shape=hexagon" in _node_line(dot, "check")
    assert "shape=component" in _node_line(dot, "show")
    # switch: dotted purple with a diamond (a conditional is dashed: they must differ),
    # labelled with the case and the default, with the message type
    case = _edge_line(dot, "start", "pos")
    assert "style=dotted" in case and "arrowtail=odiamond" in case
    assert "style=dashed" not in case and 'label="n>0\\nint"' in case
    assert 'label="default\\nint"' in _edge_line(dot, "start", "neg")
    # conditional edge dashed with its label
    cond = _edge_line(dot, "check", "sub")
    assert "style=dashed" in cond and "n < -5" in cond and "odiamond" not in cond
    # fan-out bold; fan-in through a visible join node delivering a list
    assert "style=bold" in _edge_line(dot, "pos", "a")
    join = "fan_in[a|b]->total::join"
    assert "shape=invtriangle" in _node_line(dot, join)
    assert '"a" -> "fan_in[a|b]->total::join"' in dot
    assert 'label="list"' in _edge_line(dot, join, "total")
    # sub-workflow as a cluster holding its executors
    cluster = dot[dot.index("subgraph cluster_") :]
    cluster = cluster[: cluster.index("}")]
    assert "sub-workflow 'child'" in cluster and '"sub/inc"' in cluster


def test_run_dot_colours_states_and_highlights_last_edges() -> None:
    wf = routing_workflow()
    result_run = wf.start(-9)
    import asyncio

    asyncio.run(result_run.until_idle())
    dot = result_run.to_dot()
    done = STATE_COLORS["done"]
    for node in ("start", "neg", "check", "sub", "sub/inc", "show"):
        assert f'fillcolor="{done}"' in _node_line(dot, node), node
    for node in ("pos", "a", "b", "total"):
        line = _node_line(dot, node)
        assert f'fillcolor="{STATE_COLORS["skipped"]}"' in line and "dashed" in line
    # the last superstep that routed a message sent sub -> show
    assert "penwidth" in _edge_line(dot, "sub", "show")
    assert "penwidth" not in _edge_line(dot, "start", "neg")


def test_workflow_svg_and_mimebundles() -> None:
    wf = routing_workflow()
    svg = workflow_svg(wf)
    assert svg is not None and svg.startswith("<svg")
    assert svg.count('class="node"') >= 11
    bundle = wf._repr_mimebundle_()
    assert bundle["image/svg+xml"].startswith("<svg") and "routing" in bundle["text/plain"]
    run = wf.start(3)
    assert "image/svg+xml" in run._repr_mimebundle_()


def test_builder_draws_itself_while_incomplete() -> None:
    @executor(id="first")
    def first(x: str, ctx: WorkflowContext[str]) -> None: ...

    builder = WorkflowBuilder(name="wip", start=first).add_edge(first, "not_there_yet")
    svg = builder_svg(builder)
    assert svg is not None and "not_there_yet" in svg
    assert "#cc0000" in svg  # missing executors are drawn dashed red
    assert "image/svg+xml" in builder._repr_mimebundle_()


def _node_geometry(svg: str) -> dict[str, str]:
    out = {}
    for m in re.finditer(r'<g id="n\d+" class="node">\s*<title>(.*?)</title>(.*?)</g>', svg, re.S):
        shape = re.search(r'(points|d|cx)="[^"]*"', m.group(2))
        assert shape is not None
        out[m.group(1)] = shape.group(0)
    return out


async def test_node_positions_do_not_move_while_a_run_progresses() -> None:
    wf = routing_workflow()
    run = wf.start(4)
    pictures = [run_svg(run)]
    while run.can_progress():
        await run.step()
        pictures.append(run_svg(run))
    geometries = [_node_geometry(p or "") for p in pictures]
    assert len(geometries[0]) >= 10
    assert all(g == geometries[0] for g in geometries)
    fills = [re.findall(r'fill="(#[0-9a-f]{6})"', p or "") for p in pictures]
    assert fills[0] != fills[-1]  # the colours did change


def test_networkx_nodes_and_edges_carry_kind_labels_and_types() -> None:
    g = workflow_to_networkx(routing_workflow())
    assert g.nodes["check"]["kind"] == "validator"
    assert g.nodes["start"]["start"] is True
    assert g.nodes["sub/inc"]["cluster"] == "sub"
    (case,) = g.get_edge_data("start", "pos").values()
    assert case["edge_type"] == "switch" and case["label"] == "n>0" and case["types"] == ["int"]
    (fan_in,) = g.get_edge_data("a", "total").values()
    assert fan_in["edge_type"] == "fan_in" and fan_in["fan_in_sources"] == ["a", "b"]
    assert fan_in["types"] == ["list[int]"]
    (cond,) = g.get_edge_data("check", "sub").values()
    assert cond["edge_type"] == "conditional" and cond["condition"] == "n < -5"


def test_mermaid_text() -> None:
    text = workflow_to_mermaid(routing_workflow())
    assert text.startswith("flowchart TD")
    assert '{{"check"}}' in text  # validator hexagon
    assert 'subgraph n7_cluster["sub-workflow' in text or "subgraph" in text
    assert '-.->|"n>0<br/>int"|' in text
    assert "==>" in text  # fan-out


def test_missing_dot_program_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import agentic_nb.notebook._graph as graph_module

    monkeypatch.setattr(graph_module, "_warned", False)
    monkeypatch.setenv("PATH", "/nonexistent")
    wf = chain(2, name="no_dot")  # a fresh workflow: no cached layout
    with pytest.warns(RuntimeWarning, match="apt-get install graphviz"):
        with pytest.raises(GraphvizNotFoundError) as err:
            workflow_svg(wf)
    msg = str(err.value)
    assert "\n" not in msg and "conda install graphviz" in msg
    # the rich display falls back to text instead of raising
    bundle = chain(2, name="no_dot_2")._repr_mimebundle_()
    assert "image/svg+xml" not in bundle and "no_dot_2" in bundle["text/plain"]


def test_missing_graphviz_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "graphviz", None)
    with pytest.raises(MissingDependencyError, match=r"agentic-nb\[notebook\]"):
        workflow_svg(chain(2, name="no_pkg"))
    assert "digraph" in workflow_to_dot(chain(2, name="no_pkg_dot"))  # DOT text needs nothing


def test_200_executor_workflow_renders_under_a_second() -> None:
    wf = chain(200, name="big")
    t0 = time.perf_counter()
    svg = workflow_svg(wf)
    elapsed = time.perf_counter() - t0
    assert svg is not None and svg.count('class="node"') == 201
    assert elapsed < 1.0, f"200-executor render took {elapsed:.2f}s"


def test_waiting_executor_is_blue() -> None:
    import asyncio

    run = approval_workflow(bool).start("cats")
    asyncio.run(run.until_idle())
    assert run.status == "waiting"
    assert f'fillcolor="{STATE_COLORS["waiting"]}"' in _node_line(run.to_dot(), "review")


def test_the_join_label_fits_inside_its_triangle() -> None:
    import re

    from agentic_nb.notebook._dot import model_to_dot
    from agentic_nb.notebook._graph import render_svg
    from agentic_nb.notebook._model import model_from_workflow

    svg = render_svg(model_to_dot(model_from_workflow(routing_workflow())))
    node = re.search(r'<g id="n\d+" class="node">\s*<title>[^<]*::join</title>(.*?)</g>', svg, re.S)
    assert node is not None
    pts = [tuple(map(float, p.split(","))) for p in re.search(r'points="([^"]+)"', node.group(1))
           .group(1).split()]  # fmt: skip
    text = re.search(
        r'<text[^>]*x="([-\d.]+)" y="([-\d.]+)"[^>]*font-size="([\d.]+)"', node.group(1)
    )
    assert text is not None
    _x, ty, size = map(float, text.groups())
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    half = 0.3 * size * len("join")  # half the text width, roughly
    # the triangle's width at the text's height (it narrows linearly to the bottom tip)
    top, tip = min(ys), max(ys)
    width_at = (max(xs) - min(xs)) * (tip - ty) / (tip - top)
    assert width_at / 2 >= half, (width_at, half)
    assert top <= ty - size * 0.7


def test_timeline_has_a_legend() -> None:
    from agentic_nb.notebook import timeline_chart

    from .flows import flaky_workflow

    svg = timeline_chart(flaky_workflow().run_sync(1)).svg
    legend = svg[svg.index('<g class="legend">') :]
    for word in ("completed", "retried", "failed", "superstep boundary"):
        assert word in legend
