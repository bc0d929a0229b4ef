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
"""

from __future__ import annotations

import builtins
import copy
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


class Journal:
    """Writes one run's journal and checkpoints to its storage.

    ``active`` is false without storage: then every method is a no-op, and the
    engine tests ``active`` before calling the async ones on its hot path.
    """

    __slots__ = (
        "active",
        "attempts",
        "replay",
        "replay_requests",
        "run",
        "started",
        "storage",
        "unsaved",
    )

    def __init__(self, run: Run, storage: Any) -> None:
        self.run = run
        self.storage = storage
        self.active = storage is not None
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
        await self.storage.append(run.run_id, record)

    async def flush(self) -> None:
        """Write the records not stored yet (in order; kept on failure)."""
        if not self.active or not self.unsaved:
            return
        records, self.unsaved = self.unsaved, []
        for i, rec in enumerate(records):
            try:
                await self.storage.append(self.run.run_id, rec)
            except BaseException:
                self.unsaved[:0] = records[i:]
                raise

    # ------------------------------------------------------------ checkpoints
    async def before_step(self) -> None:
        """First call of a run: the ``graph`` record and the initial checkpoint."""
        run = self.run
        if not self.started:
            if await self.storage.latest(run.run_id) is not None:
                raise RunStateError(
                    f"run {run.run_id!r} already exists in {self.storage!r}: starting it again "
                    f"would merge two runs' journals; continue it with "
                    f"wf.resume({run.run_id!r}), or start with another run_id (or none)"
                )
            wf = run.workflow
            await self.storage.append(
                run.run_id,
                {"k": "graph", "workflow": wf.name, "hash": wf.graph_hash, "graph": wf.describe()},
            )
            self.started = True
            await self.flush()
            if run.last_checkpoint_id is None and run._engine.open is None:
                await self.save_checkpoint("running")
        elif self.unsaved:
            await self.flush()

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
        await self.storage.save(cp)
        run.last_checkpoint_id = cp.checkpoint_id
        run._emit(CheckpointSaved(checkpoint_id=cp.checkpoint_id), None)
