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
import logging
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, runtime_checkable

from ._checkpoint_errors import CheckpointCorruptError, CheckpointError, GraphMismatchError
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
from .codec import decode, encode

__all__ = [
    "DEFAULT_KEEP_LAST",
    "SCHEMA_VERSION",
    "Checkpoint",
    "CheckpointCorruptError",
    "CheckpointError",
    "CheckpointInfo",
    "CheckpointStorage",
    "GraphMismatchError",
    "InMemoryCheckpointStorage",
    "RunSummary",
]

log = logging.getLogger("agentic_nb.checkpoint")

#: 1: plain JSON. 2: every checkpoint and journal record ends with a checksum.
SCHEMA_VERSION = 2
#: Checkpoints kept per run by default (older ones are dropped after each save);
#: the journal is never trimmed. Pass ``keep_last=None`` to keep every checkpoint.
DEFAULT_KEEP_LAST = 100
TERMINAL_STATUSES = ("completed", "failed", "cancelled")


# ------------------------------------------------------------------ integrity
_SUM_OPEN = ',"_sum":"'
_SUM_LEN = 8
_SUFFIX_LEN = len(_SUM_OPEN) + _SUM_LEN + 2  # ,"_sum":"<8 hex>"}


def _digest(body: str) -> str:
    # CRC-32 finds accidental damage (torn writes, bit rot, hand edits) at ~1 µs a record;
    # the storages are trusted, so no cryptographic hash is needed.
    return format(zlib.crc32(body.encode("utf-8")), "08x")


def seal(body: str) -> str:
    """Append a checksum to the compact JSON object text ``body`` (still valid JSON).

    Example::

        >>> sealed = seal('{"k":"x"}')
        >>> unseal(sealed)
        ({'k': 'x'}, True)
        >>> unseal('{"k":"x"}')  # written before checksums existed
        ({'k': 'x'}, False)
    """
    if body == "{}":
        return '{"_sum":"' + _digest(body) + '"}'
    return f'{body[:-1]}{_SUM_OPEN}{_digest(body)}"}}'


