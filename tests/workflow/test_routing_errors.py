"""Routing by type: a message travels only to targets that accept it; an undeliverable
message is an error event (never silently dropped), distinct from a filtered one."""

from __future__ import annotations

from typing import Any

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import MessageSent, MessageUndelivered

from ._util import invoked, undelivered


def takes(id: str, tp: Any) -> Any:
    @executor(id=id, input=tp)
    async def _take(msg: Any, ctx: WorkflowContext[None, Any]) -> None:
        await ctx.yield_output((id, msg))

    return _take


def sends(id: str, *values: Any) -> Any:
    """Sends ``values``; its context is unannotated so the builder cannot type-check it."""

    @executor(id=id)
    async def _send(msg: object, ctx: WorkflowContext) -> None:
        for v in values:
            await ctx.send_message(v)

    return _send


async def test_message_goes_only_to_targets_with_a_handler_for_its_type() -> None:
    a = sends("a", "text", 7, 2.5)
    wf = (
        WorkflowBuilder(start=a)
        .add_fan_out(a, [takes("s", str), takes("i", int), takes("any", object)])
        .build()
    )
    result = await wf.run(None)
    assert sorted(result.outputs, key=repr) == sorted(
        [("s", "text"), ("any", "text"), ("i", 7), ("any", 7), ("any", 2.5)], key=repr
    )
    assert undelivered(result) == []
    targets = {(m.payload, m.target_id) for m in result.events.of_type(MessageSent)}
    assert ("text", "i") not in targets and (7, "s") not in targets


async def test_separate_edges_route_by_type_without_errors() -> None:
    a = sends("a", "text", 7)
    wf = WorkflowBuilder(start=a).add_edge(a, takes("s", str)).add_edge(a, takes("i", int)).build()
    result = await wf.run(None)
    assert sorted(result.outputs, key=repr) == [("i", 7), ("s", "text")]
    assert undelivered(result) == []
    assert result.diagnostics == []


async def test_undeliverable_message_is_a_no_route_error_event_naming_everything() -> None:
    a = sends("a", 3.5)
    wf = WorkflowBuilder(start=a).add_edge(a, takes("s", str)).add_edge(a, takes("i", int)).build()
    result = await wf.run(None)
    assert invoked(result, "s") == [] and invoked(result, "i") == []
    [ev] = result.events.of_type(MessageUndelivered)
    assert ev.reason == "no_route"
    assert ev.source_id == "a" and ev.executor_id == "a"
    assert ev.payload_type == "float" and ev.payload == 3.5
    assert sorted(ev.candidates) == ["i", "s"]
    assert ev.superstep == 0
    # the detail and the result's diagnostics name sender, type and candidates
    for text in (ev.detail, *result.diagnostics):
        assert "'a'" in text and "float" in text
    [diag] = result.diagnostics
    assert "i" in diag and "s" in diag and "str" in diag and "int" in diag


async def test_message_from_an_executor_without_outgoing_edges_is_reported() -> None:
    a = sends("a", "lost")
    result = await WorkflowBuilder(start=a).build().run(None)
    [ev] = undelivered(result)
    assert ev.reason == "no_route" and ev.candidates == []
    assert ev.source_id == "a" and ev.payload_type == "str"
    [diag] = result.diagnostics
    assert "'a'" in diag and "yield_output" in diag


async def test_filtered_message_is_not_a_routing_error() -> None:
    a = sends("a", 1)
    wf = WorkflowBuilder(start=a).add_edge(a, takes("b", int), condition=lambda n: n > 5).build()
    result = await wf.run(None)
    [ev] = undelivered(result)
    assert ev.reason == "filtered"
    assert ev.candidates == ["b"] and ev.source_id == "a" and ev.payload_type == "int"
    assert undelivered(result, "no_route") == []
    assert result.status == "completed"


async def test_type_mismatch_after_a_passing_condition_is_no_route() -> None:
    a = sends("a", "x")
    wf = (
        WorkflowBuilder(start=a)
        .add_edge(a, takes("b", int), condition=lambda m: True, label="always")
        .build()
    )
    result = await wf.run(None)
    [ev] = undelivered(result)
    assert ev.reason == "no_route"
    assert ev.candidates == ["b"]


async def test_each_undeliverable_message_gets_its_own_event() -> None:
    a = sends("a", 1.0, "ok", 2.0)
    wf = WorkflowBuilder(start=a).add_edge(a, takes("s", str)).build()
    result = await wf.run(None)
    assert result.outputs == [("s", "ok")]
    assert [e.payload for e in undelivered(result, "no_route")] == [1.0, 2.0]
    assert len(result.diagnostics) == 2


async def test_fan_in_target_that_cannot_take_the_list_reports_no_route() -> None:
    @executor(id="start")
    async def start(msg: object, ctx: WorkflowContext) -> None:
        await ctx.send_message(1)

    a, b = sends("a", 1.5), sends("b", 2.5)

    @executor(id="join", input=list[str])
    async def join(items: Any, ctx: WorkflowContext[None, Any]) -> None:
        await ctx.yield_output(items)

    wf = WorkflowBuilder(start=start).add_fan_out(start, [a, b]).add_fan_in([a, b], join).build()
    result = await wf.run(None)
    assert result.outputs == []
    evs = undelivered(result, "no_route")
    assert {e.source_id for e in evs} == {"a", "b"}
    assert all(e.candidates == ["join"] for e in evs)
