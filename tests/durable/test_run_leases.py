"""The runner drives a durable run under its storage lease: one driver per run and one
answer per request between REAL processes using the public API (``wf.resume``,
``run.until_idle``, ``run.respond``), on the file, Redis and NATS KV storages."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.nats import LocalNatsServer, NatsKvCheckpointStorage, connect
from agentic_nb.redis import RedisCheckpointStorage
from agentic_nb.workflow import (
    AnswerConflictError,
    FileCheckpointStorage,
    InMemoryCheckpointStorage,
    RunLockedError,
    RunStateError,
)

from . import run_lease_worker as worker
from .lease_worker import TRIALS

ROOT = Path(__file__).resolve().parents[2]


def spawn(spec: str, mode: str, run_id: str, arg: str, start_at: float, *extra: str) -> Any:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.durable.run_lease_worker",
            *(spec, mode, run_id, arg, str(start_at)),
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: Any, timeout: float = 180) -> list[str]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, (out, err)
    lines: list[str] = out.splitlines()
    return lines


@pytest.fixture(scope="module")
def nats_url() -> Iterator[str]:
    server = LocalNatsServer()
    server.start()
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture(params=["file", "redis", "nats"])
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str, nats_url: str
) -> AsyncIterator[tuple[str, Any]]:
    """(spec for the worker processes, the same storage opened in this process)."""
    if request.param == "file":
        yield f"file:{tmp_path / 'store'}", FileCheckpointStorage(tmp_path / "store")
    elif request.param == "redis":
        prefix = f"rl{uuid.uuid4().hex[:8]}"
        store = RedisCheckpointStorage(redis_url, prefix=prefix)
        yield f"redis:{redis_url}|{prefix}", store
        await store.aclose()
    else:
        nc = await connect(nats_url)
        yield f"nats:{nats_url}", NatsKvCheckpointStorage(nc)
        await nc.close()


@pytest.fixture(autouse=True)
def _knobs() -> Iterator[None]:
    yield
    worker.NAP_OVERRIDE = None
    worker.GATE = None
    worker.NAPPING = None


async def started_run(store: Any, sleep: float) -> str:
    """A run whose first superstep is done and whose ``nap`` is still to run (nobody drives)."""
    run = worker.slow_workflow(store).start({"n": 21, "sleep": sleep})
    await run.step()
    assert run.status == "running"
    return run.run_id


async def nap_writes(store: Any, run_id: str) -> int:
    return sum(1 for r in await store.journal(run_id) if r["k"] == "write" and r["e"] == "nap")


async def test_two_processes_resuming_one_run_exactly_one_drives(
    backend: tuple[str, Any],
) -> None:
    spec, store = backend
    run_id = await started_run(store, sleep=4.0)
    start_at = time.time() + 2.5  # both processes are up and importing by then
    procs = [spawn(spec, "drive", run_id, "-", start_at) for _ in range(2)]
    outs = [await asyncio.to_thread(finish, p) for p in procs]
    done = [(p, out) for p, out in zip(procs, outs, strict=True) if out[-1].startswith("DONE")]
    locked = [out for out in outs if out[-1].startswith("LOCKED")]
    assert len(done) == 1 and len(locked) == 1, outs
    assert done[0][1][-1] == "DONE [42] completed"
    assert locked[0][-1] == f"LOCKED {done[0][0].pid}"  # the loser was told who drives
    assert await nap_writes(store, run_id) == 1  # the task ran once, not twice
    again = await worker.slow_workflow(store).resume(run_id)
    assert again.status == "completed" and again.outputs == [42]


async def test_take_over_after_the_holder_was_killed(backend: tuple[str, Any]) -> None:
    spec, store = backend
    run_id = await started_run(store, sleep=60.0)
    proc = spawn(spec, "drive", run_id, "-", time.time())
    line = await asyncio.to_thread(proc.stdout.readline)
    assert line.split() == ["DRIVING", str(proc.pid)], (line, proc.stderr)
    await asyncio.sleep(0.5)  # it is inside the nap now, holding the lease
    wf = worker.slow_workflow(store)
    with pytest.raises(RunLockedError, match=str(proc.pid)) as info:
        await wf.resume(run_id)
    assert info.value.holder["pid"] == proc.pid
    if not spec.startswith("file:"):  # a live OS lock cannot be taken; a lease can
        assert "take_over=True" in str(info.value)
    os.kill(proc.pid, signal.SIGKILL)
    await asyncio.to_thread(proc.wait)
    worker.NAP_OVERRIDE = 0.0
    run = await wf.resume(run_id, take_over=True)
    result = await run.until_idle()
    assert (result.status, result.outputs) == ("completed", [42])
    assert await nap_writes(store, run_id) == 1  # the killed driver wrote no nap


async def test_forty_trials_of_two_processes_answering_one_waiting_run(
    backend: tuple[str, Any], tmp_path: Path
) -> None:
    spec, store = backend
    wf = worker.ask_workflow(store)
    prefix = f"ask-{uuid.uuid4().hex[:6]}"
    rids = []
    for i in range(TRIALS):
        first = await wf.run("colour?", run_id=f"{prefix}-{i}")
        assert first.status == "waiting"
        rids.append(first.pending_requests[0].request_id)
    folder = tmp_path / "barrier"
    folder.mkdir()
    (folder / "rids.json").write_text(json.dumps(rids))
    start_at = time.time() + 2.5
    values = ("red", "blue")
    procs = [spawn(spec, "answer", prefix, v, start_at, str(folder)) for v in values]
    outs = [await asyncio.to_thread(finish, p) for p in procs]
    wins = dict.fromkeys(values, 0)
    for i in range(TRIALS):
        said = [next(x for x in out if x.split()[1] == str(i)).split() for out in outs]
        answers = [r["v"] for r in await store.journal(f"{prefix}-{i}") if r["k"] == "answer"]
        assert len(answers) == 1, (i, answers, said)  # exactly one answer recorded
        (winner,) = answers
        assert said[values.index(winner)][0] == "OK", (i, said)
        loser = said[1 - values.index(winner)]
        assert loser[0] == "LOST" and loser[2] in (
            "AnswerConflictError",
            "RunLockedError",
            "RequestError",
        ), (i, said)
        run = await wf.resume(f"{prefix}-{i}")  # the winner drove it to its end
        assert (run.status, run.outputs) == ("completed", [winner]), (i, said)
        wins[winner] += 1
    print(f"winners over {TRIALS} trials: {wins}")


@pytest.fixture(params=["memory", "file", "redis", "nats"])
async def any_store(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str, nats_url: str
) -> AsyncIterator[Any]:
    if request.param == "memory":
        yield InMemoryCheckpointStorage()
    elif request.param == "file":
        yield FileCheckpointStorage(tmp_path)
    elif request.param == "redis":
        store = RedisCheckpointStorage(redis_url, prefix=f"rl{uuid.uuid4().hex[:8]}")
        yield store
        await store.aclose()
    else:
        nc = await connect(nats_url)
        yield NatsKvCheckpointStorage(nc)
        await nc.close()


async def test_a_run_taken_over_stops_and_writes_nothing_more(any_store: Any) -> None:
    store = any_store
    worker.GATE = asyncio.Event()
    worker.NAPPING = asyncio.Event()
    worker.NAP_OVERRIDE = 0.0
    run = worker.slow_workflow(store).start({"n": 21, "sleep": 0})
    driving = asyncio.ensure_future(run.until_idle())
    await asyncio.wait_for(worker.NAPPING.wait(), 30)
    before = await store.journal(run.run_id)
    intruder = await store.acquire_lease(run.run_id, "intruder", take_over=True)
    worker.GATE.set()
    result = await asyncio.wait_for(driving, 30)
    assert result.status == "failed"
    assert run.error is not None and "took it over" in run.error
    failed = [e for e in run.events if e.type == "WorkflowFailed"]
    assert [e.error_type for e in failed] == ["LeaseLostError"]  # type: ignore[attr-defined]
    assert await store.journal(run.run_id) == before  # not a record after the take-over
    assert intruder.token > 0
    # it stays stopped: driving it again writes nothing either
    await run.until_idle()
    assert await store.journal(run.run_id) == before


async def test_a_second_resume_in_this_process_while_one_drives(any_store: Any) -> None:
    store = any_store
    run_id = await started_run(store, sleep=0)
    worker.GATE = asyncio.Event()
    worker.NAPPING = asyncio.Event()
    wf = worker.slow_workflow(store)
    first = await wf.resume(run_id)
    driving = asyncio.ensure_future(first.until_idle())
    await asyncio.wait_for(worker.NAPPING.wait(), 30)
    with pytest.raises(RunLockedError, match=r"take_over=True|kill") as info:
        await wf.resume(run_id)
    assert info.value.holder["pid"] == os.getpid()
    worker.GATE.set()
    assert (await driving).outputs == [42]
    # idle again: the lease was given back, a later resume loads at once
    assert (await wf.resume(run_id)).status == "completed"


async def test_answers_compete_between_two_handles_of_a_waiting_run(any_store: Any) -> None:
    """Two kernels' handles (here: two Runs of one process) answer one request."""
    store = any_store
    wf = worker.ask_workflow(store)
    first = await wf.run("colour?")
    rid = first.pending_requests[0].request_id
    a = await wf.resume(first.run_id)
    b = await wf.resume(first.run_id)
    assert (await a.respond(rid, "red")).outputs == ["red"]
    with pytest.raises((AnswerConflictError, RunStateError)) as info:
        await b.respond(rid, "blue")
    assert "red" in str(info.value) or "another process" in str(info.value)
    assert b.result().pending_requests[0].request_id == rid  # not consumed by the refusal
    answers = [r["v"] for r in await store.journal(first.run_id) if r["k"] == "answer"]
    assert answers == ["red"]