def unseal(text: str | bytes) -> tuple[dict[str, Any], bool]:
    """Check and strip the checksum of ``text``: ``(data, had_checksum)``.

    Raises ``ValueError`` saying what is wrong when the text is damaged.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"not UTF-8 text ({exc})") from None
    sealed = False
    if text.startswith('{"_sum":"') and len(text) == 11 + _SUM_LEN:
        body, got = "{}", text[9:-2]
        sealed = True
    elif text.endswith('"}') and text[-_SUFFIX_LEN : -_SUM_LEN - 2] == _SUM_OPEN:
        body, got = text[:-_SUFFIX_LEN] + "}", text[-_SUM_LEN - 2 : -2]
        sealed = True
    else:
        body, got = text, ""
    if sealed and _digest(body) != got:
        raise ValueError("checksum mismatch")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(data, dict):
        raise ValueError(f"a JSON {type(data).__name__} where an object was expected")
    if not sealed and "_sum" in data:
        raise ValueError("checksum field in the wrong place")
    return data, sealed


def dump_record(record: dict[str, Any]) -> str:
    """A journal record as one sealed JSON line (without the newline)."""
    return seal(json.dumps(record, separators=(",", ":"), allow_nan=False))


def read_journal(
    texts: Sequence[str | bytes],
    *,
    storage: Any,
    run_id: str,
    where: Callable[[int], str] = lambda i: f"record {i + 1}",
    file: str | None = None,
    torn_tail_ok: bool = False,
) -> list[dict[str, Any]]:
    """Check and decode stored journal records, oldest first.

    A damaged record raises :class:`CheckpointCorruptError` naming the storage, run
    and position; only a last record cut short by a crash (``torn_tail_ok``) is
    dropped, with a warning. Records written before checksums existed load as they are.
    """
    out: list[dict[str, Any]] = []
    seen_sealed = False
    last = len(texts) - 1
    for i, text in enumerate(texts):
        try:
            record, sealed = unseal(text)
            if seen_sealed and not sealed:
                raise ValueError("a record without checksum after records that have one")
        except ValueError as exc:
            if i == last and torn_tail_ok:
                log.warning(
                    "%r: ignoring the last journal record of run %r at %s, cut short by a "
                    "crash (%s)",
                    storage,
                    run_id,
                    where(i),
                    exc,
                )
                continue
            raise CheckpointCorruptError(
                f"the journal of run {run_id!r} in {storage!r} is damaged at {where(i)} "
                f"({exc}); a recorded task or answer would be lost, so it is not skipped: "
                f"restore it from a backup, or remove that record if you accept losing it",
                storage=repr(storage),
                run_id=run_id,
                file=file,
                line=i + 1,
            ) from None
        seen_sealed = seen_sealed or sealed
        out.append(record)
    return out


# ---------------------------------------------------------------- checkpoint
@dataclass
class Checkpoint:
    """Everything live at one superstep boundary (payload values are codec-encoded JSON).

    ``fallback_from`` and ``load_warnings`` are not stored: ``storage.latest()`` fills
    them when the newest checkpoint(s) of the run could not be read and an older one
    was returned instead (ids of the skipped checkpoints, newest first, and one
    message per skipped checkpoint). The runner turns them into a warning event.
    """

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
    fallback_from: list[str] = field(
        default_factory=list, compare=False, repr=False, metadata={"stored": False}
    )
    load_warnings: list[str] = field(
        default_factory=list, compare=False, repr=False, metadata={"stored": False}
    )

    def to_json(self) -> str:
        # Fields already hold JSON data (payloads are codec-encoded): no deep copy needed.
        data = {name: getattr(self, name) for name in _CHECKPOINT_FIELDS}
        data["schema_version"] = SCHEMA_VERSION
        return seal(json.dumps(data, separators=(",", ":"), allow_nan=False))

    @classmethod
    def from_json(
        cls,
        text: str | bytes,
        *,
        storage: Any = None,
        file: str | None = None,
        checkpoint_id: str | None = None,
    ) -> Checkpoint:
        """Check and load a stored checkpoint; damage raises :class:`CheckpointCorruptError`."""
        try:
            data, sealed = unseal(text)
            version = data.get("schema_version", 0)
            if not isinstance(version, int):
                raise ValueError(f"schema_version is {version!r}")
            if version >= 2 and not sealed:
                raise ValueError("checksum missing")
        except ValueError as exc:
            raise _corrupt(storage, None, checkpoint_id, file, str(exc)) from None
        if version > SCHEMA_VERSION:
            raise CheckpointError(
                f"checkpoint {data.get('checkpoint_id')!r} has schema version {version}, newer "
                f"than this agentic_nb understands ({SCHEMA_VERSION}); upgrade agentic_nb"
            )
        data.setdefault("schema_version", version)
        try:
            return cls(**{k: v for k, v in data.items() if k in _CHECKPOINT_FIELDS})
        except TypeError as exc:
            raise _corrupt(
                storage,
                data.get("run_id"),
                checkpoint_id or data.get("checkpoint_id"),
                file,
                str(exc),
            ) from None

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


_CHECKPOINT_FIELDS = tuple(f.name for f in fields(Checkpoint) if f.metadata.get("stored", True))


def _corrupt(
    storage: Any, run_id: str | None, checkpoint_id: str | None, file: str | None, reason: str
) -> CheckpointCorruptError:
    what = f"checkpoint {checkpoint_id!r}" if checkpoint_id else "a checkpoint"
    if run_id:
        what += f" of run {run_id!r}"
    where = f" in {storage!r}" if storage is not None else ""
    if file:
        where += f" (file {file})"
    return CheckpointCorruptError(
        f"{what}{where} is damaged ({reason}); it cannot be loaded: resume from an earlier "
        f"checkpoint (storage.list(run_id)) or restore it from a backup",
        storage=repr(storage) if storage is not None else "",
        run_id=run_id,
        checkpoint_id=checkpoint_id,
        file=file,
    )


@dataclass(frozen=True)
class CheckpointInfo:
    """Light metadata of a checkpoint (what ``storage.list`` returns).

    ``status`` is ``"corrupt"`` for a stored checkpoint that cannot be read.
    """

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


@dataclass(frozen=True)
class RunSummary:
    """One run as ``storage.runs()`` lists it (readable by any process).

    ``status`` is the latest checkpoint's terminal status (``completed``, ``failed``,
    ``cancelled``), else ``"waiting"`` while requests are unanswered, else
    ``"running"`` (in progress, or interrupted and resumable); ``"corrupt"`` when the
    run's stored data cannot be read. ``pending_requests`` are request ids;
    ``superstep`` is the last superstep the run recorded; ``updated_at`` the time of
    its last write (seconds since the epoch).

    Example::

        >>> import asyncio
        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... async def ask(n: int, ctx: WorkflowContext[None, int]) -> None:
        ...     await ctx.yield_output(n + await ctx.request_info("more?", response_type=int))
        >>> store = InMemoryCheckpointStorage()
        >>> wf = WorkflowBuilder(name="asker", start=ask, checkpoint_storage=store).build()
        >>> run = wf.run_sync(1)
        >>> (summary,) = asyncio.run(store.runs(workflow="asker"))
        >>> summary.status, summary.pending_requests == [run.pending_requests[0].request_id]
        ('waiting', True)
    """

    run_id: str
    workflow: str
    status: str
    superstep: int
    pending_requests: list[str]
    updated_at: float


def summarize_run(
    cp: Checkpoint, journal: Iterable[dict[str, Any]], updated_at: float
) -> RunSummary:
    """The :class:`RunSummary` of a run from its latest checkpoint and its journal."""
    records = list(journal)
    answered = {r.get("id") for r in records if r.get("k") == "answer"}
    asked = [p.get("request_id") for p in cp.pending_requests]
    asked += [
        r.get("id") for r in records if r.get("k") == "request" and r.get("s", 0) >= cp.superstep
    ]
    pending: list[str] = []
    for rid in asked:
        if isinstance(rid, str) and rid not in answered and rid not in pending:
            pending.append(rid)
    steps = [r["s"] for r in records if isinstance(r.get("s"), int)]
    status = cp.status
    if status == "running":
        status = "waiting" if pending else "running"
    return RunSummary(
        run_id=cp.run_id,
        workflow=cp.workflow,
        status=status,
        superstep=max([cp.superstep, *steps]),
        pending_requests=pending,
        updated_at=max(updated_at, cp.created_at),
    )


def corrupt_summary(
    run_id: str, journal_texts: Sequence[str | bytes], updated_at: float
) -> RunSummary:
    workflow = ""
    for text in journal_texts[:1]:
        try:
            workflow = str(unseal(text)[0].get("workflow", ""))
        except ValueError:
            pass
    return RunSummary(run_id, workflow, "corrupt", -1, [], updated_at)


async def run_summaries(
    run_ids: Iterable[str],
    summarize: Callable[[str], Awaitable[RunSummary | None]],
    workflow: str | None,
) -> list[RunSummary]:
    out = []
    for run_id in run_ids:
        summary = await summarize(run_id)
        if summary is not None and (workflow is None or summary.workflow == workflow):
            out.append(summary)
    return sorted(out, key=lambda s: s.updated_at, reverse=True)


async def latest_readable(
    storage: Any,
    run_id: str,
    ids_newest_first: Iterable[str],
    load: Callable[[str], Awaitable[Checkpoint | None]],
) -> Checkpoint | None:
    """The newest checkpoint of ``ids_newest_first`` that loads; damaged ones are skipped
    with a warning and named in the result's ``fallback_from`` / ``load_warnings``."""
    skipped: list[CheckpointCorruptError] = []
    for cid in ids_newest_first:
        try:
            cp = await load(cid)
        except CheckpointCorruptError as exc:
            exc.checkpoint_id = exc.checkpoint_id or cid
            exc.run_id = exc.run_id or run_id
            skipped.append(exc)
            continue
        if cp is None:
            continue
        if skipped:
            cp.fallback_from = [e.checkpoint_id or "?" for e in skipped]
            cp.load_warnings = [str(e) for e in skipped]
            log.warning(
                "%r: the latest checkpoint(s) %s of run %r cannot be read; resuming from the "
                "older checkpoint %r (superstep %d). %s",
                storage,
                cp.fallback_from,
                run_id,
                cp.checkpoint_id,
                cp.superstep,
                cp.load_warnings[0],
            )
        return cp
    if skipped:
        raise CheckpointCorruptError(
            f"no checkpoint of run {run_id!r} in {storage!r} can be read: "
            + "; ".join(str(e) for e in skipped),
            storage=repr(storage),
            run_id=run_id,
            checkpoint_id=skipped[0].checkpoint_id,
            file=skipped[0].file,
        )
    return None


