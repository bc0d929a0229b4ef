"""The persister of a run: its journal records and checkpoints.

Journal record kinds (JSON objects, key ``k``):

- ``graph``   — once per run: workflow name, graph hash and ``Workflow.describe()``.
- ``write``   — a finished delivery: superstep ``s``, executor ``e``, delivery position
  ``p``, attempt ``a``, duration ``d``, message type ``mt``, sent messages ``m``,
  outputs ``o``, state writes ``w``.
- ``fail``    — a failed attempt (so ``previous_errors`` and attempt counts survive a
  restart).
- ``request`` — a ``request_info`` call: ``s``, ``e``, ``p``, call index ``c``, ``id``,
  the request and its response type.
- ``answer``  — the answer to request ``id``.
- ``outputs`` / ``fork`` — written by a fork: the outputs it inherits and where it came from.
- ``status`` — a status change between checkpoints: ``cancelled`` by ``run.cancel()``,
  back to ``running``/``waiting`` by ``run.reopen()`` (a resume honours the last one).

A :class:`Journal` without storage does nothing (``active`` is false and the engine
skips it on its hot path); restoring a run from these records is ``_durable.py``.

One driver per run: a journal whose storage hands out leases (``acquire_lease``, see
``_lease.py``) holds the run's lease while this process drives it — taken when the
run first touches storage (a new run's first superstep; ``wf.resume`` loads under
it), renewed at each superstep once older than ttl/3 and by a light background task
while a superstep runs, released when ``step``/``until_idle`` returns (so a waiting
or finished run holds none) or the :class:`Run` is dropped. Taking it again first
checks that no other process wrote to the run meanwhile. Every append and save carries it, so a
process whose lease was taken over gets :class:`LeaseLostError` and writes nothing
more. A journal without the lease holds none and answers go through
``record_answer_once`` (compare-and-set), so one of two competing answers wins.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import copy
import os
import time
import uuid
import weakref
from typing import TYPE_CHECKING, Any

from ._checkpoint import Checkpoint, new_checkpoint_id
from ._context import ExecutorError
from ._errors import RunStateError
from ._events import (
    AgentRunUpdate,
    CheckpointSaved,
    ExecutorCompleted,
    ExecutorFailed,
    ExecutorInvoked,
    MessageSent,
    MessageUndelivered,
    Output,
    RequestAnswered,
    RequestInfo,
)
from ._lease import DEFAULT_LEASE_TTL, HOST, Lease, LeaseLostError, RunLockedError
from ._typing import is_any
from .codec import _REGISTRY, decode, encode, type_key

if TYPE_CHECKING:
    from ._context import WorkflowContext
    from ._executor import Executor
    from ._runner import Run
    from ._superstep import Slot
    from ._workflow import Workflow

# Lifecycle events the engine re-creates itself; streamed agent chunks are transient.
ENGINE_EVENTS = (
    ExecutorInvoked,
    ExecutorCompleted,
    ExecutorFailed,
    MessageSent,
    MessageUndelivered,
    Output,
    RequestInfo,
    RequestAnswered,
    CheckpointSaved,
    AgentRunUpdate,
)

_BUILTIN_TYPES = {t.__name__: t for t in (int, str, float, bool, dict, list, tuple, bytes)}


def type_ref(tp: Any) -> str:
    """How a (response) type is written into a journal or checkpoint."""
    if not isinstance(tp, type) or is_any(tp):
        return "Any"
    name = tp.__name__
    if name in _BUILTIN_TYPES and getattr(builtins, name, None) is tp:
        return name
    return type_key(tp)


def resolve_type(ref: str) -> Any:
    """The type a :func:`type_ref` names (``Any`` when it is not registered here)."""
    if ref in _BUILTIN_TYPES:
        return _BUILTIN_TYPES[ref]
    return _REGISTRY.get(ref, Any)


def own_executors(wf: Workflow) -> tuple[Executor, ...]:
    """The executors of one run: a fresh copy of each stateful executor, the rest shared.

    A copy starts from the state of the workflow's instance (through its own
    ``on_checkpoint_save``/``on_checkpoint_restore``, a codec round trip or a deep
    copy in between), so two runs never share executor-local state.
    """
    execs = wf._executors
    if not wf._stateful:
        return execs
    stateful = set(map(id, wf._stateful))
    return tuple(_copy_of(ex) if id(ex) in stateful else ex for ex in execs)


def _copy_of(ex: Executor) -> Executor:
    inst = copy.copy(ex)
    state = ex.on_checkpoint_save()
    if state is not None:
        try:
            fresh = decode(encode(state))
        except Exception:
            fresh = copy.deepcopy(state)
        inst.on_checkpoint_restore(fresh)
    return inst


# Release tasks scheduled by a dropped Run (kept referenced until they finish).
_RELEASING: set[asyncio.Task[Any]] = set()


class LeaseBox:
    """The lease a run holds, apart from the run (a dropped Run releases it)."""

    __slots__ = ("lease", "renewed_at", "renewer")

    def __init__(self) -> None:
        self.lease: Lease | None = None
        self.renewed_at = 0.0
        self.renewer: asyncio.Task[Any] | None = None

    def stop_renewer(self) -> None:
        task, self.renewer = self.renewer, None
        if task is not None and not task.done():
            task.cancel()


async def _renew_forever(storage: Any, box: LeaseBox) -> None:
    """Keep the lease alive while a long superstep runs (references no Run)."""
    while box.lease is not None:
        await asyncio.sleep(box.lease.ttl / 3)
        lease = box.lease
        if lease is None:
            return
        try:
            box.lease = await storage.renew_lease(lease)
            box.renewed_at = time.monotonic()
        except LeaseLostError:
            return  # the run's next write is refused and stops it
        except Exception:
            continue  # a storage hiccup: the next superstep (or tick) retries


def _release_dropped(storage: Any, box: LeaseBox) -> None:
    """Finalizer of a Run: give its lease back (best effort; else it expires after ttl)."""
    box.stop_renewer()
    lease, box.lease = box.lease, None
    if lease is None:
        return
    coro = storage.release_lease(lease)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    try:
        if loop is not None:
            task = loop.create_task(coro)
            _RELEASING.add(task)
            task.add_done_callback(_RELEASING.discard)
        else:
            asyncio.run(coro)
    except Exception:
        coro.close()


def new_owner() -> str:
    """An owner name for this process's leases: ``host:pid:random``."""
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Journal:
    """Writes one run's journal and checkpoints to its storage.

    ``active`` is false without storage: then every method is a no-op, and the
    engine tests ``active`` before calling the async ones on its hot path.
    """

    __slots__ = (
        "active",
        "attempts",
        "box",
        "count",
        "leased",
        "owner",
        "replay",
        "replay_requests",
        "run",
        "started",
        "storage",
        "taken",
        "unsaved",
    )

    #: Seconds a lease lives without renewal (renewed every third of it while driven).
    LEASE_TTL = DEFAULT_LEASE_TTL

    def __init__(self, run: Run, storage: Any) -> None:
        self.run = run
        self.storage = storage
        self.active = storage is not None
        # Storages without leases (third-party ones) are written without them.
        self.leased = self.active and hasattr(storage, "acquire_lease")
        self.box: LeaseBox | None = None
        self.owner = ""
        self.taken: LeaseLostError | None = None  # set once another owner took the run
        self.count = 0  # journal records known to this process (written or loaded)
        self.started = False  # the ``graph`` record is written
        self.unsaved: list[dict[str, Any]] = []  # records waiting for the next flush
        # What a restored run finds already done in its open superstep (see _durable).
        self.replay: dict[tuple[int, str], list[dict[str, Any]]] = {}
        self.replay_requests: dict[tuple[int, str], list[dict[str, Any]]] = {}
        # (superstep, executor, delivery position) -> attempts that already failed there
        self.attempts: dict[tuple[int, str, int], int] = {}

    # --------------------------------------------------------------- records
    def request(self, slot: Slot, call: int, rid: str) -> None:
        if not self.active:
            return
        run = self.run
        req = run._requests[rid]
        self.unsaved.append(
            {
                "k": "request",
                "s": run.superstep,
                "e": slot.executor.id,
                "p": slot.next,
                "c": call,
                "id": rid,
                "req": encode(req.request),
                "rt": type_ref(req.response_type),
            }
        )

    def answer_record(self, rid: str, value: Any) -> dict[str, Any] | None:
        """The encoded ``answer`` record (raises :class:`CodecError` before anything changes)."""
        if not self.active:
            return None
        return {"k": "answer", "id": rid, "v": encode(value)}

    def add(self, record: dict[str, Any] | None) -> None:
        if record is not None and self.active:
            self.unsaved.append(record)

    def failure(self, slot: Slot, error: ExecutorError, dur: float) -> None:
        if not self.active:
            return
        self.unsaved.append(
            {
                "k": "fail",
                "s": self.run.superstep,
                "e": slot.executor.id,
                "p": slot.next,
                "a": error.attempt,
                "d": dur,
                "et": error.error_type,
                "em": error.message,
            }
        )

    async def write(
        self,
        slot: Slot,
        ctx: WorkflowContext[Any, Any],
        attempt: int,
        dur: float,
        first_event: int,
    ) -> None:
        """Persist a finished delivery at once (the superstep's "pending writes")."""
        if self.unsaved:
            await self.flush()
        run = self.run
        writes = ctx._state_writes or {}
        record: dict[str, Any] = {
            "k": "write",
            "s": run.superstep,
            "e": slot.executor.id,
            "p": slot.next,
            "a": attempt,
            "d": dur,
            "mt": type(ctx._delivery.message).__name__,
            "m": [[encode(m), t] for m, t in ctx._messages],
            "o": [encode(o) for o in ctx._outputs or ()],
            "w": {k: encode(v) for k, v in writes.items()},
        }
        ex_id = slot.executor.id
        events = [
            encode(e)
            for e in run.events.since(first_event)
            if e.executor_id == ex_id and not isinstance(e, ENGINE_EVENTS)
        ]
        if events:
            record["ev"] = events
        # self.append(record), inlined: this is once per delivery of a durable run.
        if self.taken is not None:
            raise self.taken
        box = self.box
        lease = None if box is None else box.lease
        try:
            if lease is None:
                await self.storage.append(run.run_id, record)
            else:
                await self.storage.append(run.run_id, record, lease=lease)
        except LeaseLostError as exc:
            self.lose(exc)
            raise
        self.count += 1

    async def append(self, record: dict[str, Any]) -> None:
        """One journal record, fenced by the lease when this process holds it."""
        if self.taken is not None:
            raise self.taken  # never write again once another owner took the run
        lease = self.lease
        try:
            if lease is None:
                await self.storage.append(self.run.run_id, record)
            else:
                await self.storage.append(self.run.run_id, record, lease=lease)
        except LeaseLostError as exc:
            self.lose(exc)
            raise
        self.count += 1

    async def flush(self) -> None:
        """Write the records not stored yet (in order; kept on failure)."""
        if not self.active or not self.unsaved:
            return
        records, self.unsaved = self.unsaved, []
        for i, rec in enumerate(records):
            try:
                await self.append(rec)
            except LeaseLostError:
                raise  # taken over: what this process did not store is not its to store
            except BaseException:
                self.unsaved[:0] = records[i:]
                raise

    # ----------------------------------------------------------------- lease
    @property
    def lease(self) -> Lease | None:
        box = self.box
        return None if box is None else box.lease

    async def acquire(self, *, take_over: bool = False) -> None:
        """Hold the run's lease (``RunLockedError`` names the live holder)."""
        if not self.leased or self.lease is not None:
            return
        if self.taken is not None:
            raise self.taken
        box = self.box
        if box is None:
            box = self.box = LeaseBox()
            self.owner = new_owner()
            weakref.finalize(self.run, _release_dropped, self.storage, box)
        box.lease = await self.storage.acquire_lease(
            self.run.run_id, self.owner, ttl=self.LEASE_TTL, take_over=take_over
        )
        box.renewed_at = time.monotonic()

    async def reacquire(self) -> None:
        """Drive again a run this process let go: lease, then check nobody wrote since.

        A lease held briefly elsewhere (another process loading the run) is waited for
        up to a second; a driver holding it longer raises :class:`RunLockedError`.
        """
        deadline = time.monotonic() + 1.0
        while True:
            try:
                await self.acquire()
                break
            except RunLockedError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.02)
        known = self.count
        stored = len(await self.storage.journal(self.run.run_id))
        if stored != known:
            await self.release()
            raise RunStateError(
                f"run {self.run.run_id!r} was changed in {self.storage!r} by another process "
                f"since this one loaded it ({known} journal records here, {stored} stored); "
                f"load it again with wf.resume({self.run.run_id!r}) to continue from there"
            )

    async def keep_alive(self) -> None:
        """Renew the lease once older than a third of its ttl (at each superstep)."""
        box = self.box
        lease = None if box is None else box.lease
        if box is None or lease is None:
            return
        if time.monotonic() - box.renewed_at > lease.ttl / 3:
            try:
                box.lease = await self.storage.renew_lease(lease)
            except LeaseLostError as exc:
                self.lose(exc)
                raise
            box.renewed_at = time.monotonic()

    def start_renewer(self) -> None:
        """A light background renewal while this process drives the run."""
        box = self.box
        if box is None or box.lease is None or (box.renewer and not box.renewer.done()):
            return
        box.renewer = asyncio.get_running_loop().create_task(
            _renew_forever(self.storage, box), name=f"lease-renewal-{self.run.run_id}"
        )

    async def release(self) -> None:
        """Give the lease back (the run is idle: another process may answer and drive it)."""
        box = self.box
        if box is None:
            return
        box.stop_renewer()
        lease, box.lease = box.lease, None
        if lease is not None:
            with contextlib.suppress(LeaseLostError):
                await self.storage.release_lease(lease)

    def lose(self, exc: LeaseLostError) -> None:
        """Another owner took the run over: hold nothing, write nothing from now on."""
        self.taken = exc
        self.unsaved = []
        if self.box is not None:
            self.box.stop_renewer()
            self.box.lease = None

    # ------------------------------------------------------------ checkpoints
    async def before_step(self) -> None:
        """First call of a run: the ``graph`` record and the initial checkpoint."""
        run = self.run
        if self.taken is not None:
            raise self.taken
        if not self.started:
            if await self.storage.latest(run.run_id) is not None:
                raise RunStateError(
                    f"run {run.run_id!r} already exists in {self.storage!r}: starting it again "
                    f"would merge two runs' journals; continue it with "
                    f"wf.resume({run.run_id!r}), or start with another run_id (or none)"
                )
            if self.leased:
                await self.acquire()
            wf = run.workflow
            await self.append(
                {"k": "graph", "workflow": wf.name, "hash": wf.graph_hash, "graph": wf.describe()},
            )
            self.started = True
            await self.flush()
            if run.last_checkpoint_id is None and run._engine.open is None:
                await self.save_checkpoint("running")
        else:
            box = self.box
            if box is not None and box.lease is not None:
                if time.monotonic() - box.renewed_at > box.lease.ttl / 3:
                    await self.keep_alive()
            elif self.leased:
                await self.reacquire()
            if self.unsaved:
                await self.flush()
        box = self.box
        if box is not None and box.lease is not None and box.renewer is None:
            self.start_renewer()

    async def after_barrier(self, *, final: bool) -> None:
        every = self.run.workflow.checkpoint_every
        if every is None:
            return
        if final or self.run.superstep % every == 0:
            await self.save_checkpoint("completed" if final else "running")

    def make_checkpoint(self, status: str) -> Checkpoint:
        run = self.run
        wf = run.workflow
        execs = wf._executors
        router = run._router
        parent = run.last_checkpoint_id
        if parent is None and run.parent is not None:
            parent = run.parent[1]
        return Checkpoint(
            checkpoint_id=new_checkpoint_id(),
            run_id=run.run_id,
            workflow=wf.name,
            graph_hash=wf.graph_hash,
            superstep=run.superstep,
            parent_id=parent,
            queued=[
                {
                    "target": execs[i].id,
                    "source": d.source,
                    "edge": d.edge,
                    "message": encode(d.message),
                }
                for i in sorted(router.pending)
                for d in router.pending[i]
            ],
            fan_in={
                eid: {s: [encode(m) for m in q] for s, q in st.buffers.items()}
                for eid, st in router.fanin.items()
            },
            state={k: encode(v) for k, v in run._state.items()},
            executor_states=self.executor_states(),
            pending_requests=[
                {
                    "request_id": r.request_id,
                    "executor_id": r.executor_id,
                    "request": encode(r.request),
                    "response_type": type_ref(r.response_type),
                    "superstep": r.superstep,
                }
                for r in run._requests.values()
            ],
            outputs_count=len(run.outputs),
            event_seq=run._seq,
            status=status,
        )

    def executor_states(self) -> dict[str, Any]:
        """What this run's stateful executors return from ``on_checkpoint_save``."""
        run = self.run
        wf = run.workflow
        states: dict[str, Any] = {}
        for ex in wf._stateful:
            st = run._executors[wf._index[ex.id]].on_checkpoint_save()
            if st is not None:
                states[ex.id] = encode(st)
        return states

    async def save_checkpoint(self, status: str) -> None:
        run = self.run
        cp = self.make_checkpoint(status)
        if self.taken is not None:
            raise self.taken
        lease = self.lease
        try:
            if lease is None:
                await self.storage.save(cp)
            else:
                await self.storage.save(cp, lease=lease)
        except LeaseLostError as exc:
            self.lose(exc)
            raise
        run.last_checkpoint_id = cp.checkpoint_id
        run._emit(CheckpointSaved(checkpoint_id=cp.checkpoint_id), None)