async def test_start_of_an_existing_run_id_still_refused(any_store: Any) -> None:
    store = any_store
    wf = worker.ask_workflow(store)
    first = await wf.run("colour?")
    with pytest.raises(RunStateError, match="already exists"):
        await wf.run("again?", run_id=first.run_id)


async def test_a_run_without_storage_holds_no_lease() -> None:
    run = worker.slow_workflow(None).start({"n": 1, "sleep": 0})
    assert (await run.until_idle()).outputs == [2]
    assert run._journal.box is None and not run._journal.leased


async def test_a_dropped_run_gives_its_lease_back(any_store: Any) -> None:
    store = any_store
    run_id = await started_run(store, sleep=0)
    run = worker.slow_workflow(store).resume(run_id)
    await run._journal.acquire()  # as while driving: this Run holds the run's lease
    with pytest.raises(RunLockedError):
        await store.acquire_lease(run_id, "someone-else")
    del run
    gc.collect()
    for _ in range(5):
        await asyncio.sleep(0.01)  # the release scheduled by the finalizer runs
    lease = await store.acquire_lease(run_id, "someone-else")
    assert lease.owner == "someone-else"


async def test_a_stale_handle_does_not_drive_a_run_another_one_drove(any_store: Any) -> None:
    """Two handles loaded one unfinished run; the second must not run its tasks again."""
    store = any_store
    run_id = await started_run(store, sleep=0)
    wf = worker.slow_workflow(store)
    a = await wf.resume(run_id)
    b = await wf.resume(run_id)  # loaded too (nobody drove it yet)
    assert (await a.until_idle()).outputs == [42]
    with pytest.raises(RunStateError, match=r"changed .* by another process"):
        await b.until_idle()
    assert await nap_writes(store, run_id) == 1
    assert b.status == "running" and b.outputs == []  # it ran nothing


