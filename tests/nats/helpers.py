"""Small workflows shared by the NATS tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import Workflow
from agentic_nb.workflow.codec import register_checkpoint_type


def chain(n: int, *, delay: float = 0.0, prefix: str = "step") -> Workflow:
    """``n`` executors in a line; each adds one; the last yields the number."""

    def make(i: int, last: bool) -> Any:
        async def handle(x: int, ctx: WorkflowContext[int, int]) -> None:
            if delay:
                await asyncio.sleep(delay)
            if last:
                await ctx.yield_output(x + 1)
            else:
                await ctx.send_message(x + 1)

        return executor(id=f"{prefix}{i}")(handle)

    execs = [make(i, i == n - 1) for i in range(n)]
    b = WorkflowBuilder(name=f"chain{n}", start=execs[0], max_supersteps=n + 5)
    if n > 1:
        b.add_chain(execs)
    return b.build()


def approval_workflow() -> Workflow:
    @executor(id="ask")
    async def ask(q: str, ctx: WorkflowContext[str]) -> None:
        ok = await ctx.request_info({"question": q}, response_type=bool)
        await ctx.send_message("approved" if ok else "rejected")

    @executor(id="finish")
    async def finish(verdict: str, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output(verdict)

    return WorkflowBuilder(name="approval", start=ask).add_edge(ask, finish).build()


async def stream_count(js: Any, run_id: str) -> int:
    from agentic_nb.nats._streams import EVENTS_STREAM
    from agentic_nb.nats._subjects import run_filter

    info = await js.stream_info(EVENTS_STREAM, subjects_filter=run_filter(run_id))
    return sum((info.state.subjects or {}).values())


def sibling_approval_workflow(delay: float = 0.3) -> Workflow:
    """``start`` fans out to ``ask`` (asks a bool) and ``slow`` (sleeps ``delay``)."""

    @executor(id="start")
    async def start(x: str, ctx: WorkflowContext[str]) -> None:
        await ctx.send_message(x)

    @executor(id="ask")
    async def ask(q: str, ctx: WorkflowContext[str]) -> None:
        ok = await ctx.request_info({"question": q}, response_type=bool)
        await ctx.send_message("yes" if ok else "no")

    @executor(id="slow")
    async def slow(q: str, ctx: WorkflowContext[str]) -> None:
        await asyncio.sleep(delay)
        await ctx.send_message("slow done")

    @executor(id="end")
    async def end(words: list[str], ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output("+".join(sorted(words)))

    return (
        WorkflowBuilder(name="siblings", start=start)
        .add_fan_out(start, [ask, slow])
        .add_fan_in([ask, slow], end)
        .build()
    )


def parent_of(child: Workflow) -> Workflow:
    """``sub`` (a WorkflowExecutor running ``child``) then ``fin`` (yields ``parent:<x>``)."""
    from agentic_nb.workflow import WorkflowExecutor

    sub = WorkflowExecutor(child, id="sub")

    @executor(id="fin")
    async def fin(x: str, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output("parent:" + x)

    return WorkflowBuilder(name="parent", start=sub).add_edge(sub, fin).build()


@register_checkpoint_type
@dataclass
class Decision:
    """A structured answer (a typed form on local and remote cards alike)."""

    approved: bool
    note: str = ""
    budget: int = 0


def ask_workflow(response_type: Any) -> Workflow:
    """One executor asking for ``response_type``, yielding the answer."""

    @executor(id="ask")
    async def ask(q: str, ctx: WorkflowContext[None, Any]) -> None:
        value = await ctx.request_info({"question": q}, response_type=response_type)
        await ctx.yield_output(value)

    return WorkflowBuilder(name="ask", start=ask).build()
