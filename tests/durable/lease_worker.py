"""A separate process contending for a run, for the lease and answer tests.

    python -m tests.durable.lease_worker STORAGE MODE RUN_ID ARG START_AT [BARRIER_DIR]

STORAGE is ``file:<dir>``, ``redis:<url>|<prefix>`` or ``nats:<url>``. START_AT is a
wall-clock time both contending processes wait for, so they really race.

- ``hold``: acquire the run's lease at START_AT; print ``HELD <token>`` and keep it
  ARG seconds, or print ``LOCKED <holder pid>``.
- ``answer``: for trial i in 0..39, once both processes reached trial i (a file
  barrier in BARRIER_DIR), record answer ARG to request ``req-<i>`` with
  ``record_answer_once``; print ``OK i`` or ``LOST i <error>``.
- ``hitl``: run the conformance human-in-the-loop workflow until it waits; print the
  run id and the request id as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from agentic_nb.workflow import (
    AnswerConflictError,
    FileCheckpointStorage,
    RunLockedError,
)

TRIALS = 40


async def open_storage(spec: str) -> tuple[Any, Any]:
    kind, _, where = spec.partition(":")
    if kind == "file":
        return FileCheckpointStorage(where), None
    if kind == "redis":
        from agentic_nb.redis import RedisCheckpointStorage

        url, _, prefix = where.partition("|")
        store = RedisCheckpointStorage(url, prefix=prefix)
        return store, store
    if kind == "nats":
        from agentic_nb.nats import NatsKvCheckpointStorage, connect

        nc = await connect(where)
        return NatsKvCheckpointStorage(nc), nc
    raise SystemExit(f"unknown storage {spec!r}")


async def close(conn: Any) -> None:
    if conn is None:
        return
    if hasattr(conn, "aclose"):
        await conn.aclose()
    else:
        await conn.close()


async def sleep_until(t: float) -> None:
    await asyncio.sleep(max(0.0, t - time.time()))


async def barrier(where: str, trial: int, parties: int = 2) -> None:
    """Wait until every contending process reached ``trial`` (files in a shared folder)."""
    folder = Path(where)
    (folder / f"{trial}-{os.getpid()}").touch()
    deadline = time.monotonic() + 30
    while len(list(folder.glob(f"{trial}-*"))) < parties:
        if time.monotonic() > deadline:
            raise SystemExit(f"the other process never reached trial {trial}")
        await asyncio.sleep(0.0005)


async def main(
    spec: str, mode: str, run_id: str, arg: str, start_at: float, barrier_dir: str = ""
) -> None:
    store, conn = await open_storage(spec)
    try:
        if mode == "hold":
            await sleep_until(start_at)
            try:
                lease = await store.acquire_lease(run_id, f"proc-{os.getpid()}", ttl=30)
            except RunLockedError as exc:
                print("LOCKED", exc.holder.get("pid"), flush=True)
                return
            print("HELD", lease.token, flush=True)
            await asyncio.sleep(float(arg))
            await store.release_lease(lease)
        elif mode == "answer":
            await sleep_until(start_at)
            for i in range(TRIALS):
                await barrier(barrier_dir, i)
                record = {"k": "answer", "id": f"req-{i}", "v": arg}
                try:
                    await store.record_answer_once(run_id, record)
                    print("OK", i, flush=True)
                except (AnswerConflictError, RunLockedError) as exc:
                    print("LOST", i, type(exc).__name__, flush=True)
        elif mode == "hitl":
            from tests.checkpoint_conformance import _hitl_workflow

            first = await _hitl_workflow(store).run(int(arg))
            print(json.dumps([first.run_id, first.pending_requests[0].request_id]), flush=True)
        else:
            raise SystemExit(f"unknown mode {mode!r}")
    finally:
        await close(conn)


if __name__ == "__main__":
    spec, mode, run_id, arg, start_at = sys.argv[1:6]
    asyncio.run(main(spec, mode, run_id, arg, float(start_at), *sys.argv[6:7]))
