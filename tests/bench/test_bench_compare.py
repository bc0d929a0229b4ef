"""Smoke test of bench/compare.py: every framework runs every workload at tiny sizes.

It checks that the harness works end to end (one worker process per framework,
results checked for correctness, a table printed); it never asserts timings.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPARE = ROOT / "bench" / "compare.py"
FRAMEWORKS = ("agentic_nb", "langgraph", "agent_framework", "floor")
CELL = r"(\d+\.\d\d|>\d+ \(timeout\)|n/a)"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(COMPARE), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_quick_run_prints_a_table_with_every_framework_and_workload() -> None:
    proc = _run("--quick")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    header = next(line for line in out.splitlines() if line.startswith("workload "))
    assert header.split() == ["workload", *FRAMEWORKS]
    for title in ("chain of 20 executors", "fan-out 1->5->1", "chain of 20 + checkpoint"):
        row = next(line for line in out.splitlines() if line.startswith(title))
        cells = re.findall(CELL, row[len(title) :])
        assert len(cells) == len(FRAMEWORKS), row
    chain_row = next(line for line in out.splitlines() if line.startswith("chain of 20 exec"))
    fan_row = next(line for line in out.splitlines() if line.startswith("fan-out"))
    for row in (chain_row, fan_row):  # these two must be measured everywhere
        assert "n/a" not in row and "timeout" not in row, row
    assert "Ratios: peer median / agentic_nb median" in out
    assert "agentic_nb >= 20x faster than agent_framework" in out
    assert "WRONG" not in out and "ERROR" not in out


def test_only_rejects_an_unknown_name_and_lists_the_valid_ones() -> None:
    proc = _run("--quick", "--only", "agentic_nb,nosuch")
    assert proc.returncode != 0
    assert "nosuch" in proc.stderr and "langgraph" in proc.stderr and "fanout" in proc.stderr


def test_only_runs_just_the_selected_frameworks_and_workloads() -> None:
    proc = _run("--quick", "--only", "agentic_nb,floor", "--only", "fanout")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    header = next(line for line in proc.stdout.splitlines() if line.startswith("workload "))
    assert header.split() == ["workload", "agentic_nb", "floor"]
    assert "fan-out 1->5->1" in proc.stdout and "chain of 20" not in proc.stdout
