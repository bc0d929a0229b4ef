"""The workloads on agentic_nb (this repository), with events on (the default)."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from _workloads_common import Case, Sizes, expected_chain, expected_fanout

import agentic_nb.workflow as anw
from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import CheckpointSaved

FRAMEWORK = "agentic_nb"


def version() -> str:
    try:
        return metadata.version("agentic-nb")
    except metadata.PackageNotFoundError:
        return "source tree"


def _adder(eid: str, add: int) -> Any:
    @executor(id=eid)
    async def step(x: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(x + add)

    return step


def _last(eid: str) -> Any:
    @executor(id=eid)
    async def last(x: int, ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(x + 1)

    return last


def _chain(sizes: Sizes, storage: Any = None) -> Any:
    n = sizes.chain
    steps = [_adder(f"e{i}", 1) for i in range(n - 1)] + [_last(f"e{n - 1}")]
    builder = WorkflowBuilder(
        name="chain",
        start=steps[0],
        max_supersteps=n + 10,
        **({"checkpoint_storage": storage} if storage is not None else {}),
    )
    return builder.add_chain(steps).build()


def _fanout(sizes: Sizes) -> Any:
    src = _adder("src", 1)
    workers = [_adder(f"w{i}", i) for i in range(sizes.width)]

    @executor(id="join")
    async def join(values: list[int], ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(sum(values))

    return (
        WorkflowBuilder(name="fanout", start=src, max_supersteps=10)
        .add_fan_out(src, workers)
        .add_fan_in(workers, join)
        .build()
    )


def _check_output(expected: int, checkpoints_at_least: int = 0) -> Any:
    async def check(result: Any) -> str | None:
        if result.status != "completed" or result.outputs != [expected]:
            return (
                f"expected status 'completed' and outputs [{expected}], got "
                f"{result.status!r} {result.outputs!r} ({result.error})"
            )
        if not len(result.events):
            return "agentic_nb emitted no events: the benchmark must run with events on"
        saved = sum(1 for e in result.events if isinstance(e, CheckpointSaved))
        if saved < checkpoints_at_least:
            return f"expected >= {checkpoints_at_least} CheckpointSaved events, got {saved}"
        return None

    return check


def make_case(workload: str, sizes: Sizes) -> Case | str:
    if workload == "chain":
        wf = _chain(sizes)
        return Case(lambda: wf.run(0), _check_output(expected_chain(sizes)), "events on")
    if workload == "fanout":
        wf = _fanout(sizes)
        return Case(lambda: wf.run(0), _check_output(expected_fanout(sizes)), "events on")
    if workload == "checkpoint":
        storage_cls = getattr(anw, "InMemoryCheckpointStorage", None)
        if storage_cls is None:
            return "n/a (checkpoints not available)"
        storage = storage_cls()
        wf = _chain(sizes, storage)
        return Case(
            lambda: wf.run(0),
            _check_output(expected_chain(sizes), checkpoints_at_least=sizes.chain),
            "events on, InMemoryCheckpointStorage",
        )
    raise ValueError(f"unknown workload {workload!r}")