@runtime_checkable
class CheckpointStorage(Protocol):
    """Where checkpoints and run journals live. All methods are coroutines.

    ``list`` returns infos oldest first; ``keep_last`` never touches the journal;
    ``delete`` removes a run's checkpoints *and* journal. ``append`` must be durable
    once it returns (the runner awaits it before going on). ``runs`` lists runs
    newest first as :class:`RunSummary`.

    Integrity: every checkpoint and journal record is stored with a checksum;
    damaged data raises :class:`CheckpointCorruptError`, except a journal's last
    record cut short by a crash, which is dropped. ``latest`` falls back to the
    newest readable checkpoint and says so in its ``fallback_from`` / ``load_warnings``.

    Retention: a storage built with ``keep_last=N`` (default
    :data:`DEFAULT_KEEP_LAST`, ``None`` keeps all) drops a run's oldest checkpoints
    after each save so that N remain.

    One driver per run: ``acquire_lease`` / ``renew_lease`` / ``release_lease`` and
    the ``lease=`` argument of the writes (see :mod:`agentic_nb.workflow._lease`).
    Answers: an ``answer`` record (``{"k": "answer", "id": request_id, ...}``) is
    recorded at most once per request id: ``record_answer_once`` (and ``append`` of
    such a record) raises :class:`~agentic_nb.workflow.AnswerConflictError` when a
    different answer is already recorded (the same one again is a no-op).
    """

    async def save(self, checkpoint: Checkpoint, *, lease: Lease | None = None) -> None: ...
    async def get(self, checkpoint_id: str) -> Checkpoint | None: ...
    async def latest(self, run_id: str) -> Checkpoint | None: ...
    async def list(
        self, run_id: str | None = None, *, workflow: str | None = None
    ) -> list[CheckpointInfo]: ...
    async def runs(self, workflow: str | None = None) -> builtins.list[RunSummary]: ...
    async def delete(self, run_id: str) -> int: ...
    async def keep_last(self, run_id: str, n: int) -> int: ...
    async def append(
        self, run_id: str, record: dict[str, Any], *, lease: Lease | None = None
    ) -> None: ...
    async def record_answer_once(
        self, run_id: str, record: dict[str, Any], *, lease: Lease | None = None
    ) -> None: ...
    async def journal(self, run_id: str) -> builtins.list[dict[str, Any]]: ...
    async def acquire_lease(
        self, run_id: str, owner: str, ttl: float = DEFAULT_LEASE_TTL, take_over: bool = False
    ) -> Lease: ...
    async def renew_lease(self, lease: Lease) -> Lease: ...
    async def release_lease(self, lease: Lease) -> None: ...


