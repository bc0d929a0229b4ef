"""Checkpoints and the storages that keep them.

A :class:`Checkpoint` is taken at a superstep boundary and holds only what is live
at that moment: queued messages, fan-in buffers, shared state, executor state,
pending requests and counters. What happens *inside* supersteps goes to an
append-only per-run **journal**: one record per finished delivery (its messages,
outputs and state writes — the "pending writes"), per request asked, per answer,
per failure. Resuming loads the latest checkpoint and replays the journal, so a
finished task never runs twice, and the cost of a checkpoint follows the size of
the live state, not the length of the run.

Every storage implements the same :class:`CheckpointStorage` protocol; data is
JSON from :mod:`agentic_nb.workflow.codec` (never pickle).

Example::

    >>> import asyncio
    >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
    >>> from agentic_nb.workflow import InMemoryCheckpointStorage
    >>> @executor
    ... def inc(n: int, ctx: WorkflowContext[None, int]) -> None:
    ...     ctx.yield_output(n + 1)
    >>> store = InMemoryCheckpointStorage()
    >>> wf = WorkflowBuilder(start=inc, checkpoint_storage=store).build()
    >>> result = wf.run_sync(1)
    >>> [c.superstep for c in asyncio.run(store.list(result.run_id))]
    [0, 1]
"""

from __future__ import annotations

import asyncio
import builtins
import json
import os
import re
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .codec import decode, encode

