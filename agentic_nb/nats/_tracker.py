"""Fold a run's events into its status: shared by the sink (run records) and watchers."""

from __future__ import annotations

from typing import Any

from agentic_nb.workflow import (
    Output,
    RequestAnswered,
    RequestInfo,
    SuperstepCompleted,
    SuperstepStarted,
    WorkflowCompleted,
    WorkflowEvent,
    WorkflowFailed,
    WorkflowStarted,
)

TERMINAL = frozenset({"completed", "failed", "cancelled"})


class RunTracker:
    """Status, superstep, outputs and open requests of one run, from its events alone.

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

    def apply(self, ev: WorkflowEvent) -> None:
        self.last_seq = max(self.last_seq, ev.seq)
        self.updated_at = ev.ts
        t = type(ev)
        if t is WorkflowStarted:
            self.status = "running"
            self.workflow = ev.workflow  # type: ignore[attr-defined]
            self.graph_hash = ev.graph_hash  # type: ignore[attr-defined]
            self.graph = ev.graph  # type: ignore[attr-defined]
            self.started_at = ev.ts
        elif t is SuperstepStarted:
            self.superstep = ev.superstep
            if self.status not in TERMINAL:
                self.status = "running"
        elif t is SuperstepCompleted:
            self.superstep = ev.superstep + 1
        elif t is Output:
            self.output_count += 1
            if self.keep_outputs:
                self.outputs.append(ev.data)  # type: ignore[attr-defined]
        elif t is RequestInfo:
            assert isinstance(ev, RequestInfo)
            self.requests[ev.request_id] = ev
            if self.status not in TERMINAL:
                self.status = "waiting"
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
        }
