"""Edge semantics: direct, conditional, switch-case, fan-out (with selection), chains, target=."""

from __future__ import annotations

from typing import Any

import pytest

from agentic_nb import Case, Default, WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import (
    MessageSent,
    RoutingError,
    WorkflowBuilderWarning,
)

from ._util import invoked, supersteps_of, undelivered


def sink(id: str) -> Any:
    """An executor that outputs ``(id, message)`` for every int it receives."""

    @executor(id=id)
    async def _sink(n: int, ctx: WorkflowContext[None, tuple[str, int]]) -> None:
        await ctx.yield_output((id, n))

    return _sink


def emitter(id: str, *values: int) -> Any:
    """An executor that sends each of ``values`` (or its input when none) on its edges."""

    @executor(id=id)
    async def _emit(n: int, ctx: WorkflowContext[int]) -> None:
        for v in values or (n,):
            await ctx.send_message(v)

    return _emit


# ------------------------------------------------------------------- direct


async def test_direct_edge_delivers_in_the_next_superstep() -> None:
    a, b = emitter("a"), sink("b")
    wf = WorkflowBuilder(start=a).add_edge(a, b).build()
    result = await wf.run(7)
    assert result.status == "completed"
    assert result.outputs == [("b", 7)]
    assert supersteps_of(result, "a") == [0]
    assert supersteps_of(result, "b") == [1]
    sent = result.events.of_type(MessageSent)
    assert [(m.source_id, m.target_id, m.payload, m.superstep) for m in sent] == [("a", "b", 7, 0)]


async def test_edges_accept_ids_or_executor_objects() -> None:
    a, b, c = emitter("a"), sink("b"), sink("c")
    wf = (
        WorkflowBuilder(start="a")
        .add_executor(a)
        .add_executor(b)
        .add_executor(c)
        .add_edge("a", "b")
        .add_edge(a, c)
        .build()
    )
    assert sorted((await wf.run(1)).outputs) == [("b", 1), ("c", 1)]


async def test_each_message_is_delivered_once_per_edge_in_emission_order() -> None:
    a, b = emitter("a", 1, 2, 3), sink("b")
    result = await WorkflowBuilder(start=a).add_edge(a, b).build().run(0)
    assert result.outputs == [("b", 1), ("b", 2), ("b", 3)]
    assert len(invoked(result, "b")) == 3


# -------------------------------------------------------------- conditional


async def test_conditional_edge_carries_only_matching_messages_and_keeps_its_label() -> None:
    a, big, small = emitter("a", 1, 50, 2, 99), sink("big"), sink("small")
    wf = (
        WorkflowBuilder(start=a)
        .add_edge(a, big, condition=lambda n: n > 10, label="n > 10")
        .add_edge(a, small, condition=lambda n: n <= 10, label="n <= 10")
        .build()
    )
    result = await wf.run(0)
    assert sorted(result.outputs) == [("big", 50), ("big", 99), ("small", 1), ("small", 2)]
    labels = {e.targets[0]: e.label for e in wf.edges}
    assert labels == {"big": "n > 10", "small": "n <= 10"}
    assert all(e.kind == "conditional" for e in wf.edges)
    assert not undelivered(result)


async def test_conditional_edge_that_declines_reports_a_filtered_message() -> None:
    a, b = emitter("a"), sink("b")
    wf = WorkflowBuilder(start=a).add_edge(a, b, condition=lambda n: n > 0).build()
    result = await wf.run(-5)
    assert result.outputs == []
    [ev] = undelivered(result)
    assert ev.reason == "filtered"
    assert ev.source_id == "a" and ev.payload_type == "int" and ev.candidates == ["b"]


async def test_conditional_edge_without_label_gets_a_readable_one() -> None:
    a, b = emitter("a"), sink("b")

    def is_positive(n: int) -> bool:
        return n > 0

    wf = WorkflowBuilder(start=a).add_edge(a, b, condition=is_positive).build()
    assert wf.edges[0].label == "is_positive"


# ------------------------------------------------------------------- switch


def _switch_workflow(with_default: bool = True) -> Any:
    a = emitter("a")
    neg, small, other = sink("neg"), sink("small"), sink("other")
    cases: list[Any] = [
        Case(lambda n: n < 0, neg, label="negative"),
        Case(lambda n: n < 10, small, label="small"),  # also true for negatives: first wins
    ]
    if with_default:
        cases.append(Default(other))
    return WorkflowBuilder(start=a).add_switch(a, cases)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-3, ("neg", -3)), (4, ("small", 4)), (42, ("other", 42))],
)
async def test_switch_first_matching_case_wins_else_default(value: int, expected: Any) -> None:
    result = await _switch_workflow().build().run(value)
    assert result.outputs == [expected]
    assert len(result.events.of_type(MessageSent)) == 1
    assert not undelivered(result)


async def test_switch_edge_describes_its_cases() -> None:
    wf = _switch_workflow().build()
    [edge] = wf.edges
    assert edge.kind == "switch"
    described = wf.describe()["edges"][0]
    assert described["cases"] == ["negative", "small", "default"]
    assert described["default"] == "other"


