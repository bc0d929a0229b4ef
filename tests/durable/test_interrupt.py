"""Ctrl-C on ``run_sync`` stops the run promptly and leaves it resumable (issue 10, item 5).

Before: inside a running loop (the notebook case) ``run_sync`` waited for the whole
run on its private thread after Ctrl-C, then threw the result away.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.durable.interrupt_workflow import STEPS, build

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("mode", ["loop", "plain"])
async def test_ctrl_c_in_run_sync_stops_promptly_and_the_run_resumes(
    mode: str, tmp_path: Path
) -> None:
    store, side = tmp_path / "store", tmp_path / "side.txt"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.durable.interrupt_workflow",
            str(store),
            "r1",
            str(side),
            mode,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (side.exists() and len(side.read_text().splitlines()) >= 3):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the chain never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    done_before = len(side.read_text().splitlines())
    assert took < 3.0, f"run_sync took {took:.1f}s to stop after Ctrl-C"
    assert done_before < STEPS, "the run went on to the end after Ctrl-C"
    assert "KeyboardInterrupt" in err
    assert "run 'r1' was interrupted" in err and "wf.resume('r1') continues it" in err

    resumed = await build(str(store), str(side)).resume("r1")
    result = await resumed.until_idle()
    assert result.status == "completed", result.error
    assert result.outputs == [STEPS]
    runs = Counter(side.read_text().splitlines())
    assert set(runs) == {f"s{i}" for i in range(STEPS)}
    # what finished before Ctrl-C was recorded and is not re-run (at most the step
    # that was interrupted mid-write runs twice)
    assert sum(runs.values()) <= STEPS + 1
