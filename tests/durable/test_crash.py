"""Kill a running workflow process with SIGKILL, resume it in a new process, compare."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from agentic_nb.workflow import Checkpoint

from .crash_workflow import SERVICES

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = sorted(i * 10 for i in range(SERVICES))


def start(storage: str, run_id: str, side: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.durable.crash_workflow",
            "start",
            storage,
            run_id,
            str(side),
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def resume(storage: str, run_id: str, side: Path, *extra: str) -> dict[str, object]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.durable.crash_workflow",
            "resume",
            storage,
            run_id,
            str(side),
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def kill_when(proc: subprocess.Popen[str], ready: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            raise AssertionError(f"process ended before the kill point: {proc.stderr.read()}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("kill point never reached")
        time.sleep(0.003)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def file_journal_writes(root: Path, run_id: str) -> Callable[[], int]:
    path = root / run_id / "journal.jsonl"

    def count() -> int:
        if not path.exists():
            return 0
        return sum(1 for line in path.read_text().splitlines() if '"k":"write"' in line)

    return count


def redis_journal_writes(url: str, run_id: str) -> Callable[[], int]:
    import redis

    client = redis.Redis.from_url(url, decode_responses=True)

    def count() -> int:
        lines = client.lrange(f"crash:run:{run_id}:journal", 0, -1)
        return sum(1 for line in lines if '"k":"write"' in line)

    return count


def side_effects(side: Path) -> Counter[str]:
    return Counter(side.read_text().splitlines()) if side.exists() else Counter()


def assert_exactly_once(side: Path, hitl: bool = False) -> None:
    seen = side_effects(side)
    expected = Counter(
        [f"migrate {i}" for i in range(SERVICES)] + [f"verify {i * 10}" for i in range(SERVICES)]
    )
    if hitl:
        expected.update(f"approve {i * 10}" for i in range(SERVICES))
    assert seen == expected


def assert_no_torn_checkpoint(root: Path) -> None:
    files = list(root.glob("*/cp-*.json"))
    assert files
    for p in files:
        Checkpoint.from_json(p.read_text())


# The plan task, then 12 migrations (one superstep, one at a time), then 12 verifications:
# kill points spread over the run, most of them in the middle of a superstep.
KILL_POINTS = [1, 4, 9, 13, 18, 24]


@pytest.mark.parametrize("kill_after", KILL_POINTS)
def test_sigkill_mid_superstep_then_resume_with_file_storage(
    tmp_path: Path, kill_after: int
) -> None:
    root, side, run_id = tmp_path / "cp", tmp_path / "side.txt", f"run-{kill_after}"
    storage = f"file:{root}"
    proc = start(storage, run_id, side)
    writes = file_journal_writes(root, run_id)
    kill_when(proc, lambda: writes() >= kill_after)
    assert_no_torn_checkpoint(root)
    done_before = side_effects(side)
    # Really interrupted: some but not all side effects happened (plan has none).
    assert sum(done_before.values()) < 2 * SERVICES
    assert (sum(done_before.values()) > 0) == (kill_after > 1)
    result = resume(storage, run_id, side)
    assert result["status"] == "completed"
    assert sorted(result["outputs"]) == EXPECTED  # type: ignore[arg-type]
    assert_exactly_once(side)
    assert_no_torn_checkpoint(root)


@pytest.mark.parametrize("kill_after", [2, 12, 19])
def test_sigkill_mid_superstep_then_resume_with_redis_storage(
    tmp_path: Path, redis_url: str, kill_after: int
) -> None:
    side, run_id = tmp_path / "side.txt", f"run-{uuid.uuid4().hex[:8]}"
    storage = f"redis:{redis_url}"
    proc = start(storage, run_id, side)
    kill_when(proc, lambda: redis_journal_writes(redis_url, run_id)() >= kill_after)
    result = resume(storage, run_id, side)
    assert result["status"] == "completed"
    assert sorted(result["outputs"]) == EXPECTED  # type: ignore[arg-type]
    assert_exactly_once(side)


@pytest.mark.parametrize("backend", ["file", "redis"])
def test_sigkill_while_requests_are_pending(tmp_path: Path, redis_url: str, backend: str) -> None:
    side, run_id = tmp_path / "side.txt", f"run-{uuid.uuid4().hex[:8]}"
    root = tmp_path / "cp"
    storage = f"file:{root}" if backend == "file" else f"redis:{redis_url}"
    proc = start(storage, run_id, side, "--hitl")
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the run reached "waiting" and printed it
    assert json.loads(line)["status"] == "waiting"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    result = resume(storage, run_id, side, "--hitl")
    assert result["status"] == "completed"
    assert sorted(result["outputs"]) == EXPECTED  # type: ignore[arg-type]
    assert_exactly_once(side, hitl=True)


@pytest.mark.parametrize("backend", ["file", "redis"])
def test_sigkill_while_a_sub_workflow_child_waits_on_a_request(
    tmp_path: Path, redis_url: str, backend: str
) -> None:
    side, run_id = tmp_path / "side.txt", f"run-{uuid.uuid4().hex[:8]}"
    root = tmp_path / "cp"
    storage = f"file:{root}" if backend == "file" else f"redis:{redis_url}"
    proc = start(storage, run_id, side, "--hitl", "--sub")
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the child asked for its first approval
    assert json.loads(line)["status"] == "waiting", proc.stderr.read() if proc.stderr else ""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    result = resume(storage, run_id, side, "--hitl", "--sub")
    assert result["status"] == "completed"
    assert sorted(result["outputs"]) == EXPECTED  # type: ignore[arg-type]
    assert_exactly_once(side, hitl=True)  # no child task ran twice
