"""GraphView (anywidget), headless: layout, node panel, scrubber, collapse, live updates."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.notebook._layout import workflow_layout
from agentic_nb.widgets import GraphView, live_run
from agentic_nb.workflow import InMemoryCheckpointStorage

from .flows import chain, flaky_workflow, routing_workflow

JS = Path(str(resources.files("agentic_nb.widgets") / "graphview.js"))


def fan_out(n: int) -> object:
    @executor(id="src")
    def src(x: int, ctx: WorkflowContext[int]) -> None:
        ctx.send_message(x)

    targets = []
    for i in range(n):

        def t(x: int, ctx: WorkflowContext[None, int]) -> None:
            ctx.yield_output(x)

        targets.append(executor(id=f"t{i}")(t))
    return WorkflowBuilder(name=f"fan{n}", start=src).add_fan_out(src, targets).build()


def test_the_javascript_ships_in_the_package_and_loads_nothing_from_the_network() -> None:
    js = JS
    assert js.is_file() and js.parent.name == "widgets"
    assert str(GraphView._esm) == js.read_text()  # what anywidget sends is the shipped file
    text = js.read_text()
    assert "export default" in text
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text and "import " not in text.split("export default")[0]


def test_a_wide_fan_out_is_laid_out_left_to_right_and_stays_narrow() -> None:
    """The 200-wide fan-out was a 28,511 px wide SVG: now it grows downwards."""
    lay = workflow_layout(fan_out(200))
    assert lay["rankdir"] == "LR"
    assert lay["width"] < 600, lay["width"]
    assert len([n for n in lay["nodes"] if n.get("exec")]) == 201
    assert len(json.dumps(lay)) < 120_000  # sent once, positions only


def test_a_chain_is_laid_out_top_to_bottom() -> None:
    lay = workflow_layout(chain(12))
    assert lay["rankdir"] == "TB"
    ys = [n["y"] for n in lay["nodes"] if n.get("exec")]
    assert ys == sorted(ys)


async def test_states_follow_a_run_and_an_update_is_small() -> None:
    wf = chain(30)
    run = wf.start(0)
    view = GraphView(run, interval=0.01)
    assert view.states_by_id()["s0"] == "pending"
    await run.step()
    await view.wait()
    assert view.states_by_id()["s0"] == "done" and view.states_by_id()["s1"] == "pending"
    await run.until_idle()
    await view.wait()
    assert set(view.states_by_id().values()) == {"done"}
    assert view.last_step == run.superstep and view.status == "completed"
    assert len(view.states) == len(view.graph["nodes"])  # one letter per drawn node
    assert len(view.states.encode()) < 100


async def test_selected_opens_the_panel_with_inputs_outputs_errors_and_attempts() -> None:
    run = flaky_workflow().start(7)
    await run.until_idle()
    view = GraphView(run)
    view.selected = "flaky"
    d = view.detail
    assert d["id"] == "flaky" and d["state"] == "done"
    assert d["attempts"] == 2 and d["invocations"] == 2
    assert d["errors"] == [[1, "ValueError: first try fails (retried)"]]
    assert d["outputs"] == [["broken", "7"]]
    view.selected = "broken"
    d = view.detail
    assert d["state"] == "failed" and d["inputs"] == [["flaky", "7"]]
    assert "RuntimeError: cannot handle 7" in d["errors"][0][1]
    view.selected = None
    assert view.detail == {}
    with pytest.raises(ValueError, match="no executor 'nope'"):
        view.selected = "nope"
    assert view.selected is None


async def test_the_scrubber_shows_a_past_superstep_with_its_queue_and_state() -> None:
    storage = InMemoryCheckpointStorage()
    wf = routing_workflow()
    run = wf.start(3, checkpoint_storage=storage)
    await run.until_idle()
    view = GraphView(run)
    final = view.states_by_id()
    final_hot = list(view.hot)
    assert final["total"] == "done" and final["neg"] == "skipped"
    view.step = 1  # superstep 1: pos ran, the fan-out has sent to a and b
    past = view.states_by_id()
    assert past["start"] == "done" and past["pos"] == "done"
    assert past["a"] == past["b"] == past["total"] == "pending"
    assert view.hot != final_hot and view.hot
    assert sorted(r[0] for r in view.snapshot["queued"]) == ["a", "b"]
    assert view._checkpoint_task is not None
    await view._checkpoint_task  # the shared state of superstep 1 comes from its checkpoint
    assert view.snapshot["state"] == [], view.snapshot  # routing sets no state: empty, read
    view.step = -1
    assert view.states_by_id() == final and view.hot == final_hot


def counting_loop() -> object:
    @executor(id="count")
    def count(n: int, ctx: WorkflowContext[int, int]) -> None:
        ctx.set_state("n", n)
        if n < 3:
            ctx.send_message(n + 1)
        else:
            ctx.yield_output(n)

    return WorkflowBuilder(name="loop", start=count).add_edge(count, count).build()


async def test_the_shared_state_of_a_past_superstep_is_read_from_its_checkpoint() -> None:
    run = counting_loop().start(0, checkpoint_storage=InMemoryCheckpointStorage())
    await run.until_idle()
    view = GraphView(run)  # created after the run: nothing recorded live
    view.step = 1
    assert view.snapshot["state_note"] == "reading the checkpoint…"
    await view._checkpoint_task
    assert view.snapshot["state"] == [["n", "1"]]
    assert view.snapshot["queued"] == [["count", "count", view.snapshot["queued"][0][2], "2"]]


async def test_shared_state_at_each_superstep_is_recorded_while_watching() -> None:
    run = counting_loop().start(0)
    view = GraphView(run, interval=0.001)
    while run.can_progress():
        await run.step()
        view.refresh()
    view.step = 2
    assert ["n", "2"] in view.snapshot["state"]


def test_a_sub_workflow_collapses_to_one_node_and_expands_again() -> None:
    view = GraphView(routing_workflow())
    ids = [n["id"] for n in view.graph["nodes"]]
    assert "sub/inc" in ids and [c["id"] for c in view.graph["clusters"]] == ["sub"]
    view.collapsed = ["sub"]
    ids = [n["id"] for n in view.graph["nodes"]]
    assert "sub/inc" not in ids and "sub" in ids and view.graph["clusters"] == []
    assert len(view.states) == len(ids)
    view.collapsed = []
    assert "sub/inc" in [n["id"] for n in view.graph["nodes"]]


def test_conditional_and_switch_edges_are_told_apart() -> None:
    kinds = {e["kind"] for e in GraphView(routing_workflow()).graph["edges"]}
    assert {"switch", "conditional", "fan_out", "fan_in"} <= kinds
    js = JS.read_text()
    assert "switch: {" in js and "conditional: {" in js


def test_bad_input_says_what_to_pass() -> None:
    with pytest.raises(TypeError, match="GraphView takes a Workflow, a Run or a RemoteRun"):
        GraphView("not a workflow")


async def test_the_live_widget_embeds_the_graph_view() -> None:
    live = live_run(chain(3).start(0))
    await live.wait()
    assert isinstance(live.graph, GraphView)
    assert live.graph in live.widget.children