def answer_while_driving_workflow(store: Any) -> Any:
    @executor(id="split")
    async def split(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n)

    @executor(id="ask")
    async def ask(n: int, ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(n + await ctx.request_info("add?", response_type=int))

    @executor(id="slow")
    async def slow(n: int, ctx: WorkflowContext[None, int]) -> None:
        assert worker.GATE is not None
        await worker.GATE.wait()

    return (
        WorkflowBuilder(name="lease-both", start=split, checkpoint_storage=store)
        .add_fan_out(split, [ask, slow])
        .build()
    )


async def test_respond_while_this_process_drives_goes_through_its_lease(any_store: Any) -> None:
    store = any_store
    worker.GATE = asyncio.Event()
    run = answer_while_driving_workflow(store).start(40)
    driving = asyncio.ensure_future(run.until_idle())
    for _ in range(500):
        if run._requests:
            break
        await asyncio.sleep(0.01)
    (rid,) = run._requests
    assert run._journal.lease is not None  # it is driving
    # Without the lease the storage would refuse this answer (a live driver holds the run).
    await run.respond(rid, 2, resume=False)
    assert [r["v"] for r in await store.journal(run.run_id) if r["k"] == "answer"] == [2]
    worker.GATE.set()
    await driving
    assert (await run.until_idle()).outputs == [42]
    assert run._journal.lease is None  # idle: given back


class NoLeaseStorage:
    """A third-party storage written before leases: no lease methods, no ``lease=``."""

    def __init__(self) -> None:
        self.inner = InMemoryCheckpointStorage()

    async def save(self, checkpoint: Any) -> None:
        await self.inner.save(checkpoint)

    async def get(self, checkpoint_id: str) -> Any:
        return await self.inner.get(checkpoint_id)

    async def latest(self, run_id: str) -> Any:
        return await self.inner.latest(run_id)

    async def list(self, run_id: str | None = None) -> Any:
        return await self.inner.list(run_id)

    async def append(self, run_id: str, record: dict[str, Any]) -> None:
        await self.inner.append(run_id, record)

    async def journal(self, run_id: str) -> Any:
        return await self.inner.journal(run_id)


async def test_a_storage_without_leases_still_runs_and_resumes() -> None:
    store = NoLeaseStorage()
    wf = worker.ask_workflow(store)
    first = await wf.run("colour?")
    rid = first.pending_requests[0].request_id
    run = await wf.resume(first.run_id)
    assert (await run.respond(rid, "green")).outputs == ["green"]
    assert run._journal.box is None  # nothing to hold
