"""Durable runs: journal records, checkpoints, restore and replay for :class:`Run`.

Journal record kinds (JSON objects, key ``k``):

- ``graph``   — once per run: workflow name, graph hash and ``Workflow.describe()``.
- ``write``   — a finished delivery: superstep ``s``, executor ``e``, delivery position
  ``p``, attempt ``a``, duration ``d``, sent messages ``m``, outputs ``o``, state writes ``w``.
- ``fail``    — a failed attempt (so ``previous_errors`` survive a restart).
- ``request`` — a ``request_info`` call: ``s``, ``e``, ``p``, call index ``c``, ``id``,
  the request and its response type.
- ``answer``  — the answer to request ``id``.
- ``outputs`` / ``fork`` — written by a fork: the outputs it inherits and where it came from.
"""

from __future__ import annotations

import builtins
import uuid
from typing import TYPE_CHECKING, Any

from ._checkpoint import (
    Checkpoint,
    CheckpointError,
    GraphMismatchError,
    graph_diff,
    new_checkpoint_id,
)
from ._context import ExecutorError
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
    WorkflowResumed,
)
from ._typing import is_any
from .codec import _REGISTRY, decode, encode, type_key

if TYPE_CHECKING:
    from ._context import WorkflowContext
    from ._runner import Run, _OpenSuperstep, _Slot

