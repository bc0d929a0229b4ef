"""WorkflowBuilder.build(): one WorkflowValidationError listing every problem with its ids."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from agentic_nb import (
    Case,
    Default,
    Executor,
    WorkflowBuilder,
    WorkflowContext,
    WorkflowValidationError,
    executor,
    handler,
)
from agentic_nb.workflow import WorkflowBuilderWarning


def sends_int(id: str) -> Any:
    @executor(id=id)
    async def _f(x: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(x)

    return _f


def takes_int(id: str) -> Any:
    @executor(id=id)
    async def _f(x: int, ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(x)

    return _f


def takes_str(id: str) -> Any:
    @executor(id=id)
    async def _f(x: str, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output(x)

    return _f


def problems_of(builder: WorkflowBuilder) -> list[str]:
    with pytest.raises(WorkflowValidationError) as err:
        builder.build()
    problems = err.value.problems
    assert problems, "a WorkflowValidationError must list its problems"
    # The message shows every problem too.
    for p in problems:
        assert p in str(err.value)
    return problems


def one_problem_with(problems: list[str], *needles: str) -> str:
    hits = [p for p in problems if all(n in p for n in needles)]
    assert hits, f"no problem mentions {needles}; problems: {problems}"
    return hits[0]


def test_valid_graph_builds_without_problems() -> None:
    a, b = sends_int("a"), takes_int("b")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wf = WorkflowBuilder(start=a).add_edge(a, b).build()
    assert [e.id for e in wf.executors] == ["a", "b"]
    assert wf.warnings == ()


def test_duplicate_executor_ids() -> None:
    a, other_a = sends_int("a"), takes_int("a")
    problems = problems_of(WorkflowBuilder(start=a).add_edge(a, other_a))
    one_problem_with(problems, "duplicate", "'a'")


def test_same_executor_object_used_twice_is_not_a_duplicate() -> None:
    a, b, c = sends_int("a"), takes_int("b"), takes_int("c")
    WorkflowBuilder(start=a).add_edge(a, b).add_edge("a", c).build()


def test_duplicate_identical_edge_is_rejected() -> None:
    a, b = sends_int("a"), takes_int("b")
    problems = problems_of(WorkflowBuilder(start=a).add_edge(a, b).add_edge("a", b))
    problem = one_problem_with(problems, "duplicate edge", "'a' -> 'b'", "twice")
    assert "add the edge once" in problem


def test_duplicate_edge_through_a_chain_is_rejected() -> None:
    a, b, c = sends_int("a"), sends_int("b"), takes_int("c")
    builder = WorkflowBuilder(start=a).add_chain([a, b, c]).add_edge(b, c)
    one_problem_with(problems_of(builder), "duplicate edge", "'b' -> 'c'")


def test_duplicate_conditional_edge_with_the_same_condition_is_rejected() -> None:
    a, b = sends_int("a"), takes_int("b")

    def positive(n: int) -> bool:
        return n > 0

    builder = WorkflowBuilder(start=a).add_edge(a, b, positive).add_edge(a, b, positive)
    one_problem_with(problems_of(builder), "duplicate conditional edge", "positive")


def test_parallel_edges_that_differ_are_allowed() -> None:
    a, b = sends_int("a"), takes_int("b")
    wf = (
        WorkflowBuilder(start=a)
        .add_edge(a, b, lambda n: n > 0)
        .add_edge(a, b, lambda n: n < 0)
        .build()
    )
    assert len(wf.edges) == 2
    assert wf.run_sync(5).outputs == [5]


def test_edge_to_unknown_executor() -> None:
    a = sends_int("a")
    problems = problems_of(WorkflowBuilder(start=a).add_edge(a, "ghost"))
    one_problem_with(problems, "unknown executor", "'ghost'")


def test_edge_from_unknown_executor() -> None:
    a, b = sends_int("a"), takes_int("b")
    problems = problems_of(WorkflowBuilder(start=a).add_edge(a, b).add_edge("phantom", b))
    one_problem_with(problems, "'phantom'")


def test_missing_start() -> None:
    a, b = sends_int("a"), takes_int("b")
    problems = problems_of(WorkflowBuilder().add_edge(a, b))
    one_problem_with(problems, "start")


def test_start_that_is_not_a_known_executor() -> None:
    a, b = sends_int("a"), takes_int("b")
    problems = problems_of(WorkflowBuilder(start="nope").add_edge(a, b))
    one_problem_with(problems, "start", "'nope'")


def test_unreachable_executors_are_named() -> None:
    a, b, c, d = sends_int("a"), takes_int("b"), sends_int("c"), takes_int("d")
    problems = problems_of(WorkflowBuilder(start=a).add_edge(a, b).add_edge(c, d))
    p = one_problem_with(problems, "unreachable", "'c'", "'d'")
    assert "'b'" not in p.split(":", 1)[1]


def test_type_incompatible_edge_when_both_sides_are_annotated() -> None:
    a, b = sends_int("a"), takes_str("b")
    problems = problems_of(WorkflowBuilder(start=a).add_edge(a, b))
    p = one_problem_with(problems, "'a'", "'b'")
    assert "int" in p and "str" in p


def test_type_check_is_skipped_when_a_side_is_not_annotated() -> None:
    @executor(id="a")
    async def a(x: int, ctx: WorkflowContext) -> None:  # sends undeclared types
        await ctx.send_message(str(x))

    @executor(id="b")
    async def b(x: object, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output(str(x))

    a2 = sends_int("a2")
    WorkflowBuilder(start=a).add_edge(a, takes_str("s")).build()
    WorkflowBuilder(start=a2).add_edge(a2, b).build()


def test_union_sender_compatible_with_one_member_is_accepted() -> None:
    @executor(id="a")
    async def a(x: int, ctx: WorkflowContext[int | str]) -> None:
        await ctx.send_message(x)

    WorkflowBuilder(start=a).add_edge(a, takes_str("b")).build()


def test_fan_in_target_type_is_checked_against_a_list_of_the_sent_type() -> None:
    start = sends_int("start")
    a, b = sends_int("a"), sends_int("b")

    @executor(id="join_ok")
    async def join_ok(items: list[int], ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(sum(items))

    WorkflowBuilder(start=start).add_fan_out(start, [a, b]).add_fan_in([a, b], join_ok).build()

    problems = problems_of(
        WorkflowBuilder(start=start).add_fan_out(start, [a, b]).add_fan_in([a, b], takes_int("j"))
    )
    one_problem_with(problems, "'j'", "list[int]")


def test_fan_in_with_one_source() -> None:
    a, b = sends_int("a"), takes_int("b")
    problems = problems_of(WorkflowBuilder(start=a).add_fan_in([a], b))
    one_problem_with(problems, "fan-in", "'b'", "'a'")


def test_executor_without_handlers() -> None:
    class Empty(Executor):
        pass

    a = sends_int("a")
    problems = problems_of(WorkflowBuilder(start=a).add_edge(a, Empty(id="empty")))
    one_problem_with(problems, "'empty'", "handler")


def test_switch_without_default_is_only_a_warning() -> None:
    a, b = sends_int("a"), takes_int("b")
    builder = WorkflowBuilder(start=a).add_switch(a, [Case(lambda x: x > 0, b)])
    with pytest.warns(WorkflowBuilderWarning) as rec:
        wf = builder.build()
    messages = [str(w.message) for w in rec]
    assert any("'a'" in m and "Default" in m for m in messages)
    assert len(wf.warnings) == 1 and "'a'" in wf.warnings[0]
    problems, warns = builder.validate()
    assert problems == [] and len(warns) == 1


def test_switch_with_default_has_no_warning() -> None:
    a, b, c = sends_int("a"), takes_int("b"), takes_int("c")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        WorkflowBuilder(start=a).add_switch(a, [Case(lambda x: x > 0, b), Default(c)]).build()


def test_every_problem_is_reported_in_one_error() -> None:
    class Empty(Executor):
        pass

    a = sends_int("a")
    dup = takes_int("a")
    s = takes_str("s")
    lonely_src, lonely_dst = sends_int("island"), takes_int("island_dst")
    builder = (
        WorkflowBuilder(name="broken", start=a)
        .add_edge(a, dup)  # duplicate id 'a'
        .add_edge(a, "ghost")  # unknown executor
        .add_edge(a, s)  # int -> str
        .add_fan_in([a], Empty(id="empty"))  # fan-in with one source + no handlers
        .add_edge(lonely_src, lonely_dst)  # unreachable
    )
    with pytest.raises(WorkflowValidationError) as err:
        builder.build()
    problems = err.value.problems
    one_problem_with(problems, "duplicate", "'a'")
    one_problem_with(problems, "'ghost'")
    one_problem_with(problems, "'s'", "str")
    one_problem_with(problems, "fan-in", "'empty'")
    one_problem_with(problems, "'empty'", "handler")
    one_problem_with(problems, "unreachable", "'island'", "'island_dst'")
    assert len(problems) >= 6
    assert "'broken'" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_validation_error_lists_problems_in_message() -> None:
    err = WorkflowValidationError(["one", "two"], "wf")
    assert err.problems == ["one", "two"]
    assert "one" in str(err) and "two" in str(err) and "2 problems" in str(err)


def test_handler_with_unresolvable_annotation_names_the_handler() -> None:
    with pytest.raises(TypeError, match="broken"):

        class Bad(Executor):
            @handler
            async def broken(self, x: NotDefinedAnywhere, ctx: WorkflowContext) -> None:  # type: ignore[name-defined]  # noqa: F821
                ...


def test_built_workflow_is_not_changed_by_later_builder_calls() -> None:
    a, b, c = sends_int("a"), takes_int("b"), takes_int("c")
    builder = WorkflowBuilder(start=a).add_edge(a, b)
    wf = builder.build()
    builder.add_edge(a, c)
    assert [e.id for e in wf.executors] == ["a", "b"]
    assert len(wf.edges) == 1
    assert wf.run_sync(1).outputs == [1]
