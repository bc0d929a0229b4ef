"""FileCheckpointStorage: checkpoints, journal and lease of each run in a directory."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import fcntl
import json
import logging
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from ._checkpoint import (
    DEFAULT_KEEP_LAST,
    Checkpoint,
    CheckpointInfo,
    RunSummary,
    answer_id,
    check_n,
    check_retention,
    corrupt_summary,
    dump_record,
    latest_readable,
    read_journal,
    run_summaries,
    summarize_run,
    unseal,
)
from ._checkpoint_errors import CheckpointCorruptError, CheckpointError
from ._lease import (
    DEFAULT_LEASE_TTL,
    Lease,
    answer_conflict,
    is_stale,
    locked_error,
    lost_error,
    new_lease,
    renewed,
    validate_ttl,
)
from .codec import decode

log = logging.getLogger("agentic_nb.checkpoint")

_SAFE = re.compile(r"[A-Za-z0-9_.\-]+")


def _safe_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _SAFE.fullmatch(value) or value in (".", ".."):
        raise CheckpointError(
            f"{what} {value!r} cannot be used as a file name; use letters, digits, '_', '-', '.'"
        )
    return value


class _HeldLock:
    """An OS lock this process holds on a run directory (``lease.lock``)."""

    def __init__(self, fd: int, lease: Lease) -> None:
        self.fd = fd
        self.lease = lease

    def close(self) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)


# Locks held by this process, by lock-file path: a second flock() on the same file from
# this process would conflict with itself, and fencing within the process reads this.
_HELD_LOCKS: dict[str, _HeldLock] = {}


class FileCheckpointStorage:
    """Checkpoints as JSON files under a directory (the embedded durable default).

    Layout: ``<root>/<run_id>/cp-<superstep:08d>-<checkpoint_id>.json`` and
    ``<root>/<run_id>/journal.jsonl``; the lease is ``lease.lock`` (held with
    ``fcntl.flock`` by the driving process) and ``lease.json`` (its owner record:
    owner, pid, host, since, token). Checkpoints are written to a temporary file and
    renamed into place, so a crash never leaves a torn checkpoint. Every checkpoint
    and journal line carries a checksum; a journal line cut short by a crash (the
    last one, without its newline) is dropped with a warning and repaired at the next
    append, damage anywhere else raises :class:`CheckpointCorruptError` naming the
    file and line. ``fsync=True`` also survives power loss. ``keep_last`` (default
    :data:`DEFAULT_KEEP_LAST`, ``None`` for all) checkpoint files are kept per run.

    Example::

        >>> import asyncio, tempfile
        >>> store = FileCheckpointStorage(tempfile.mkdtemp())
        >>> cp = Checkpoint(checkpoint_id="c1", run_id="r1", workflow="w", graph_hash="h",
        ...                 superstep=3)
        >>> asyncio.run(store.save(cp))
        >>> [i.superstep for i in asyncio.run(store.list("r1"))]
        [3]
    """

    JOURNAL = "journal.jsonl"

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        fsync: bool = False,
        keep_last: int | None = DEFAULT_KEEP_LAST,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.keep_last_n = check_retention(keep_last)
        self._order: dict[str, dict[str, None]] = {}
        self._tail_checked: set[str] = set()

    def __repr__(self) -> str:
        return f"FileCheckpointStorage({str(self.root)!r})"

    def _run_dir(self, run_id: str) -> Path:
        return self.root / _safe_name(run_id, "run id")

    def _write_atomic(self, path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                if self.fsync:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def _files(self, run_id: str) -> list[Path]:
        d = self._run_dir(run_id)
        if not d.is_dir():
            return []
        return sorted(d.glob("cp-*.json"))

    def _load(self, path: Path) -> Checkpoint:
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            raise
        return Checkpoint.from_json(
            text, storage=self, file=str(path), checkpoint_id=path.name[12:-5]
        )

    # ----------------------------------------------------------------- writes
    def _lock_path(self, run_id: str) -> str:
        return os.path.realpath(self._run_dir(run_id) / "lease.lock")

    def _check_fence(self, run_id: str, lease: Lease | None) -> None:
        if lease is None:
            return
        held = _HELD_LOCKS.get(self._lock_path(run_id))
        if held is None or held.lease.token != lease.token:
            raise lost_error(self, lease, held.lease.token if held else "none held here")

    async def save(self, checkpoint: Checkpoint, *, lease: Lease | None = None) -> None:
        self._check_fence(checkpoint.run_id, lease)
        name = f"cp-{checkpoint.superstep:08d}-{_safe_name(checkpoint.checkpoint_id, 'id')}.json"
        run = checkpoint.run_id
        path = self._run_dir(run) / name
        self._write_atomic(path, checkpoint.to_json())
        if self.keep_last_n is None:
            return
        # Save order of this run's files (an insertion-ordered dict: O(1) per save).
        order = self._order.get(run)
        if order is None:
            order = self._order[run] = dict.fromkeys(str(p) for p in self._files(run))
        order.setdefault(str(path), None)
        while len(order) > self.keep_last_n:
            oldest = next(iter(order))
            del order[oldest]
            with contextlib.suppress(FileNotFoundError):
                os.unlink(oldest)

    def _repair_tail(self, path: Path) -> None:
        """Make the journal end with a newline: cut a torn last line, or end a whole one."""
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0:
            return
        with open(path, "rb+") as fh:
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return
            fh.seek(0)
            data = fh.read()
            cut = data.rfind(b"\n") + 1
            try:
                unseal(data[cut:])
            except ValueError:
                log.warning("%r: cutting a torn last journal line of %s", self, path)
                fh.truncate(cut)
            else:
                fh.seek(size)
                fh.write(b"\n")

    def _write_line(self, run_id: str, line: str) -> None:
        d = self._run_dir(run_id)
        d.mkdir(parents=True, exist_ok=True)
        path = d / self.JOURNAL
        if run_id not in self._tail_checked:
            self._repair_tail(path)
            self._tail_checked.add(run_id)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            if self.fsync:
                fh.flush()
                os.fsync(fh.fileno())

    async def append(
        self, run_id: str, record: dict[str, Any], *, lease: Lease | None = None
    ) -> None:
        if record.get("k") == "answer":
            await self.record_answer_once(run_id, record, lease=lease)
            return
        self._check_fence(run_id, lease)
        self._write_line(run_id, dump_record(record))

    async def record_answer_once(
        self, run_id: str, record: dict[str, Any], *, lease: Lease | None = None
    ) -> None:
        rid = answer_id(record)
        text = dump_record(record)
        if lease is not None:
            self._check_fence(run_id, lease)
            self._record_answer(run_id, rid, text)
            return
        held = _HELD_LOCKS.get(self._lock_path(run_id))
        if held is not None:
            raise locked_error(self, run_id, held.lease.holder())
        fd = await self._lock_briefly(run_id)
        try:
            self._tail_checked.discard(run_id)
            self._record_answer(run_id, rid, text)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _record_answer(self, run_id: str, rid: str, text: str) -> None:
        for rec in self._read_journal(run_id):
            if rec.get("k") == "answer" and rec.get("id") == rid:
                if dump_record(rec) == text:
                    return
                raise answer_conflict(self, run_id, rid, decode(rec.get("v")))
        self._write_line(run_id, text)

    async def _lock_briefly(self, run_id: str, wait: float = 5.0) -> int:
        """Take the run's OS lock for a short write; a driver holding it longer is an error."""
        d = self._run_dir(run_id)
        d.mkdir(parents=True, exist_ok=True)
        fd = os.open(d / "lease.lock", os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise locked_error(
                        self, run_id, self._owner_record(run_id), os_lock=True
                    ) from None
                await asyncio.sleep(0.01)

    # ------------------------------------------------------------------ reads
    async def get(self, checkpoint_id: str) -> Checkpoint | None:
        _safe_name(checkpoint_id, "checkpoint id")
        for path in self.root.glob(f"*/cp-*-{checkpoint_id}.json"):
            try:
                return self._load(path)
            except FileNotFoundError:  # dropped by retention meanwhile
                continue
        return None

    def _newest_first(self, run_id: str) -> list[Path]:
        def key(p: Path) -> tuple[str, int]:
            try:
                return (p.name[3:11], p.stat().st_mtime_ns)
            except FileNotFoundError:
                return (p.name[3:11], 0)

        # Same superstep may be saved twice (replay); newest file wins.
        return sorted(self._files(run_id), key=key, reverse=True)

    async def latest(self, run_id: str) -> Checkpoint | None:
        paths = {str(p): p for p in self._newest_first(run_id)}

        async def load(name: str) -> Checkpoint | None:
            try:
                return self._load(paths[name])
            except FileNotFoundError:
                return None

        return await latest_readable(self, run_id, list(paths), load)

    def _info(self, path: Path) -> CheckpointInfo:
        try:
            return self._load(path).info()
        except CheckpointCorruptError:
            return CheckpointInfo(
                checkpoint_id=path.name[12:-5],
                run_id=path.parent.name,
                workflow="",
                superstep=int(path.name[3:11]),
                parent_id=None,
                created_at=path.stat().st_mtime,
                queued=0,
                pending_requests=0,
                graph_hash="",
                status="corrupt",
            )

    async def list(
        self, run_id: str | None = None, *, workflow: str | None = None
    ) -> list[CheckpointInfo]:
        if run_id is not None:
            files = self._files(run_id)
        else:
            files = sorted(self.root.glob("*/cp-*.json"))
        out = []
        for p in files:
            try:
                out.append(self._info(p))
            except FileNotFoundError:
                continue
        if workflow is not None:
            out = [i for i in out if i.workflow == workflow]
        return sorted(out, key=lambda i: (i.created_at, i.superstep))

    async def runs(self, workflow: str | None = None) -> builtins.list[RunSummary]:
        async def one(run_id: str) -> RunSummary | None:
            d = self.root / run_id
            stamps = [
                p.stat().st_mtime for p in [d / self.JOURNAL, *self._files(run_id)] if p.exists()
            ]
            updated = max(stamps, default=0.0)
            try:
                cp = await self.latest(run_id)
                if cp is None:
                    return None
                return summarize_run(cp, await self.journal(run_id), updated)
            except CheckpointCorruptError:
                return corrupt_summary(run_id, self._journal_lines(run_id)[0], updated)

        ids = sorted(p.name for p in self.root.iterdir() if p.is_dir() and _SAFE.fullmatch(p.name))
        return await run_summaries(ids, one, workflow)

    def _journal_lines(self, run_id: str) -> tuple[builtins.list[bytes], bool]:
        path = self._run_dir(run_id) / self.JOURNAL
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return [], False
        lines = data.split(b"\n")
        torn = lines[-1] != b""
        if not torn:
            lines.pop()
        return lines, torn

    def _read_journal(self, run_id: str) -> builtins.list[dict[str, Any]]:
        lines, torn = self._journal_lines(run_id)
        path = self._run_dir(run_id) / self.JOURNAL
        return read_journal(
            lines,
            storage=self,
            run_id=run_id,
            where=lambda i: f"line {i + 1} of {path}",
            file=str(path),
            torn_tail_ok=torn,
        )

    async def journal(self, run_id: str) -> builtins.list[dict[str, Any]]:
        return self._read_journal(run_id)

    # ------------------------------------------------------------- retention
    async def delete(self, run_id: str) -> int:
        d = self._run_dir(run_id)
        files = self._files(run_id)
        for p in files:
            p.unlink(missing_ok=True)
        (d / self.JOURNAL).unlink(missing_ok=True)
        if d.is_dir():
            for leftover in d.iterdir():
                leftover.unlink(missing_ok=True)
            d.rmdir()
        self._order.pop(run_id, None)
        self._tail_checked.discard(run_id)
        return len(files)

    async def keep_last(self, run_id: str, n: int) -> int:
        check_n(n)
        files = self._files(run_id)
        drop = files[: max(0, len(files) - n)]
        for p in drop:
            p.unlink(missing_ok=True)
        self._order.pop(run_id, None)
        return len(drop)

    # ------------------------------------------------------------------ leases
    def _owner_record(self, run_id: str) -> dict[str, Any]:
        try:
            data = json.loads((self._run_dir(run_id) / "lease.json").read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def _write_owner(self, run_id: str, record: dict[str, Any]) -> None:
        self._write_atomic(self._run_dir(run_id) / "lease.json", json.dumps(record))

    async def acquire_lease(
        self, run_id: str, owner: str, ttl: float = DEFAULT_LEASE_TTL, take_over: bool = False
    ) -> Lease:
        ttl = validate_ttl(ttl)
        d = self._run_dir(run_id)
        d.mkdir(parents=True, exist_ok=True)
        path = self._lock_path(run_id)
        held = _HELD_LOCKS.get(path)
        if held is not None:  # held by this very process
            if held.lease.owner == owner:
                return await self.renew_lease(held.lease)
            if not take_over and not is_stale(held.lease.holder()):
                raise locked_error(self, run_id, held.lease.holder())
            _HELD_LOCKS.pop(path).close()
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            # The holder writes its owner record just after taking the lock: name it.
            holder = self._owner_record(run_id)
            for _ in range(50):
                if holder.get("pid") and not holder.get("released"):
                    break
                await asyncio.sleep(0.01)
                holder = self._owner_record(run_id)
            raise locked_error(self, run_id, holder, os_lock=True) from None
        try:
            token = int(self._owner_record(run_id).get("token", 0)) + 1
            lease = new_lease(run_id, owner, token, ttl)
            self._write_owner(run_id, lease.holder())
        except BaseException:
            os.close(fd)
            raise
        _HELD_LOCKS[path] = _HeldLock(fd, lease)
        return lease

    async def renew_lease(self, lease: Lease) -> Lease:
        self._check_fence(lease.run_id, lease)
        fresh = renewed(lease)
        self._write_owner(lease.run_id, fresh.holder())
        _HELD_LOCKS[self._lock_path(lease.run_id)].lease = fresh
        return fresh

    async def release_lease(self, lease: Lease) -> None:
        path = self._lock_path(lease.run_id)
        held = _HELD_LOCKS.get(path)
        if held is None or held.lease.token != lease.token:
            return
        self._write_owner(lease.run_id, {**lease.holder(), "released": True})
        _HELD_LOCKS.pop(path).close()
