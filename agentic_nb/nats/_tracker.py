"""Fold a run's events into its status: shared by the sink (run records) and watchers."""

from __future__ import annotations

from typing import Any

from agentic_nb.workflow import (
    CheckpointSaved,
    ExecutorCompleted,
    ExecutorFailed,
    ExecutorInvoked,
    FanInWaiting,
    Output,
    RequestAnswered,
    RequestInfo,
    SuperstepCompleted,
    SuperstepStarted,
    WorkflowCompleted,
    WorkflowEvent,
    WorkflowFailed,
    WorkflowResumed,
    WorkflowStarted,
)

TERMINAL = frozenset({"completed", "failed", "cancelled"})

RUN_LEVEL: tuple[type, ...] = (
    WorkflowStarted,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowResumed,
    SuperstepStarted,
    SuperstepCompleted,
    CheckpointSaved,
    FanInWaiting,
)
"""Events a run emits about itself (``executor_id`` is ``None``). The same events of a
sub-workflow bubble up into the parent run with ``executor_id`` set to the path of the
``WorkflowExecutor`` (``"sub"``, ``"outer/inner"``)."""


def is_child_event(ev: WorkflowEvent, own: frozenset[str] | set[str] | None) -> bool:
    """True when ``ev`` bubbled up from a sub-workflow rather than being the run's own.

    ``own`` is the set of the run's own executor ids (from ``WorkflowStarted.graph``);
    without it, a ``/`` in the executor path marks a child event.

    Example::

        >>> from agentic_nb.workflow import Output, WorkflowStarted
        >>> is_child_event(WorkflowStarted(executor_id="sub"), {"sub", "fin"})
        True
        >>> is_child_event(Output(executor_id="sub/end"), {"sub", "fin"})
        True
        >>> is_child_event(Output(executor_id="fin"), {"sub", "fin"})
        False
    """
    ex = ev.executor_id
    if ex is None:
        return False
    if isinstance(ev, RUN_LEVEL):
        return True
    if own:
        return ex not in own
    return "/" in ex


def own_executors(graph: dict[str, Any] | None) -> frozenset[str]:
    """The executor ids of a ``Workflow.describe()`` graph (top level only)."""
    if not graph:
        return frozenset()
    return frozenset(str(x.get("id", "")) for x in graph.get("executors", ()))


class RunTracker:
    """Status, superstep, outputs and open requests of one run, from its events alone.

    Events of sub-workflows (see :func:`is_child_event`) do not change the run's
    status, name or outputs; they are counted in ``child_events``. A run is
    ``waiting`` only once every executor of the open superstep has finished or
    is itself waiting for an answer — not at the first ``RequestInfo`` while
    siblings still run.

    Example::

        >>> from agentic_nb.workflow import WorkflowStarted, WorkflowCompleted
        >>> t = RunTracker("r1")
        >>> t.apply(WorkflowStarted(run_id="r1", workflow="demo"))
        >>> t.apply(WorkflowCompleted(run_id="r1", supersteps=2))
        >>> (t.status, t.workflow, t.superstep)
        ('completed', 'demo', 2)
    """

    def __init__(self, run_id: str, *, keep_outputs: bool = True) -> None:
        self.run_id = run_id
        self.keep_outputs = keep_outputs
        self.output_count = 0
        self.status = "created"
        self.workflow = ""
        self.graph_hash = ""
        self.graph: dict[str, Any] | None = None
        self.superstep = 0
        self.started_at: float | None = None
        self.updated_at: float | None = None
        self.last_seq = -1
        self.outputs: list[Any] = []
        self.requests: dict[str, RequestInfo] = {}
        self.error: str | None = None
        self.own: frozenset[str] = frozenset()
        self.child_events = 0
        self._busy: set[str] = set()  # executors of the open superstep still working

    def apply(self, ev: WorkflowEvent) -> None:
        self.last_seq = max(self.last_seq, ev.seq)
        self.updated_at = ev.ts
        if ev.executor_id is not None and is_child_event(ev, self.own):
            self.child_events += 1
            return
        t = type(ev)
        if t is WorkflowStarted:
            self.status = "running"
            self.workflow = ev.workflow  # type: ignore[attr-defined]
            self.graph_hash = ev.graph_hash  # type: ignore[attr-defined]
            self.graph = ev.graph  # type: ignore[attr-defined]
            self.own = own_executors(self.graph)
            self.started_at = ev.ts
        elif t is SuperstepStarted:
            self.superstep = ev.superstep
            self._busy = set(ev.executors)  # type: ignore[attr-defined]
            if self.status not in TERMINAL:
                self.status = "running"
        elif t is SuperstepCompleted:
            self.superstep = ev.superstep + 1
            self._busy.clear()
        elif t is ExecutorInvoked:
            self._busy.add(ev.executor_id or "")
        elif t is ExecutorCompleted or (t is ExecutorFailed and not ev.will_retry):  # type: ignore[attr-defined]
            self._busy.discard(ev.executor_id or "")
            self._maybe_waiting()
        elif t is Output:
            self.output_count += 1
            if self.keep_outputs:
                self.outputs.append(ev.data)  # type: ignore[attr-defined]
        elif t is RequestInfo:
            assert isinstance(ev, RequestInfo)
            self.requests[ev.request_id] = ev
            self._busy.discard(ev.executor_id or "")
            self._maybe_waiting()
        elif t is RequestAnswered:
            self.requests.pop(ev.request_id, None)  # type: ignore[attr-defined]
            if self.status == "waiting" and not self.requests:
                self.status = "running"
        elif t is WorkflowCompleted:
            self.status = ev.status or "completed"  # type: ignore[attr-defined]
            self.superstep = max(self.superstep, ev.supersteps)  # type: ignore[attr-defined]
        elif isinstance(ev, WorkflowFailed):
            self.status = ev.status or "failed"
            self.error = ev.error_message

    def _maybe_waiting(self) -> None:
        if self.requests and not self._busy and self.status not in TERMINAL:
            self.status = "waiting"

    def record(self) -> dict[str, Any]:
        """The JSON record kept in the ``agentic_runs`` bucket."""
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "status": self.status,
            "superstep": self.superstep,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
            "last_seq": self.last_seq,
            "graph_hash": self.graph_hash,
            "pending_requests": sorted(self.requests),
            "outputs": self.output_count,
            "error": self.error,
            "child_events": self.child_events,
        }
