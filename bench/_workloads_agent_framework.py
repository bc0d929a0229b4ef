"""The workloads on Microsoft Agent Framework (``agent-framework-core``), function executors.

The parent process sets ``ENABLE_INSTRUMENTATION=false`` before this is imported
(OpenTelemetry spans off, as they are off in agentic_nb).
"""

from __future__ import annotations

import os
from importlib import metadata
from typing import Any, Never

os.environ.setdefault("ENABLE_INSTRUMENTATION", "false")

from _workloads_common import Case, Sizes, expected_chain, expected_fanout
from agent_framework import (
    InMemoryCheckpointStorage,
    WorkflowBuilder,
    WorkflowContext,
    executor,
)

FRAMEWORK = "agent_framework"


def version() -> str:
    return metadata.version("agent-framework-core")


def _adder(eid: str, add: int) -> Any:
    @executor(id=eid)
    async def step(x: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(x + add)

    return step


def _last(eid: str) -> Any:
    @executor(id=eid)
    async def last(x: int, ctx: WorkflowContext[Never, int]) -> None:
        await ctx.yield_output(x + 1)

    return last


def _chain(sizes: Sizes, storage: Any = None) -> Any:
    n = sizes.chain
    steps = [_adder(f"e{i}", 1) for i in range(n - 1)] + [_last(f"e{n - 1}")]
    builder = WorkflowBuilder(
        name="chain", start_executor=steps[0], max_iterations=n + 10, checkpoint_storage=storage
    )
    return builder.add_chain(steps).build()


def _fanout(sizes: Sizes) -> Any:
    src = _adder("src", 1)
    workers = [_adder(f"w{i}", i) for i in range(sizes.width)]

    @executor(id="join")
    async def join(values: list[int], ctx: WorkflowContext[Never, int]) -> None:
        await ctx.yield_output(sum(values))

    return (
        WorkflowBuilder(name="fanout", start_executor=src, max_iterations=10)
        .add_fan_out_edges(src, workers)
        .add_fan_in_edges(workers, join)
        .build()
    )


def _check_output(expected: int) -> Any:
    async def check(result: Any) -> str | None:
        outputs = result.get_outputs()
        if outputs != [expected]:
            return f"expected outputs [{expected}], got {outputs!r}"
        return None

    return check


def make_case(workload: str, sizes: Sizes) -> Case | str:
    if workload == "chain":
        wf = _chain(sizes)
        return Case(lambda: wf.run(0), _check_output(expected_chain(sizes)))
    if workload == "fanout":
        wf = _fanout(sizes)
        return Case(lambda: wf.run(0), _check_output(expected_fanout(sizes)))
    if workload == "checkpoint":
        storage = InMemoryCheckpointStorage()
        wf = _chain(sizes, storage)
        check_output = _check_output(expected_chain(sizes))

        async def check(result: Any) -> str | None:
            problem = await check_output(result)
            if problem is not None:
                return problem
            saved = len(await storage.list_checkpoints(workflow_name=wf.name))
            if saved < sizes.chain:
                return f"expected >= {sizes.chain} checkpoints in storage, got {saved}"
            return None

        return Case(lambda: wf.run(0), check, "InMemoryCheckpointStorage")
    raise ValueError(f"unknown workload {workload!r}")
