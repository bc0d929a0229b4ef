"""Executors: typed handler dispatch, kinds, function executors, sync handlers in threads."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from agentic_nb import (
    Executor,
    ExecutorKind,
    RetryPolicy,
    WorkflowBuilder,
    WorkflowContext,
    executor,
    handler,
)
from agentic_nb.workflow import Custom, FunctionExecutor, Log

from ._util import invoked


class Router(Executor):
    """Records which handler saw which message."""

    def __init__(self, id: str = "router") -> None:
        super().__init__(id)
        self.seen: list[tuple[str, Any]] = []

    @handler
    async def on_int(self, n: int, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output(f"int:{n}")

    @handler
    async def on_str(self, text: str, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output(f"str:{text}")

    @handler
    async def on_anything(self, msg: object, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output(f"object:{type(msg).__name__}")


async def test_handler_is_chosen_by_the_message_type() -> None:
    wf = WorkflowBuilder(start=Router()).build()
    assert (await wf.run(3)).outputs == ["int:3"]
    assert (await wf.run("x")).outputs == ["str:x"]
    # object accepts everything the more specific handlers do not.
    assert (await wf.run(2.5)).outputs == ["object:float"]
    assert (await wf.run([1])).outputs == ["object:list"]


async def test_any_annotation_accepts_every_message() -> None:
    @executor(id="anyone")
    async def anyone(msg: Any, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output(type(msg).__name__)

    wf = WorkflowBuilder(start=anyone).build()
    for value, name in [(1, "int"), ("a", "str"), (None, "NoneType"), ({"k": 1}, "dict")]:
        assert (await wf.run(value)).outputs == [name]


async def test_union_annotation_accepts_each_member_only() -> None:
    @executor(id="num")
    async def num(n: int | float, ctx: WorkflowContext[None, float]) -> None:
        await ctx.yield_output(float(n))

    wf = WorkflowBuilder(start=num).build()
    assert (await wf.run(2)).outputs == [2.0]
    assert (await wf.run(2.5)).outputs == [2.5]
    with pytest.raises(TypeError, match="num"):
        await wf.run("not a number")


def test_start_input_of_a_type_the_start_executor_rejects_is_a_clear_error() -> None:
    @executor(id="only_ints")
    def only_ints(n: int, ctx: WorkflowContext[None, int]) -> None:
        ctx.yield_output(n)

    wf = WorkflowBuilder(start=only_ints).build()
    with pytest.raises(TypeError) as err:
        wf.start("text")
    assert "only_ints" in str(err.value) and "int" in str(err.value) and "str" in str(err.value)


def test_executor_defaults_id_and_kind() -> None:
    class SpellChecker(Executor):
        @handler
        async def run(self, text: str, ctx: WorkflowContext[str]) -> None:
            await ctx.send_message(text)

    ex = SpellChecker()
    assert ex.id == "spell_checker"
    assert ex.kind is ExecutorKind.WORKER
    assert SpellChecker(id="x", kind=ExecutorKind.VALIDATOR).kind is ExecutorKind.VALIDATOR
    assert SpellChecker(kind="orchestrator").kind is ExecutorKind.ORCHESTRATOR
    assert {k.value for k in ExecutorKind} == {"worker", "validator", "orchestrator"}


def test_kind_declared_on_the_class() -> None:
    class Check(Executor):
        kind = ExecutorKind.VALIDATOR

        @handler
        async def run(self, n: int, ctx: WorkflowContext[int]) -> None:
            await ctx.send_message(n)

    assert Check().kind is ExecutorKind.VALIDATOR


def test_executor_decorator_forms() -> None:
    @executor
    def bare(x: int, ctx: WorkflowContext[None, int]) -> None:
        ctx.yield_output(x)

    @executor(id="named", kind=ExecutorKind.VALIDATOR, retry=RetryPolicy(max_attempts=2), timeout=3)
    async def with_args(x: int, ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(x)

    assert isinstance(bare, FunctionExecutor) and bare.id == "bare"
    assert with_args.id == "named"
    assert with_args.kind is ExecutorKind.VALIDATOR
    assert with_args.retry.max_attempts == 2
    assert with_args.timeout == 3
    assert WorkflowBuilder(start=bare).build().run_sync(5).outputs == [5]
    assert WorkflowBuilder(start=with_args).build().run_sync(6).outputs == [6]


def test_explicit_input_type_overrides_missing_annotations() -> None:
    def untyped(msg, ctx):  # type: ignore[no-untyped-def,unused-ignore]
        ctx.yield_output(msg * 2)

    ex = FunctionExecutor(untyped, "doubler", input=int)
    wf = WorkflowBuilder(start=ex).build()
    assert wf.run_sync(4).outputs == [8]
    with pytest.raises(TypeError):
        wf.start("four")


def test_invalid_executor_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="timeout"):

        @executor(timeout=0)
        def bad(x: int, ctx: WorkflowContext) -> None: ...

    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="backoff"):
        RetryPolicy(backoff=-1)
    with pytest.raises(ValueError):
        Router(id="")


def test_handler_without_message_parameter_is_rejected_with_its_name() -> None:
    with pytest.raises(TypeError, match="nothing"):

        class Broken(Executor):
            @handler
            def nothing(self) -> None: ...


def test_plain_function_given_to_builder_says_to_decorate_it() -> None:
    def plain(x: int, ctx: WorkflowContext) -> None: ...

    with pytest.raises(TypeError, match="@executor"):
        WorkflowBuilder(start=plain)


def test_subclass_inherits_and_overrides_handlers() -> None:
    class Base(Executor):
        @handler
        async def run(self, n: int, ctx: WorkflowContext[None, str]) -> None:
            await ctx.yield_output("base")

    class Child(Base):
        @handler
        async def run(self, n: int, ctx: WorkflowContext[None, str]) -> None:
            await ctx.yield_output("child")

        @handler
        async def text(self, s: str, ctx: WorkflowContext[None, str]) -> None:
            await ctx.yield_output("child-text")

    wf = WorkflowBuilder(start=Child()).build()
    assert wf.run_sync(1).outputs == ["child"]
    assert wf.run_sync("a").outputs == ["child-text"]
    assert len(Child().handlers) == 2


def test_sync_handlers_run_in_a_worker_thread_and_ctx_works_without_await() -> None:
    main_thread = threading.get_ident()
    threads: dict[str, int] = {}

    @executor(id="first")
    def first(text: str, ctx: WorkflowContext[str, str]) -> None:
        threads["first"] = threading.get_ident()
        ctx.set_state("seen", text)
        ctx.log("info", f"got {text}")
        ctx.add_event({"note": "custom"})
        ctx.yield_output(f"first:{text}")
        ctx.send_message(text.upper())

    class Second(Executor):
        @handler
        def run(self, text: str, ctx: WorkflowContext[None, str]) -> None:
            threads["second"] = threading.get_ident()
            ctx.yield_output(f"second:{text}:{ctx.get_state('seen')}")

    wf = WorkflowBuilder(start=first).add_edge(first, Second(id="second")).build()
    result = wf.run_sync("hi")
    assert result.status == "completed", result.error
    assert result.outputs == ["first:hi", "second:HI:hi"]
    assert result.state == {"seen": "hi"}
    assert threads["first"] != main_thread and threads["second"] != main_thread
    logs = result.events.of_type(Log)
    assert [(e.executor_id, e.level, e.message) for e in logs] == [("first", "info", "got hi")]
    customs = result.events.of_type(Custom)
    assert len(customs) == 1 and customs[0].data == {"note": "custom"}
    assert customs[0].executor_id == "first"


async def test_async_handlers_run_on_the_event_loop_thread() -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    @executor(id="on_loop")
    async def on_loop(x: int, ctx: WorkflowContext[None, int]) -> None:
        seen.append(threading.get_ident())
        await ctx.yield_output(x)

    await WorkflowBuilder(start=on_loop).build().run(1)
    assert seen == [loop_thread]


async def test_ctx_exposes_ids_and_superstep() -> None:
    seen: list[tuple[str, str, int, str | None]] = []

    @executor(id="a")
    async def a(x: int, ctx: WorkflowContext[int]) -> None:
        seen.append((ctx.executor_id, ctx.run_id, ctx.superstep, ctx.source_id))
        await ctx.send_message(x + 1)

    @executor(id="b")
    def b(x: int, ctx: WorkflowContext[None, int]) -> None:
        seen.append((ctx.executor_id, ctx.run_id, ctx.superstep, ctx.source_id))
        ctx.yield_output(x)

    result = await WorkflowBuilder(start=a).add_edge(a, b).build().run(1, run_id="r-42")
    assert result.run_id == "r-42"
    assert seen == [("a", "r-42", 0, None), ("b", "r-42", 1, "a")]
    assert [e.executor_id for e in invoked(result)] == ["a", "b"]
