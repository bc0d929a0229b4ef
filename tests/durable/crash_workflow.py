"""A migration-like workflow for the crash tests, run as a separate process.

    python -m tests.durable.crash_workflow start|resume STORAGE RUN_ID SIDE_FILE [--hitl] [--sub]

STORAGE is ``file:<dir>`` or ``redis:<url>``. Every finished task appends one line
to SIDE_FILE (its side effect); ``resume`` answers pending approvals with True and
prints the outputs as JSON. With ``--sub`` the migration runs as a sub-workflow
(``WorkflowExecutor``) of a parent that collects its outputs: the child's approval
requests are answered on the parent.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import FileCheckpointStorage, Workflow, WorkflowExecutor

SERVICES = 12


def side_effect(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def storage_from(spec: str) -> Any:
    kind, _, where = spec.partition(":")
    if kind == "file":
        return FileCheckpointStorage(where)
    if kind == "redis":
        from agentic_nb.redis import RedisCheckpointStorage

        return RedisCheckpointStorage(where, prefix="crash")
    raise SystemExit(f"unknown storage {spec!r}")


def build(storage: Any, side: str, hitl: bool) -> Workflow:
    @executor(id="plan")
    async def plan(n: int, ctx: WorkflowContext[int]) -> None:
        for i in range(n):
            await ctx.send_message(i)

    @executor(id="migrate")
    async def migrate(i: int, ctx: WorkflowContext[int]) -> None:
        await asyncio.sleep(0.06)
        side_effect(side, f"migrate {i}")
        await ctx.send_message(i * 10)

    @executor(id="verify")
    async def verify(x: int, ctx: WorkflowContext[int, int]) -> None:
        await asyncio.sleep(0.04)
        side_effect(side, f"verify {x}")
        if hitl:
            await ctx.send_message(x)
        else:
            await ctx.yield_output(x)

    @executor(id="approve")
    async def approve(x: int, ctx: WorkflowContext[None, int]) -> None:
        ok = await ctx.request_info({"deploy": x}, response_type=bool)
        side_effect(side, f"approve {x}")
        await ctx.yield_output(x if ok else -x)

    b = WorkflowBuilder(name="migration", start=plan, checkpoint_storage=storage)
    b.add_chain([plan, migrate, verify])
    if hitl:
        b.add_edge(verify, approve)
    return b.build()


def build_parent(storage: Any, side: str, hitl: bool) -> Workflow:
    sub = WorkflowExecutor(build(None, side, hitl), id="migration")

    @executor(id="collect")
    async def collect(x: int, ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(x)

    return (
        WorkflowBuilder(name="parent", start=sub, checkpoint_storage=storage)
        .add_edge(sub, collect)
        .build()
    )


async def main(argv: list[str]) -> None:
    mode, spec, run_id, side = argv[:4]
    hitl = "--hitl" in argv
    wf = (build_parent if "--sub" in argv else build)(storage_from(spec), side, hitl)
    if mode == "start":
        result = await wf.run(SERVICES, run_id=run_id)
        print(json.dumps({"status": result.status}), flush=True)
        if result.status == "waiting":
            time.sleep(3600)  # a service waiting for its humans; the test kills it
        return
    run = await wf.resume(run_id)
    while run.pending_requests:
        for req in run.pending_requests:
            await run.respond(req.request_id, True, resume=False)
        await run.until_idle()
    result = await run.until_idle()
    print(json.dumps({"status": result.status, "outputs": result.outputs}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
