"""Restoring a durable run: rebuild a :class:`Run` from a checkpoint and its journal.

The records themselves are written by :class:`~._journal.Journal` (its module
docstring lists them). ``restore`` rebuilds the committed state; ``apply_replay``
fills a re-opened superstep with the deliveries the journal says already finished,
so they are replayed, never re-run.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from ._checkpoint import (
    Checkpoint,
    CheckpointError,
    GraphMismatchError,
    graph_diff,
)
from ._context import ExecutorError
from ._events import ExecutorCompleted, WorkflowResumed
from ._journal import resolve_type, type_ref
from .codec import decode, encode

if TYPE_CHECKING:
    from ._runner import Run
    from ._superstep import OpenSuperstep

__all__ = ["apply_replay", "new_run_id", "resolve_type", "restore", "type_ref"]


# ------------------------------------------------------------------ restore
def restore(
    run: Run,
    cp: Checkpoint,
    journal: list[dict[str, Any]],
    *,
    fork: bool,
    allow_graph_change: bool = False,
    state: dict[str, Any] | None = None,
    reopen: bool = False,
) -> None:
    """Rebuild ``run`` from checkpoint ``cp`` and its run's ``journal``.

    A checkpoint that leaves nothing to run gives its terminal status at once; a run
    cancelled with ``run.cancel()`` stays cancelled unless ``reopen`` is true.
    """
    from ._routing import Delivery
    from ._runner import _PendingReq

    wf = run.workflow
    if cp.graph_hash != wf.graph_hash and not allow_graph_change:
        old = next((r.get("graph") for r in journal if r.get("k") == "graph"), None)
        raise GraphMismatchError(
            f"checkpoint {cp.checkpoint_id!r} of run {cp.run_id!r} was taken by workflow "
            f"{cp.workflow!r} with a different graph ({graph_diff(old, wf.describe())}); "
            f"resume with the same graph, or pass allow_graph_change=True if the change is safe"
        )
    run.superstep = cp.superstep
    router = run._router
    router.pending = {}
    for q in cp.queued:
        idx = wf._index.get(q["target"])
        if idx is None:
            raise CheckpointError(
                f"checkpoint {cp.checkpoint_id!r} queues a message for executor "
                f"{q['target']!r}, which workflow {wf.name!r} does not have"
            )
        router.pending.setdefault(idx, []).append(
            Delivery(idx, decode(q["message"]), q["source"], q["edge"])
        )
    for eid, bufs in cp.fan_in.items():
        st = router.fanin.get(eid)
        if st is None:
            raise CheckpointError(
                f"checkpoint {cp.checkpoint_id!r} holds buffers of fan-in {eid!r}, which "
                f"workflow {wf.name!r} does not have"
            )
        for src, msgs in bufs.items():
            st.buffers[src].extend(decode(m) for m in msgs)
    run._state = cp.decoded_state()
    for ex_id, st_data in cp.executor_states.items():
        run.executor(ex_id).on_checkpoint_restore(decode(st_data))
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
        jr = run._journal
        jr.started = False
        jr.unsaved.append({"k": "fork", "run": cp.run_id, "checkpoint": cp.checkpoint_id})
        if run.outputs:
            jr.unsaved.append({"k": "outputs", "o": [encode(o) for o in run.outputs]})
        for key, value in (state or {}).items():
            run._state[key] = value
        run.status = "running"
    else:
        run.last_checkpoint_id = cp.checkpoint_id
        run._journal.started = True
        run._answers = {r["id"]: decode(r["v"]) for r in journal if r.get("k") == "answer"}
        for r in writes:
            if r["s"] >= cp.superstep:
                run._journal.replay.setdefault((r["s"], r["e"]), []).append(r)
        for r in journal:
            if r.get("k") == "fail" and r["s"] >= cp.superstep:
                at = (r["s"], r["e"], r["p"])
                run._journal.attempts[at] = max(run._journal.attempts.get(at, 0), r["a"])
            if r.get("k") == "request" and r["s"] >= cp.superstep:
                run._journal.replay_requests.setdefault((r["s"], r["e"]), []).append(r)
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
            replayed_tasks=sum(len(v) for v in run._journal.replay.values()),
        ),
        None,
    )
    if not fork and _was_cancelled(journal):
        if reopen:
            run._journal.add({"k": "status", "status": run.status})
        else:
            run._set_cancelled(announce=False)
            return
    if not router.pending and not run._requests and not run._journal.replay:
        # Nothing left to run: the checkpoint is the run's end.
        if fork:
            edits = f" (the state edits {sorted(state)} change nothing)" if state else ""
            run.diagnostics.append(
                f"fork of checkpoint {cp.checkpoint_id!r} of run {cp.run_id!r} has nothing to "
                f"run: nothing is queued and no request is pending after superstep "
                f"{cp.superstep}{edits}; fork an earlier checkpoint to re-run from there"
            )
        run._complete()


def _was_cancelled(journal: list[dict[str, Any]]) -> bool:
    """True when the run's last ``status`` record says ``cancelled`` (not reopened since)."""
    marks = [r for r in journal if r.get("k") == "status"]
    return bool(marks) and marks[-1].get("status") == "cancelled"


def _add_failure(run: Run, r: dict[str, Any]) -> None:
    err = ExecutorError(r["e"], r["s"], r["a"], r["et"], r["em"])
    run._attempts.setdefault(r["e"], []).append((r["s"], r["a"], "", "failed", r["d"], err))


def apply_replay(run: Run, open_: OpenSuperstep) -> None:
    """Fill a freshly opened superstep with what the journal says already happened."""
    number = open_.number
    for slot in open_.slots:
        ex_id = slot.executor.id
        for r in sorted(run._journal.replay.pop((number, ex_id), ()), key=lambda r: r["p"]):
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
        for r in run._journal.replay_requests.pop((number, ex_id), ()):
            if slot.request_ids is None:
                slot.request_ids = {}
            slot.request_ids[(r["p"], r["c"])] = r["id"]
            if r["p"] == slot.next and r["id"] not in run._answers:
                slot.waiting = r["id"]
        if slot.next >= len(slot.deliveries):
            slot.done = True


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]
