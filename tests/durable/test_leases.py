"""One driver per run and one answer per request, between two REAL processes, on the
file, Redis and NATS KV storages (real redis-server and nats-server)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentic_nb.nats import LocalNatsServer, NatsKvCheckpointStorage, connect
from agentic_nb.redis import RedisCheckpointStorage
from agentic_nb.workflow import FileCheckpointStorage, RunLockedError

from .lease_worker import TRIALS

ROOT = Path(__file__).resolve().parents[2]


def spawn(
    spec: str, mode: str, run_id: str, arg: str, start_at: float, *extra: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.durable.lease_worker",
            spec,
            mode,
            run_id,
            arg,
            str(start_at),
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> list[str]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, (out, err)
    return out.splitlines()


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
        yield f"file:{tmp_path}", FileCheckpointStorage(tmp_path)
    elif request.param == "redis":
        prefix = f"l{uuid.uuid4().hex[:8]}"
        store = RedisCheckpointStorage(redis_url, prefix=prefix)
        yield f"redis:{redis_url}|{prefix}", store
        await store.aclose()
    else:
        nc = await connect(nats_url)
        yield f"nats:{nats_url}", NatsKvCheckpointStorage(nc)
        await nc.close()


async def test_two_processes_resuming_one_run_exactly_one_holds(
    backend: tuple[str, Any],
) -> None:
    spec, store = backend
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    start_at = time.time() + 2.5  # both processes are up and importing by then
    procs = [spawn(spec, "hold", run_id, "3", start_at) for _ in range(2)]
    lines = [await asyncio.to_thread(finish, p) for p in procs]
    verdicts = sorted(line[0].split()[0] for line in lines)
    assert verdicts == ["HELD", "LOCKED"], lines
    # the loser was told who holds the run: the winner's pid
    winner = next(p for p, line in zip(procs, lines, strict=True) if line[0].startswith("HELD"))
    loser_line = next(line[0] for line in lines if line[0].startswith("LOCKED"))
    assert loser_line == f"LOCKED {winner.pid}"
    # the winner released it when done: this process can take the run now
    lease = await store.acquire_lease(run_id, "after", ttl=30)
    assert (
        lease.token
        == int(next(line[0] for line in lines if line[0].startswith("HELD")).split()[1]) + 1
    )


async def test_a_live_holder_process_blocks_this_process(backend: tuple[str, Any]) -> None:
    spec, store = backend
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    proc = spawn(spec, "hold", run_id, "4", time.time())
    first = await asyncio.to_thread(proc.stdout.readline)  # type: ignore[union-attr]
    assert first.startswith("HELD"), first
    with pytest.raises(RunLockedError, match=str(proc.pid)) as info:
        await store.acquire_lease(run_id, "me", ttl=30)
    assert info.value.holder["pid"] == proc.pid
    proc.kill()  # the holder dies without releasing
    await asyncio.to_thread(proc.wait)
    # its process is gone on this host: the lease is stale and taken without take_over
    lease = await store.acquire_lease(run_id, "me", ttl=30)
    assert lease.token == int(first.split()[1]) + 1


async def test_forty_trials_of_two_processes_answering_one_request(
    backend: tuple[str, Any], tmp_path: Path
) -> None:
    spec, store = backend
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    start_at = time.time() + 2.5
    (tmp_path / "barrier").mkdir()
    procs = [
        spawn(spec, "answer", run_id, value, start_at, str(tmp_path / "barrier"))
        for value in ("yes", "no")
    ]
    outs = [await asyncio.to_thread(finish, p) for p in procs]
    answers = [r for r in await store.journal(run_id) if r["k"] == "answer"]
    by_request: dict[str, list[str]] = {}
    for r in answers:
        by_request.setdefault(r["id"], []).append(r["v"])
    assert sorted(by_request) == sorted(f"req-{i}" for i in range(TRIALS))
    assert all(len(v) == 1 for v in by_request.values()), by_request
    # every trial: exactly one process was told OK, the other got a clear error
    wins = {"yes": 0, "no": 0}
    for i in range(TRIALS):
        said = [next(x for x in out if x.split()[1] == str(i)).split()[0] for out in outs]
        assert sorted(said) == ["LOST", "OK"], (i, said)
        winner_value = ("yes", "no")[said.index("OK")]
        assert by_request[f"req-{i}"] == [winner_value]
        wins[winner_value] += 1
    print(f"winners over {TRIALS} trials: {wins}")  # both usually win some: a real race


async def test_runs_is_read_by_a_process_that_did_not_run_it(
    backend: tuple[str, Any],
) -> None:
    spec, store = backend
    proc = spawn(spec, "hitl", "-", "21", time.time())
    (line,) = await asyncio.to_thread(finish, proc)
    run_id, request_id = json.loads(line)
    (summary,) = [s for s in await store.runs(workflow="conformance") if s.run_id == run_id]
    assert summary.status == "waiting"
    assert summary.pending_requests == [request_id]
    assert summary.workflow == "conformance"
