"""Damaged storage, end to end: a run never silently loses a recorded task or answer."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agentic_nb.workflow import CheckpointCorruptError, FileCheckpointStorage
from tests.checkpoint_conformance import _hitl_workflow


async def _waiting_run(tmp_path: Path) -> tuple[FileCheckpointStorage, str, str]:
    store = FileCheckpointStorage(tmp_path)
    first = await _hitl_workflow(store).run(21)
    assert first.status == "waiting"
    return store, first.run_id, first.pending_requests[0].request_id


async def test_an_unreadable_latest_checkpoint_falls_back_to_the_previous_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, run_id, rid = await _waiting_run(tmp_path)
    files = sorted((tmp_path / run_id).glob("cp-*.json"))
    assert len(files) >= 2
    newest = files[-1]
    newest.write_text(newest.read_text()[:-25])  # cut short
    with caplog.at_level(logging.WARNING, logger="agentic_nb.checkpoint"):
        latest = await store.latest(run_id)
    assert latest is not None and latest.fallback_from == [newest.name[12:-5]]
    assert str(newest) in latest.load_warnings[0]
    assert "cannot be read" in caplog.text and run_id in caplog.text
    # the journal replays what happened after the older checkpoint: nothing is lost
    again = await _hitl_workflow(store).resume(run_id)
    assert [r.request_id for r in again.pending_requests] == [rid]
    done = await again.respond(rid, True)
    assert (done.status, done.outputs) == ("completed", ["42:approved:21"])


async def test_a_damaged_journal_line_in_the_middle_stops_the_resume_naming_file_and_line(
    tmp_path: Path,
) -> None:
    store, run_id, _ = await _waiting_run(tmp_path)
    path = tmp_path / run_id / "journal.jsonl"
    lines = path.read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if '"k":"write"' in line)
    assert n < len(lines) - 1
    lines[n] = lines[n].replace("42", "43")  # a recorded task's message, changed on disk
    path.write_text("".join(x + "\n" for x in lines))
    with pytest.raises(CheckpointCorruptError, match=rf"line {n + 1} of {path}") as info:
        await _hitl_workflow(store).resume(run_id)
    assert info.value.run_id == run_id and info.value.file == str(path)


async def test_a_journal_line_torn_by_a_crash_is_dropped_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    store, run_id, rid = await _waiting_run(tmp_path)
    path = tmp_path / run_id / "journal.jsonl"
    with open(path, "a") as fh:
        fh.write('{"k":"answer","id":"' + rid + '","v":tr')  # the process died here
    again = await _hitl_workflow(FileCheckpointStorage(tmp_path)).resume(run_id)
    assert [r.request_id for r in again.pending_requests] == [rid]
    done = await again.respond(rid, False)
    assert done.outputs == ["42:rejected:21"]
    # the torn tail was cut before the next record was appended: the file reads clean
    assert [r["k"] for r in await store.journal(run_id)].count("answer") == 1
    assert path.read_text().endswith("\n")
