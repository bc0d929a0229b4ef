"""Cost of durable storage on a 1,000-executor chain: a checkpoint after every
superstep and one journal record per task, in memory and in files.

Prints JSON: per storage the median, min and max milliseconds of ``--repeat`` runs
(after one warm-up run), and the checkpoint files left on disk. Run it against two
checkouts with ``PYTHONPATH=<checkout>`` (interleaving the two) to compare them::

    PYTHONPATH=. .venv/bin/python bench/storage.py [--n 1000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import FileCheckpointStorage, InMemoryCheckpointStorage


def chain(n: int, storage: Any) -> Any:
    def make(i: int) -> Any:
        last = i == n - 1

        async def step(x: int, ctx: WorkflowContext[int, int]) -> None:
            if last:
                await ctx.yield_output(x + 1)
            else:
                await ctx.send_message(x + 1)

        return executor(id=f"s{i}")(step)

    execs = [make(i) for i in range(n)]
    return (
        WorkflowBuilder(
            name="chain", start=execs[0], max_supersteps=n + 5, checkpoint_storage=storage
        )
        .add_chain(execs)
        .build()
    )


async def timed(n: int, repeat: int, make_storage: Any) -> dict[str, Any]:
    samples = []
    files = 0
    for i in range(repeat + 1):
        storage, cleanup = make_storage()
        wf = chain(n, storage)
        t0 = time.perf_counter()
        result = await wf.run(0)
        elapsed = (time.perf_counter() - t0) * 1000
        assert result.outputs == [n], result
        if isinstance(storage, FileCheckpointStorage):
            files = len(list(storage.root.glob("*/cp-*.json")))
        cleanup()
        if i:  # the first run warms up
            samples.append(elapsed)
    return {
        "median_ms": round(statistics.median(samples), 1),
        "min_ms": round(min(samples), 1),
        "max_ms": round(max(samples), 1),
        "checkpoint_files": files,
    }


def memory() -> tuple[Any, Any]:
    return InMemoryCheckpointStorage(), lambda: None


def files() -> tuple[Any, Any]:
    root = tempfile.mkdtemp(prefix="bench-storage-")
    return FileCheckpointStorage(Path(root)), lambda: shutil.rmtree(root)


async def main(n: int, repeat: int) -> dict[str, Any]:
    return {
        "memory": await timed(n, repeat, memory),
        "file": await timed(n, repeat, files),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.n, args.repeat))))
