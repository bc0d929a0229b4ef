"""Small workflows shared by the notebook-layer tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pydantic import BaseModel

from agentic_nb import (
    Case,
    Default,
    Executor,
    ExecutorKind,
    RetryPolicy,
    Workflow,
    WorkflowBuilder,
    WorkflowContext,
    executor,
    handler,
)
from agentic_nb.workflow import WorkflowExecutor


class Review(BaseModel):
    approved: bool
    reason: str = ""
    score: int = 0


@dataclass
class Decision:
    ok: bool
    comment: str = ""


def routing_workflow() -> Workflow:
    """Switch, fan-out, fan-in, a validator, a conditional edge and a sub-workflow."""

    @executor(id="start")
    def start(x: int, ctx: WorkflowContext[int]) -> None:
        ctx.send_message(x)

    @executor(id="pos")
    def pos(x: int, ctx: WorkflowContext[int]) -> None:
        ctx.send_message(x)

    @executor(id="neg")
    def neg(x: int, ctx: WorkflowContext[int]) -> None:
        ctx.send_message(x)

    @executor(id="a")
    def a(x: int, ctx: WorkflowContext[int]) -> None:
        ctx.send_message(x + 1)

    @executor(id="b")
    def b(x: int, ctx: WorkflowContext[int]) -> None:
        ctx.send_message(x + 2)

    @executor(id="total")
    def total(xs: list[int], ctx: WorkflowContext[None, int]) -> None:
        ctx.yield_output(sum(xs))

    @executor(id="inc")
    def inc(n: int, ctx: WorkflowContext[None, int]) -> None:
        ctx.yield_output(n + 1)

    class Check(Executor):
        kind = ExecutorKind.VALIDATOR

        @handler
        def run(self, n: int, ctx: WorkflowContext[int]) -> None:
            ctx.send_message(n)

    @executor(id="show", kind=ExecutorKind.ORCHESTRATOR)
    def show(n: int, ctx: WorkflowContext[None, int]) -> None:
        ctx.yield_output(n)

    child = WorkflowBuilder(name="child", start=inc).build()
    sub = WorkflowExecutor(child, id="sub")
    return (
        WorkflowBuilder(name="routing", start=start)
        .add_switch(start, [Case(lambda n: n > 0, pos, label="n>0"), Default(neg)])
        .add_fan_out(pos, [a, b])
        .add_fan_in([a, b], total)
        .add_edge(neg, Check(id="check"))
        .add_edge("check", sub, condition=lambda n: n < -5, label="n < -5")
        .add_edge(sub, show)
        .build()
    )


def chain(n: int, *, delay: float = 0.0, name: str = "chain", **builder_kw: object) -> Workflow:
    """``n`` executors in a row passing an int along; the last one yields it."""
    steps = []
    for i in range(n):
        last = i == n - 1

        async def step(x: int, ctx: WorkflowContext[int, int], _last: bool = last) -> None:
            if delay:
                await asyncio.sleep(delay)
            if _last:
                await ctx.yield_output(x + 1)
            else:
                await ctx.send_message(x + 1)

        steps.append(executor(id=f"s{i}")(step))
    b = WorkflowBuilder(name=name, start=steps[0], max_supersteps=n + 5, **builder_kw)  # type: ignore[arg-type]
    if n > 1:
        b.add_chain(steps)
    return b.build()


def approval_workflow(response_type: object = Review, **builder_kw: object) -> Workflow:
    """draft -> review, where review asks a human with ``request_info``."""

    @executor(id="draft")
    async def draft(topic: str, ctx: WorkflowContext[str]) -> None:
        await ctx.set_state("topic", topic)
        await ctx.send_message(f"A post about {topic}")

    @executor(id="review")
    async def review(text: str, ctx: WorkflowContext[None, str]) -> None:
        answer = await ctx.request_info(text, response_type=response_type)
        await ctx.yield_output(f"{text} -> {answer!r}")

    return (
        WorkflowBuilder(name="publish", start=draft, **builder_kw)  # type: ignore[arg-type]
        .add_edge(draft, review)
        .build()
    )


def flaky_workflow() -> Workflow:
    """One executor failing once then succeeding, one failing for good."""
    calls: list[int] = []

    @executor(id="flaky", retry=RetryPolicy(max_attempts=3))
    def flaky(x: int, ctx: WorkflowContext[int]) -> None:
        calls.append(x)
        if len(calls) == 1:
            raise ValueError("first try fails")
        ctx.send_message(x)

    @executor(id="broken")
    def broken(x: int, ctx: WorkflowContext[None, int]) -> None:
        raise RuntimeError(f"cannot handle {x}")

    return WorkflowBuilder(name="flaky", start=flaky).add_edge(flaky, broken).build()