SCHEMA_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint could not be written, read, or applied to this workflow."""


class GraphMismatchError(CheckpointError):
    """The checkpoint was taken by a workflow whose graph differs from this one."""


@dataclass
class Checkpoint:
    """Everything live at one superstep boundary (payload values are codec-encoded JSON)."""

    checkpoint_id: str
    run_id: str
    workflow: str
    graph_hash: str
    superstep: int
    parent_id: str | None = None
    created_at: float = field(default_factory=time.time)
    queued: list[dict[str, Any]] = field(default_factory=list)
    fan_in: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    executor_states: dict[str, Any] = field(default_factory=dict)
    pending_requests: list[dict[str, Any]] = field(default_factory=list)
    outputs_count: int = 0
    event_seq: int = 0
    status: str = "running"
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> str:
        # Fields already hold JSON data (payloads are codec-encoded): no deep copy needed.
        data = {name: getattr(self, name) for name in _CHECKPOINT_FIELDS}
        return json.dumps(data, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Checkpoint:
        data = json.loads(text)
        version = data.get("schema_version", 0)
        if version > SCHEMA_VERSION:
            raise CheckpointError(
                f"checkpoint {data.get('checkpoint_id')!r} has schema version {version}, newer "
                f"than this agentic_nb understands ({SCHEMA_VERSION}); upgrade agentic_nb"
            )
        return cls(**data)

    def info(self) -> CheckpointInfo:
        return CheckpointInfo(
            checkpoint_id=self.checkpoint_id,
            run_id=self.run_id,
            workflow=self.workflow,
            superstep=self.superstep,
            parent_id=self.parent_id,
            created_at=self.created_at,
            queued=len(self.queued),
            pending_requests=len(self.pending_requests),
            graph_hash=self.graph_hash,
            status=self.status,
        )

    def decoded_state(self) -> dict[str, Any]:
        """The shared state as Python values."""
        return {k: decode(v) for k, v in self.state.items()}

    def decoded_queue(self) -> list[dict[str, Any]]:
        """Queued messages as ``{"target", "source", "edge", "message"}`` with decoded payloads."""
        return [{**q, "message": decode(q["message"])} for q in self.queued]


_CHECKPOINT_FIELDS = tuple(f.name for f in fields(Checkpoint))


@dataclass(frozen=True)
class CheckpointInfo:
    """Light metadata of a checkpoint (what ``storage.list`` returns)."""

    checkpoint_id: str
    run_id: str
    workflow: str
    superstep: int
    parent_id: str | None
    created_at: float
    queued: int
    pending_requests: int
    graph_hash: str
    status: str = "running"


@runtime_checkable
class CheckpointStorage(Protocol):
    """Where checkpoints and run journals live. All methods are coroutines.

    ``list`` returns infos oldest first; ``keep_last`` never touches the journal;
    ``delete`` removes a run's checkpoints *and* journal. ``append`` must be durable
    once it returns (the runner awaits it before going on).
    """

    async def save(self, checkpoint: Checkpoint) -> None: ...
    async def get(self, checkpoint_id: str) -> Checkpoint | None: ...
    async def latest(self, run_id: str) -> Checkpoint | None: ...
    async def list(
        self, run_id: str | None = None, *, workflow: str | None = None
    ) -> list[CheckpointInfo]: ...
    async def delete(self, run_id: str) -> int: ...
    async def keep_last(self, run_id: str, n: int) -> int: ...
    async def append(self, run_id: str, record: dict[str, Any]) -> None: ...
    async def journal(self, run_id: str) -> builtins.list[dict[str, Any]]: ...


def new_checkpoint_id() -> str:
    return uuid.uuid4().hex


def _check_n(n: int) -> None:
    if n < 0:
        raise ValueError(f"keep_last needs n >= 0, got {n}")


class InMemoryCheckpointStorage:
    """Checkpoints in this process's memory (tests, notebooks, benchmarks).

    Checkpoints are kept as JSON text, so what is saved is exactly what a durable
    storage would save.

    Example::

        >>> import asyncio
        >>> store = InMemoryCheckpointStorage()
        >>> cp = Checkpoint(checkpoint_id="c1", run_id="r", workflow="w", graph_hash="h",
        ...                 superstep=0)
        >>> asyncio.run(store.save(cp))
        >>> asyncio.run(store.latest("r")).checkpoint_id
        'c1'
    """

    def __init__(self) -> None:
        self._data: dict[str, str] = {}
        self._runs: dict[str, list[str]] = {}
        self._meta: dict[str, CheckpointInfo] = {}
        self._journals: dict[str, list[str]] = {}

    async def save(self, checkpoint: Checkpoint) -> None:
        cid = checkpoint.checkpoint_id
        if cid not in self._data:
            self._runs.setdefault(checkpoint.run_id, []).append(cid)
        self._data[cid] = checkpoint.to_json()
        self._meta[cid] = checkpoint.info()

    async def get(self, checkpoint_id: str) -> Checkpoint | None:
        text = self._data.get(checkpoint_id)
        return Checkpoint.from_json(text) if text is not None else None

    async def latest(self, run_id: str) -> Checkpoint | None:
        ids = self._runs.get(run_id)
        return await self.get(ids[-1]) if ids else None

    async def list(
        self, run_id: str | None = None, *, workflow: str | None = None
    ) -> list[CheckpointInfo]:
        runs = [run_id] if run_id is not None else list(self._runs)
        out = [self._meta[c] for r in runs for c in self._runs.get(r, ())]
        if workflow is not None:
            out = [i for i in out if i.workflow == workflow]
        return sorted(out, key=lambda i: (i.created_at, i.superstep))

    async def delete(self, run_id: str) -> int:
        ids = self._runs.pop(run_id, [])
        for c in ids:
            self._data.pop(c, None)
            self._meta.pop(c, None)
        self._journals.pop(run_id, None)
        return len(ids)

    async def keep_last(self, run_id: str, n: int) -> int:
        _check_n(n)
        ids = self._runs.get(run_id, [])
        drop = ids[: max(0, len(ids) - n)]
        for c in drop:
            self._data.pop(c, None)
            self._meta.pop(c, None)
        self._runs[run_id] = ids[len(drop) :]
        return len(drop)

    async def append(self, run_id: str, record: dict[str, Any]) -> None:
        self._journals.setdefault(run_id, []).append(
            json.dumps(record, separators=(",", ":"), allow_nan=False)
        )

    async def journal(self, run_id: str) -> builtins.list[dict[str, Any]]:
        return [json.loads(r) for r in self._journals.get(run_id, ())]


_SAFE = re.compile(r"^[A-Za-z0-9_.\-]+$")


def _safe_name(value: str, what: str) -> str:
    if not value or not _SAFE.match(value) or value in (".", ".."):
        raise CheckpointError(
            f"{what} {value!r} cannot be used as a file name; use letters, digits, '_', '-', '.'"
        )
    return value


class FileCheckpointStorage:
    """Checkpoints as JSON files under a directory (the embedded durable default).

    Layout: ``<root>/<run_id>/cp-<superstep:08d>-<checkpoint_id>.json`` and
    ``<root>/<run_id>/journal.jsonl``. Checkpoints are written to a temporary file
    and renamed into place, so a crash never leaves a torn checkpoint; a journal line
    cut short by a crash is ignored when read. ``fsync=True`` also survives power loss.

    Example::

        >>> import asyncio, tempfile
        >>> store = FileCheckpointStorage(tempfile.mkdtemp())
        >>> cp = Checkpoint(checkpoint_id="c1", run_id="r1", workflow="w", graph_hash="h",
        ...                 superstep=3)
        >>> asyncio.run(store.save(cp))
        >>> [i.superstep for i in asyncio.run(store.list("r1"))]
        [3]
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync

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

    async def save(self, checkpoint: Checkpoint) -> None:
        name = f"cp-{checkpoint.superstep:08d}-{_safe_name(checkpoint.checkpoint_id, 'id')}.json"
        path = self._run_dir(checkpoint.run_id) / name
        self._write_atomic(path, checkpoint.to_json())

    async def get(self, checkpoint_id: str) -> Checkpoint | None:
        _safe_name(checkpoint_id, "checkpoint id")
        for path in self.root.glob(f"*/cp-*-{checkpoint_id}.json"):
            return Checkpoint.from_json(path.read_text(encoding="utf-8"))
        return None

    async def latest(self, run_id: str) -> Checkpoint | None:
        files = self._files(run_id)
        if not files:
            return None
        # Same superstep may be saved twice (replay); newest file wins.
        last = max(files, key=lambda p: (p.name[3:11], p.stat().st_mtime_ns))
        return Checkpoint.from_json(last.read_text(encoding="utf-8"))

    async def list(
        self, run_id: str | None = None, *, workflow: str | None = None
    ) -> list[CheckpointInfo]:
        if run_id is not None:
            files = self._files(run_id)
        else:
            files = sorted(self.root.glob("*/cp-*.json"))
        out = [Checkpoint.from_json(p.read_text(encoding="utf-8")).info() for p in files]
        if workflow is not None:
            out = [i for i in out if i.workflow == workflow]
        return sorted(out, key=lambda i: (i.created_at, i.superstep))

    async def delete(self, run_id: str) -> int:
        d = self._run_dir(run_id)
        files = self._files(run_id)
        for p in files:
            p.unlink(missing_ok=True)
        (d / "journal.jsonl").unlink(missing_ok=True)
        if d.is_dir():
            for leftover in d.iterdir():
                leftover.unlink(missing_ok=True)
            d.rmdir()
        return len(files)

    async def keep_last(self, run_id: str, n: int) -> int:
        _check_n(n)
        files = self._files(run_id)
        drop = files[: max(0, len(files) - n)]
        for p in drop:
            p.unlink(missing_ok=True)
        return len(drop)

    async def append(self, run_id: str, record: dict[str, Any]) -> None:
        d = self._run_dir(run_id)
        d.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"
        with open(d / "journal.jsonl", "a", encoding="utf-8") as fh:
            fh.write(line)
            if self.fsync:
                fh.flush()
                os.fsync(fh.fileno())

    async def journal(self, run_id: str) -> builtins.list[dict[str, Any]]:
        path = self._run_dir(run_id) / "journal.jsonl"
        if not path.exists():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a crash
        return out