def new_checkpoint_id() -> str:
    return uuid.uuid4().hex


def check_n(n: int) -> None:
    if n < 0:
        raise ValueError(f"keep_last needs n >= 0, got {n}")


def check_retention(keep_last: int | None) -> int | None:
    if keep_last is not None and (not isinstance(keep_last, int) or keep_last < 1):
        raise ValueError(
            f"keep_last must be an int >= 1 (2 or more keeps a fallback) or None to keep "
            f"every checkpoint, got {keep_last!r}"
        )
    return keep_last


def answer_id(record: dict[str, Any]) -> str:
    rid = record.get("id")
    if record.get("k") != "answer" or not isinstance(rid, str):
        raise ValueError(f"an answer record needs k='answer' and a str id, got {record!r}")
    return rid


class InMemoryCheckpointStorage:
    """Checkpoints in this process's memory (tests, notebooks, benchmarks).

    Checkpoints and journal records are kept as the same checksummed JSON text a
    durable storage would store. ``keep_last`` (default :data:`DEFAULT_KEEP_LAST`)
    checkpoints are kept per run.

    Example::

        >>> import asyncio
        >>> store = InMemoryCheckpointStorage()
        >>> cp = Checkpoint(checkpoint_id="c1", run_id="r", workflow="w", graph_hash="h",
        ...                 superstep=0)
        >>> asyncio.run(store.save(cp))
        >>> asyncio.run(store.latest("r")).checkpoint_id
        'c1'
    """

    def __init__(self, *, keep_last: int | None = DEFAULT_KEEP_LAST) -> None:
        self.keep_last_n = check_retention(keep_last)
        self._data: dict[str, str] = {}
        self._runs: dict[str, list[str]] = {}
        self._meta: dict[str, CheckpointInfo] = {}
        self._journals: dict[str, list[str]] = {}
        self._answers: dict[str, dict[str, str]] = {}
        self._updated: dict[str, float] = {}
        self._leases: dict[str, Lease | None] = {}
        self._fence: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"InMemoryCheckpointStorage(runs={len(self._runs)})"

    def _check_fence(self, run_id: str, lease: Lease | None) -> None:
        if lease is not None and self._fence.get(run_id) != lease.token:
            raise lost_error(self, lease, self._fence.get(run_id))

    async def save(self, checkpoint: Checkpoint, *, lease: Lease | None = None) -> None:
        self._check_fence(checkpoint.run_id, lease)
        cid = checkpoint.checkpoint_id
        if cid not in self._data:
            self._runs.setdefault(checkpoint.run_id, []).append(cid)
        self._data[cid] = checkpoint.to_json()
        self._meta[cid] = checkpoint.info()
        self._updated[checkpoint.run_id] = time.time()
        if self.keep_last_n is not None:
            await self.keep_last(checkpoint.run_id, self.keep_last_n)

    async def get(self, checkpoint_id: str) -> Checkpoint | None:
        text = self._data.get(checkpoint_id)
        if text is None:
            return None
        return Checkpoint.from_json(text, storage=self, checkpoint_id=checkpoint_id)

    async def latest(self, run_id: str) -> Checkpoint | None:
        return await latest_readable(self, run_id, reversed(self._runs.get(run_id, [])), self.get)

    async def list(
        self, run_id: str | None = None, *, workflow: str | None = None
    ) -> list[CheckpointInfo]:
        runs = [run_id] if run_id is not None else list(self._runs)
        out = [self._meta[c] for r in runs for c in self._runs.get(r, ())]
        if workflow is not None:
            out = [i for i in out if i.workflow == workflow]
        return sorted(out, key=lambda i: (i.created_at, i.superstep))

    async def runs(self, workflow: str | None = None) -> builtins.list[RunSummary]:
        async def one(run_id: str) -> RunSummary | None:
            updated = self._updated.get(run_id, 0.0)
            try:
                cp = await self.latest(run_id)
                if cp is None:
                    return None
                return summarize_run(cp, await self.journal(run_id), updated)
            except CheckpointCorruptError:
                return corrupt_summary(run_id, self._journals.get(run_id, []), updated)

        return await run_summaries(list(self._runs), one, workflow)

    async def delete(self, run_id: str) -> int:
        ids = self._runs.pop(run_id, [])
        for c in ids:
            self._data.pop(c, None)
            self._meta.pop(c, None)
        self._journals.pop(run_id, None)
        self._answers.pop(run_id, None)
        self._updated.pop(run_id, None)
        return len(ids)

    async def keep_last(self, run_id: str, n: int) -> int:
        check_n(n)
        ids = self._runs.get(run_id, [])
        drop = ids[: max(0, len(ids) - n)]
        for c in drop:
            self._data.pop(c, None)
            self._meta.pop(c, None)
        if drop:
            self._runs[run_id] = ids[len(drop) :]
        return len(drop)

    async def append(
        self, run_id: str, record: dict[str, Any], *, lease: Lease | None = None
    ) -> None:
        if record.get("k") == "answer":
            await self.record_answer_once(run_id, record, lease=lease)
            return
        self._check_fence(run_id, lease)
        self._journals.setdefault(run_id, []).append(dump_record(record))
        self._updated[run_id] = time.time()

    async def record_answer_once(
        self, run_id: str, record: dict[str, Any], *, lease: Lease | None = None
    ) -> None:
        rid = answer_id(record)
        self._check_fence(run_id, lease)
        if lease is None:
            self._refuse_if_driven(run_id)
        text = dump_record(record)
        answers = self._answers.setdefault(run_id, {})
        if rid in answers:
            if answers[rid] == text:
                return
            raise answer_conflict(self, run_id, rid, decode(unseal(answers[rid])[0].get("v")))
        answers[rid] = text
        self._journals.setdefault(run_id, []).append(text)
        self._updated[run_id] = time.time()

    def _refuse_if_driven(self, run_id: str) -> None:
        held = self._leases.get(run_id)
        if held is not None and not is_stale(held.holder()):
            raise locked_error(self, run_id, held.holder())

    async def journal(self, run_id: str) -> builtins.list[dict[str, Any]]:
        return read_journal(self._journals.get(run_id, ()), storage=self, run_id=run_id)

    # ------------------------------------------------------------------ leases
    async def acquire_lease(
        self, run_id: str, owner: str, ttl: float = DEFAULT_LEASE_TTL, take_over: bool = False
    ) -> Lease:
        ttl = validate_ttl(ttl)
        held = self._leases.get(run_id)
        if held is not None and held.owner == owner and self._fence.get(run_id) == held.token:
            lease = renewed(held)
        else:
            if held is not None and not take_over and not is_stale(held.holder()):
                raise locked_error(self, run_id, held.holder())
            token = self._fence.get(run_id, 0) + 1
            self._fence[run_id] = token
            lease = new_lease(run_id, owner, token, ttl)
        self._leases[run_id] = lease
        return lease

    async def renew_lease(self, lease: Lease) -> Lease:
        self._check_fence(lease.run_id, lease)
        fresh = renewed(lease)
        self._leases[lease.run_id] = fresh
        return fresh

    async def release_lease(self, lease: Lease) -> None:
        held = self._leases.get(lease.run_id)
        if held is not None and held.token == lease.token:
            self._leases[lease.run_id] = None


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
