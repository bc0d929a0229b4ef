"""What every framework's workload module shares: sizes, the Case shape and the timer.

A framework module (``_workloads_<name>.py``) exposes ``FRAMEWORK`` (display name),
``version()`` and ``make_case(workload, sizes)``, which returns a :class:`Case` or
a string saying why the workload is not available for that framework.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

WORKLOADS = ("chain", "fanout", "checkpoint")

WORKLOAD_TITLES = {
    "chain": "chain of {chain} executors",
    "fanout": "fan-out 1->{width}->1 (fan-in)",
    "checkpoint": "chain of {chain} + checkpoint/superstep",
}


@dataclass(frozen=True)
class Sizes:
    chain: int = 1000
    width: int = 100


QUICK_SIZES = Sizes(chain=20, width=5)


def expected_chain(sizes: Sizes) -> int:
    """Input 0, every executor adds 1: the last one yields ``sizes.chain``."""
    return sizes.chain


def expected_fanout(sizes: Sizes) -> int:
    """Input 0; the source adds 1, worker ``i`` adds ``i``, the join yields the sum."""
    w = sizes.width
    return w + w * (w - 1) // 2


@dataclass
class Case:
    """One workload on one framework, built once (outside the timed region).

    ``run()`` performs one complete workflow run and returns what it produced;
    ``check(produced)`` returns ``None`` when the result is right, or a message.
    """

    run: Callable[[], Awaitable[Any]]
    check: Callable[[Any], Awaitable[str | None]]
    detail: str = ""


async def prepare(case: Case, warmup: int, run_timeout_s: float) -> dict[str, Any]:
    """Run once with a time limit and check the result, then warm up (all untimed)."""
    t0 = time.perf_counter()
    try:
        produced = await asyncio.wait_for(case.run(), run_timeout_s)
    except TimeoutError:
        return {
            "status": "timeout",
            "timeout_s": run_timeout_s,
            "detail": f"one run did not finish within {run_timeout_s:g} s",
        }
    first_ms = (time.perf_counter() - t0) * 1000.0
    problem = await case.check(produced)
    if problem is not None:
        return {"status": "wrong", "detail": problem}
    for _ in range(warmup):
        await case.run()
    return {"status": "ok", "first_run_ms": first_ms, "detail": case.detail}


async def timed_runs(case: Case, reps: int) -> list[float]:
    """Milliseconds of ``reps`` complete runs (a full collection before each, untimed)."""
    samples: list[float] = []
    for _ in range(reps):
        gc.collect()
        t = time.perf_counter()
        await case.run()
        samples.append((time.perf_counter() - t) * 1000.0)
    return samples


def summarize(samples: list[float]) -> dict[str, Any]:
    return {
        "median_ms": statistics.median(samples),
        "min_ms": min(samples),
        "max_ms": max(samples),
        "reps": len(samples),
    }
