"""The bare-asyncio floor: the same work with no framework at all.

A hand-written superstep loop: while one coroutine is ready it is awaited
directly; several ready coroutines are awaited with ``asyncio.gather``. No
events, no type routing, no validation: what is left is the cost of creating
and awaiting the coroutines, which no engine can go below.
"""

from __future__ import annotations

import asyncio
import platform
from collections.abc import Awaitable, Callable
from typing import Any

from _workloads_common import Case, Sizes, expected_chain, expected_fanout

FRAMEWORK = "floor"

Node = Callable[[Any], Awaitable[Any]]


def version() -> str:
    return f"asyncio (Python {platform.python_version()})"


def _adder(add: int) -> Node:
    async def step(x: int) -> int:
        return x + add

    return step


async def _run_chain(nodes: list[Node], x: int, saved: list[dict[str, Any]] | None) -> int:
    for superstep, node in enumerate(nodes):
        x = await node(x)  # a single ready coroutine: awaited directly
        if saved is not None:  # "checkpoint": the superstep and the message in flight
            saved.append({"superstep": superstep, "pending": [x]})
    return x


async def _run_fanout(src: Node, workers: list[Node], join: Node, x: int) -> int:
    v = await src(x)
    values = await asyncio.gather(*(w(v) for w in workers))  # several ready: gathered
    return int(await join(list(values)))


def make_case(workload: str, sizes: Sizes) -> Case | str:
    if workload in ("chain", "checkpoint"):
        nodes = [_adder(1) for _ in range(sizes.chain)]
        want = expected_chain(sizes)
        saved: list[dict[str, Any]] | None = [] if workload == "checkpoint" else None

        async def check_chain(got: Any) -> str | None:
            if got != want:
                return f"expected {want}, got {got!r}"
            if saved is not None and len(saved) < sizes.chain:
                return f"expected >= {sizes.chain} snapshots, got {len(saved)}"
            return None

        def run() -> Awaitable[int]:
            if saved is not None:
                saved.clear()
            return _run_chain(nodes, 0, saved)

        return Case(run, check_chain, "snapshot dict per step" if saved is not None else "")
    if workload == "fanout":
        src = _adder(1)
        workers = [_adder(i) for i in range(sizes.width)]

        async def join(values: list[int]) -> int:
            return sum(values)

        want = expected_fanout(sizes)

        async def check_fan(got: Any) -> str | None:
            return None if got == want else f"expected {want}, got {got!r}"

        return Case(lambda: _run_fanout(src, workers, join, 0), check_fan)
    raise ValueError(f"unknown workload {workload!r}")