async def test_switch_without_default_warns_and_reports_unmatched_messages() -> None:
    with pytest.warns(WorkflowBuilderWarning, match="Default"):
        wf = _switch_workflow(with_default=False).build()
    assert any("'a'" in w for w in wf.warnings)
    result = await wf.run(42)
    assert result.outputs == []
    [ev] = undelivered(result)
    assert ev.reason == "filtered" and ev.source_id == "a"
    assert sorted(ev.candidates) == ["neg", "small"]
    # Matching messages still route normally.
    assert (await wf.run(-1)).outputs == [("neg", -1)]


def test_default_must_be_last_and_unique() -> None:
    a, b, c = emitter("a"), sink("b"), sink("c")
    from agentic_nb import WorkflowValidationError

    with pytest.raises(WorkflowValidationError) as err:
        WorkflowBuilder(start=a).add_switch(a, [Default(b), Case(lambda n: True, c)]).build()
    assert any("Default must be the last" in p for p in err.value.problems)


# ------------------------------------------------------------------ fan-out


async def test_fan_out_sends_each_message_to_every_target() -> None:
    a = emitter("a", 1, 2)
    ts = [sink("t1"), sink("t2"), sink("t3")]
    result = await WorkflowBuilder(start=a).add_fan_out(a, ts).build().run(0)
    assert sorted(result.outputs) == sorted((t, v) for t in ("t1", "t2", "t3") for v in (1, 2))
    assert {e.superstep for e in invoked(result) if e.executor_id != "a"} == {1}


async def test_fan_out_selection_picks_targets_per_message() -> None:
    a = emitter("a", 1, 2, 3, 4)
    calls: list[tuple[int, list[str]]] = []

    def even_odd(n: int, targets: list[str]) -> list[str]:
        calls.append((n, list(targets)))
        return ["even"] if n % 2 == 0 else ["odd"]

    wf = WorkflowBuilder(start=a).add_fan_out(a, [sink("even"), sink("odd")], even_odd).build()
    result = await wf.run(0)
    assert sorted(result.outputs) == [("even", 2), ("even", 4), ("odd", 1), ("odd", 3)]
    assert calls[0] == (1, ["even", "odd"])


async def test_fan_out_selection_returning_no_target_is_reported_not_dropped() -> None:
    a = emitter("a")
    wf = (
        WorkflowBuilder(start=a)
        .add_fan_out(a, [sink("x"), sink("y")], selection=lambda msg, targets: [])
        .build()
    )
    result = await wf.run(1)
    assert result.status == "completed"
    assert result.outputs == []
    assert invoked(result, "x") == [] and invoked(result, "y") == []
    [ev] = undelivered(result)
    assert ev.reason == "filtered"
    assert ev.source_id == "a" and sorted(ev.candidates) == ["x", "y"]


async def test_fan_out_selection_naming_an_unknown_target_fails_the_run_clearly() -> None:
    a = emitter("a")
    wf = (
        WorkflowBuilder(start=a)
        .add_fan_out(a, [sink("x"), sink("y")], selection=lambda msg, targets: ["zzz"])
        .build()
    )
    run = wf.start(1)
    raised: BaseException | None = None
    try:
        await run.until_idle()
    except RoutingError as exc:  # raising is acceptable; the run must still end "failed"
        raised = exc
    assert run.status == "failed", f"status {run.status!r} after a broken selection"
    text = str(raised) if raised is not None else (run.error or "")
    assert "zzz" in text and "a" in text


async def test_a_raising_condition_fails_the_run_naming_the_edge() -> None:
    a, b = emitter("a"), sink("b")

    def explode(n: int) -> bool:
        raise KeyError("boom")

    wf = WorkflowBuilder(start=a).add_edge(a, b, condition=explode, label="explode").build()
    run = wf.start(1)
    raised: BaseException | None = None
    try:
        await run.until_idle()
    except RoutingError as exc:
        raised = exc
    assert run.status == "failed", f"status {run.status!r} after a raising condition"
    text = str(raised) if raised is not None else (run.error or "")
    assert "a->b" in text and "boom" in text


# -------------------------------------------------------------- chain, target


async def test_add_chain_links_consecutive_executors() -> None:
    @executor(id="inc1")
    async def inc1(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n + 1)

    @executor(id="inc2")
    async def inc2(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n + 10)

    wf = WorkflowBuilder(start=inc1).add_chain([inc1, inc2, sink("end")]).build()
    result = await wf.run(0)
    assert result.outputs == [("end", 11)]
    assert [e.kind for e in wf.edges] == ["direct", "direct"]
    assert [(e.sources, e.targets) for e in wf.edges] == [
        (("inc1",), ("inc2",)),
        (("inc2",), ("end",)),
    ]
    assert result.supersteps == 3


async def test_send_message_with_target_restricts_delivery() -> None:
    @executor(id="a")
    async def a(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n, target="y")

    wf = WorkflowBuilder(start=a).add_fan_out(a, [sink("x"), sink("y"), sink("z")]).build()
    result = await wf.run(5)
    assert result.outputs == [("y", 5)]


async def test_send_message_to_an_unconnected_target_fails_with_the_ids() -> None:
    @executor(id="a")
    async def a(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n, target="nowhere")

    wf = WorkflowBuilder(start=a).add_edge(a, sink("b")).build()
    result = await wf.run(5)
    assert result.status == "failed"
    assert result.error is not None
    assert "'a'" in result.error and "'nowhere'" in result.error
    assert result.outputs == []