def graph_diff(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    """Say in words what changed between two ``Workflow.describe()`` dicts."""
    if not old:
        return "the stored run has no graph description"
    parts = []
    old_ex = {e["id"]: e for e in old.get("executors", [])}
    new_ex = {e["id"]: e for e in new.get("executors", [])}
    if added := sorted(set(new_ex) - set(old_ex)):
        parts.append(f"executors added: {added}")
    if removed := sorted(set(old_ex) - set(new_ex)):
        parts.append(f"executors removed: {removed}")
    changed = sorted(i for i in set(old_ex) & set(new_ex) if old_ex[i] != new_ex[i])
    if changed:
        parts.append(f"executors changed: {changed}")
    old_ed = {e["id"] for e in old.get("edges", [])}
    new_ed = {e["id"] for e in new.get("edges", [])}
    if e_add := sorted(new_ed - old_ed):
        parts.append(f"edges added: {e_add}")
    if e_rm := sorted(old_ed - new_ed):
        parts.append(f"edges removed: {e_rm}")
    if old.get("start") != new.get("start"):
        parts.append(f"start changed: {old.get('start')!r} -> {new.get('start')!r}")
    return "; ".join(parts) or "edge labels or kinds changed"


def encode_all(values: Iterable[Any]) -> list[Any]:
    return [encode(v) for v in values]


async def maybe_await(value: Any) -> Any:
    if asyncio.iscoroutine(value):
        return await value
    return value
