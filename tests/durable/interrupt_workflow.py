"""A slow chain run with ``run_sync`` in a separate process, for the Ctrl-C tests.

    python -m tests.durable.interrupt_workflow DIR RUN_ID SIDE_FILE loop|plain

``loop`` calls ``run_sync`` from inside a running event loop (the notebook case: the
run goes to a private thread); ``plain`` calls it from a script. Every finished step
appends one line to SIDE_FILE. The test sends SIGINT while the chain runs.
"""

from __future__ import annotations

import asyncio
import sys

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import FileCheckpointStorage, Workflow

STEPS = 40


def build(directory: str, side: str) -> Workflow:
    def make(i: int) -> object:
        @executor(id=f"s{i}")
        async def step(n: int, ctx: WorkflowContext[int, int]) -> None:
            await asyncio.sleep(0.25)
            with open(side, "a", encoding="utf-8") as fh:
                fh.write(f"s{i}\n")
            if i == STEPS - 1:
                await ctx.yield_output(n + 1)
            else:
                await ctx.send_message(n + 1)

        return step

    steps = [make(i) for i in range(STEPS)]
    return (
        WorkflowBuilder(
            name="slow_chain", start=steps[0], checkpoint_storage=FileCheckpointStorage(directory)
        )
        .add_chain(steps)
        .build()
    )


def main(argv: list[str]) -> None:
    directory, run_id, side, mode = argv[:4]
    wf = build(directory, side)
    if mode == "plain":
        wf.run_sync(0, run_id=run_id)
        return

    async def notebook_cell() -> None:
        wf.run_sync(0, run_id=run_id)  # blocks the running loop, like a cell without await

    asyncio.run(notebook_cell())


if __name__ == "__main__":
    main(sys.argv[1:])