# Lifecycle events the engine re-creates itself; streamed agent chunks are transient.
_ENGINE_EVENTS = (
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
    if not isinstance(tp, type) or is_any(tp):
        return "Any"
    name = tp.__name__
    if name in _BUILTIN_TYPES and getattr(builtins, name, None) is tp:
        return name
    return type_key(tp)


def resolve_type(ref: str) -> Any:
    if ref in _BUILTIN_TYPES:
        return _BUILTIN_TYPES[ref]
    return _REGISTRY.get(ref, Any)


# ------------------------------------------------------------------- records
def request_record(run: Run, slot: _Slot, call: int, rid: str) -> dict[str, Any]:
    req = run._requests[rid]
    return {
        "k": "request",
        "s": run.superstep,
        "e": slot.executor.id,
        "p": slot.next,
        "c": call,
        "id": rid,
        "req": encode(req.request),
        "rt": type_ref(req.response_type),
    }


def answer_record(rid: str, value: Any) -> dict[str, Any]:
    return {"k": "answer", "id": rid, "v": encode(value)}


def failure_record(run: Run, slot: _Slot, error: ExecutorError, dur: float) -> dict[str, Any]:
    return {
        "k": "fail",
        "s": run.superstep,
        "e": slot.executor.id,
        "p": slot.next,
        "a": error.attempt,
        "d": dur,
        "et": error.error_type,
        "em": error.message,
    }


def _task_events(run: Run, executor_id: str, first: int) -> list[Any]:
    """Events a task emitted itself (logs, custom events), not the engine's own."""
    return [
        encode(e)
        for e in run.events.since(first)
        if e.executor_id == executor_id and not isinstance(e, _ENGINE_EVENTS)
    ]


async def record_write(
    run: Run,
    slot: _Slot,
    ctx: WorkflowContext[Any, Any],
    attempt: int,
    dur: float,
    first_event: int,
) -> None:
    """Persist a finished delivery at once (the superstep's "pending writes")."""
    if run._unsaved:
        await flush(run)
    writes = ctx._state_writes or {}
    record = {
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
    events = _task_events(run, slot.executor.id, first_event)
    if events:
        record["ev"] = events
    await run.storage.append(run.run_id, record)


async def flush(run: Run) -> None:
    records, run._unsaved = run._unsaved, []
    for i, rec in enumerate(records):
        try:
            await run.storage.append(run.run_id, rec)
        except BaseException:
            run._unsaved[:0] = records[i:]
            raise


# ------------------------------------------------------------- checkpoints
async def before_step(run: Run) -> None:
    if not run._journal_started:
        wf = run.workflow
        await run.storage.append(
            run.run_id,
            {"k": "graph", "workflow": wf.name, "hash": wf.graph_hash, "graph": wf.describe()},
        )
        run._journal_started = True
        if run._unsaved:
            await flush(run)
        if run.last_checkpoint_id is None and run._open is None:
            await save_checkpoint(run, "running")
    elif run._unsaved:
        await flush(run)


async def after_barrier(run: Run, *, final: bool) -> None:
    every = run.workflow.checkpoint_every
    if every is None:
        return
    if final or run.superstep % every == 0:
        await save_checkpoint(run, "completed" if final else "running")


def make_checkpoint(run: Run, status: str) -> Checkpoint:
    wf = run.workflow
    execs = wf._executors
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
            for i in sorted(run._pending)
            for d in run._pending[i]
        ],
        fan_in={
            eid: {s: [encode(m) for m in q] for s, q in st.buffers.items()}
            for eid, st in run._fanin.items()
        },
        state={k: encode(v) for k, v in run._state.items()},
        executor_states={
            ex.id: encode(st) for ex in wf._stateful if (st := ex.on_checkpoint_save()) is not None
        },
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


async def save_checkpoint(run: Run, status: str) -> None:
    cp = make_checkpoint(run, status)
    await run.storage.save(cp)
    run.last_checkpoint_id = cp.checkpoint_id
    run._emit(CheckpointSaved(checkpoint_id=cp.checkpoint_id), None)


# ------------------------------------------------------------------ restore
def restore(
    run: Run,
    cp: Checkpoint,
    journal: list[dict[str, Any]],
    *,
    fork: bool,
    allow_graph_change: bool = False,
    state: dict[str, Any] | None = None,
) -> None:
    """Rebuild ``run`` from checkpoint ``cp`` and its run's ``journal``."""
    from ._runner import Delivery, _PendingReq

    wf = run.workflow
    if cp.graph_hash != wf.graph_hash and not allow_graph_change:
        old = next((r.get("graph") for r in journal if r.get("k") == "graph"), None)
        raise GraphMismatchError(
            f"checkpoint {cp.checkpoint_id!r} of run {cp.run_id!r} was taken by workflow "
            f"{cp.workflow!r} with a different graph ({graph_diff(old, wf.describe())}); "
            f"resume with the same graph, or pass allow_graph_change=True if the change is safe"
        )
    run.superstep = cp.superstep
    run._pending = {}
    for q in cp.queued:
        idx = wf._index.get(q["target"])
        if idx is None:
            raise CheckpointError(
                f"checkpoint {cp.checkpoint_id!r} queues a message for executor "
                f"{q['target']!r}, which workflow {wf.name!r} does not have"
            )
        run._pending.setdefault(idx, []).append(
            Delivery(idx, decode(q["message"]), q["source"], q["edge"])
        )
    for eid, bufs in cp.fan_in.items():
        st = run._fanin.get(eid)
        if st is None:
            raise CheckpointError(
                f"checkpoint {cp.checkpoint_id!r} holds buffers of fan-in {eid!r}, which "
                f"workflow {wf.name!r} does not have"
            )
        for src, msgs in bufs.items():
            st.buffers[src].extend(decode(m) for m in msgs)
    run._state = cp.decoded_state()
    for ex_id, st_data in cp.executor_states.items():
        wf.executor(ex_id).on_checkpoint_restore(decode(st_data))
    run._seq = cp.event_seq

    order = {e.id: i for i, e in enumerate(wf._executors)}
    writes = sorted(
        (r for r in journal if r.get("k") == "write"),
        key=lambda r: (r["s"], order.get(r["e"], 1 << 30), r["p"]),
    )
    outputs = [decode(o) for r in journal if r.get("k") == "outputs" for o in r["o"]]
    outputs.extend(decode(o) for r in writes if r["s"] < cp.superstep for o in r["o"])
    run.outputs = outputs[: cp.outputs_count]
    for r in journal:
        k = r.get("k")
        if r.get("s", 1 << 30) >= cp.superstep and not (k == "fail" and not fork):
            continue
        if k == "write":
            run._attempts.setdefault(r["e"], []).append(
                (r["s"], r["a"], r.get("mt", ""), "completed", r["d"], None)
            )
        elif k == "fail":
            _add_failure(run, r)

    if fork:
        run.parent = (cp.run_id, cp.checkpoint_id)
        run._journal_started = False
        run._unsaved.append({"k": "fork", "run": cp.run_id, "checkpoint": cp.checkpoint_id})
        if run.outputs:
            run._unsaved.append({"k": "outputs", "o": [encode(o) for o in run.outputs]})
        for key, value in (state or {}).items():
            run._state[key] = value
        run.status = "running"
    else:
        run.last_checkpoint_id = cp.checkpoint_id
        run._journal_started = True
        run._answers = {r["id"]: decode(r["v"]) for r in journal if r.get("k") == "answer"}
        for r in writes:
            if r["s"] >= cp.superstep:
                run._replay.setdefault((r["s"], r["e"]), []).append(r)
        for r in journal:
            if r.get("k") == "request" and r["s"] >= cp.superstep:
                run._replay_requests.setdefault((r["s"], r["e"]), []).append(r)
                if r["id"] not in run._answers:
                    run._requests[r["id"]] = _PendingReq(
                        r["id"], r["e"], decode(r["req"]), resolve_type(r["rt"]), r["s"]
                    )
        run.status = "waiting" if run._requests else "running"
    run._emit(
        WorkflowResumed(
            from_checkpoint=cp.checkpoint_id,
            from_run=cp.run_id,
            fork=fork,
            replayed_tasks=sum(len(v) for v in run._replay.values()),
        ),
        None,
    )


def _add_failure(run: Run, r: dict[str, Any]) -> None:
    err = ExecutorError(r["e"], r["s"], r["a"], r["et"], r["em"])
    run._attempts.setdefault(r["e"], []).append((r["s"], r["a"], "", "failed", r["d"], err))


def apply_replay(run: Run, open_: _OpenSuperstep) -> None:
    """Fill a freshly opened superstep with what the journal says already happened."""
    number = open_.number
    for slot in open_.slots:
        ex_id = slot.executor.id
        for r in sorted(run._replay.pop((number, ex_id), ()), key=lambda r: r["p"]):
            if r["p"] != slot.next:
                continue
            for ev in r.get("ev", ()):
                run._emit(decode(ev), ex_id)
            if slot.messages is None:
                slot.messages = []
            slot.messages.extend((decode(m), t) for m, t in r["m"])
            if slot.outputs is None:
                slot.outputs = []
            slot.outputs.extend(decode(o) for o in r["o"])
            if r["w"]:
                if slot.state_writes is None:
                    slot.state_writes = {}
                slot.state_writes.update({k: decode(v) for k, v in r["w"].items()})
            run._attempts.setdefault(ex_id, []).append(
                (number, r["a"], r.get("mt", ""), "completed", r["d"], None)
            )
            run._emit(ExecutorCompleted(attempt=r["a"], duration_ms=r["d"], replayed=True), ex_id)
            slot.next += 1
        for r in run._replay_requests.pop((number, ex_id), ()):
            if slot.request_ids is None:
                slot.request_ids = {}
            slot.request_ids[(r["p"], r["c"])] = r["id"]
            if r["p"] == slot.next and r["id"] not in run._answers:
                slot.waiting = r["id"]
        if slot.next >= len(slot.deliveries):
            slot.done = True


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]
