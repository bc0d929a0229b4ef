"""A separate process that resumes, drives or answers runs through the PUBLIC API, for
the run-lease tests (tests/durable/test_run_leases.py).

    python -m tests.durable.run_lease_worker STORAGE MODE RUN_ID ARG START_AT [BARRIER_DIR]

STORAGE as in ``lease_worker``. START_AT is a wall-clock time the contending
processes wait for, so they really race.

- ``drive``: ``wf.resume(RUN_ID)`` then ``until_idle()``; prints ``DRIVING <pid>``
  once loaded, then ``DONE <outputs as JSON>``, or ``LOCKED <holder pid>`` when
  another process drives the run.
- ``answer``: for trial i in 0..39, once both processes reached trial i, resume run
  ``RUN_ID-i`` and answer its request (ids in BARRIER_DIR/rids.json) with ARG through
  ``run.respond``;
  prints ``OK i`` or ``LOST i <error type>``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import RequestError, RunLockedError, RunStateError

from .lease_worker import TRIALS, barrier, close, open_storage, sleep_until

# Test knobs for the in-process side (the worker processes leave them alone):
# NAP_OVERRIDE replaces the nap length; GATE, when set, holds ``nap`` until it opens.
NAP_OVERRIDE: float | None = None
GATE: asyncio.Event | None = None
NAPPING: asyncio.Event | None = None


def slow_workflow(store: Any) -> Any:
    """first -> nap (sleeps ``msg["sleep"]`` seconds) -> output ``2 * msg["n"]``."""

    @executor(id="first")
    async def first(msg: dict[str, Any], ctx: WorkflowContext[dict[str, Any]]) -> None:
        await ctx.send_message(msg)

    @executor(id="nap")
    async def nap(msg: dict[str, Any], ctx: WorkflowContext[None, int]) -> None:
        if NAPPING is not None:
            NAPPING.set()
        if GATE is not None:
            await GATE.wait()
        await asyncio.sleep(msg["sleep"] if NAP_OVERRIDE is None else NAP_OVERRIDE)
        await ctx.yield_output(2 * msg["n"])

    return (
        WorkflowBuilder(name="lease-slow", start=first, checkpoint_storage=store)
        .add_edge(first, nap)
        .build()
    )


def ask_workflow(store: Any) -> Any:
    """One executor that asks for a string and outputs it."""

    @executor(id="ask")
    async def ask(question: str, ctx: WorkflowContext[None, str]) -> None:
        answer = await ctx.request_info(question, response_type=str)
        await ctx.yield_output(answer)

    return WorkflowBuilder(name="lease-ask", start=ask, checkpoint_storage=store).build()


async def main(
    spec: str, mode: str, run_id: str, arg: str, start_at: float, barrier_dir: str = ""
) -> None:
    store, conn = await open_storage(spec)
    try:
        if mode == "drive":
            wf = slow_workflow(store)
            await sleep_until(start_at)
            try:
                run = await wf.resume(run_id)
                print("DRIVING", os.getpid(), flush=True)
                result = await run.until_idle()
            except RunLockedError as exc:
                print("LOCKED", exc.holder.get("pid"), flush=True)
                return
            print("DONE", json.dumps(result.outputs), result.status, flush=True)
        elif mode == "answer":
            wf = ask_workflow(store)
            # The request ids, as the user knows them from the waiting runs' results.
            rids = json.loads((Path(barrier_dir) / "rids.json").read_text())
            await sleep_until(start_at)
            for i in range(TRIALS):
                await barrier(barrier_dir, i)
                try:
                    run = await wf.resume(f"{run_id}-{i}")
                    await run.respond(rids[i], arg)
                    print("OK", i, flush=True)
                except (RequestError, RunLockedError, RunStateError) as exc:
                    print("LOST", i, type(exc).__name__, flush=True)
        else:
            raise SystemExit(f"unknown mode {mode!r}")
    finally:
        await close(conn)


if __name__ == "__main__":
    spec, mode, run_id, arg, start_at = sys.argv[1:6]
    asyncio.run(main(spec, mode, run_id, arg, float(start_at), *sys.argv[6:7]))
