"""Per-executor state of a run, derived incrementally from its events.

The tracker reads ``run.events`` from where it stopped last time, so widgets can
call :meth:`RunTracker.update` at every refresh for the cost of the new events only.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from agentic_nb.workflow._events import (
    AgentRunUpdate,
    ExecutorCompleted,
    ExecutorFailed,
    ExecutorInvoked,
    Log,
    MessageSent,
    RequestAnswered,
    RequestInfo,
    SuperstepStarted,
    WorkflowEvent,
)

STATES = ("pending", "running", "done", "failed", "waiting", "skipped")
"""Executor states used for colouring, in legend order."""

STATE_COLORS: dict[str, str] = {
    "pending": "#eeeeee",
    "running": "#ffd966",
    "done": "#b6e3b6",
    "failed": "#f4a6a6",
    "waiting": "#9fc5f8",
    "skipped": "#ffffff",
}
"""Fill colour of an executor node in each state."""

TERMINAL = frozenset({"completed", "failed", "cancelled"})


@dataclass
class ExecutorStats:
    """What the widgets show for one executor."""

    state: str = "pending"
    invocations: int = 0
    last_duration_ms: float | None = None
    last_error: str = ""
    failures: int = 0


class RunTracker:
    """Folds a run's events into executor states, counters and the last edges taken.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def echo(x: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output(x)
        >>> run = WorkflowBuilder(start=echo).build().start("hi")
        >>> t = RunTracker(run)
        >>> t.states()["echo"]
        'pending'
    """

    def __init__(self, run: Any, executor_ids: list[str] | None = None) -> None:
        self.run = run
        ids = executor_ids if executor_ids is not None else [e.id for e in run.workflow.executors]
        self.stats: dict[str, ExecutorStats] = {i: ExecutorStats() for i in ids}
        self.last_edges: set[tuple[str, str]] = set()
        self.last_step: int = -1
        self.logs: deque[str] = deque(maxlen=200)
        # Text an agent streamed during its current (or last) invocation, per executor.
        self.agent_text: dict[str, str] = {}
        self.cursor = 0
        self._edge_step = -1
        self._fan_in_by_sources: dict[tuple[str, str], str] = {
            (",".join(g.sources), g.targets[0]): g.id
            for g in run.workflow.edges
            if g.kind == "fan_in"
        }

    def update(self) -> bool:
        """Fold the events that arrived since the last call; True if there were any."""
        events: list[WorkflowEvent] = self.run.events[self.cursor :]
        if not events:
            return False
        self.cursor += len(events)
        for ev in events:
            self._fold(ev)
        return True

    def _stats(self, executor_id: str | None) -> ExecutorStats | None:
        if executor_id is None:
            return None
        st = self.stats.get(executor_id)
        if st is None:  # an executor id the model did not know (e.g. nested deeper)
            st = self.stats[executor_id] = ExecutorStats()
        return st

    def _fold(self, ev: WorkflowEvent) -> None:
        t = type(ev)
        if t is ExecutorInvoked:
            st = self._stats(ev.executor_id)
            assert st is not None
            st.state = "running"
            st.invocations += 1
            if ev.executor_id in self.agent_text:
                self.agent_text[ev.executor_id or ""] = ""
            src = ev.source_id  # type: ignore[attr-defined]
            if src and "," in src:
                gid = self._fan_in_by_sources.get((src, ev.executor_id or ""))
                if gid is not None:
                    self._mark_edge(ev.superstep, (gid, "join:" + (ev.executor_id or "")))
        elif t is ExecutorCompleted:
            st = self._stats(ev.executor_id)
            assert st is not None
            st.state = "done"
            st.last_duration_ms = ev.duration_ms  # type: ignore[attr-defined]
        elif t is ExecutorFailed:
            st = self._stats(ev.executor_id)
            assert st is not None
            st.failures += 1
            st.last_duration_ms = ev.duration_ms  # type: ignore[attr-defined]
            st.last_error = f"{ev.error_type}: {ev.error_message}"  # type: ignore[attr-defined]
            st.state = "running" if ev.will_retry else "failed"  # type: ignore[attr-defined]
        elif t is MessageSent:
            eid = ev.executor_id or ""
            prefix = eid.rsplit("/", 1)[0] + "/" if "/" in eid else ""
            key = (prefix + ev.edge, prefix + ev.target_id)  # type: ignore[attr-defined]
            self._mark_edge(ev.superstep, key)
        elif t is RequestInfo:
            st = self._stats(ev.executor_id)
            if st is not None:
                st.state = "waiting"
        elif t is RequestAnswered:
            st = self._stats(ev.executor_id)
            if st is not None and st.state == "waiting":
                st.state = "pending"
        elif t is SuperstepStarted:
            self.last_step = ev.superstep
        elif t is Log:
            who = ev.executor_id or "run"
            self.logs.append(f"[{ev.superstep}] {who} {ev.level}: {ev.message}")  # type: ignore[attr-defined]
        elif isinstance(ev, AgentRunUpdate) and ev.text:
            xid = ev.executor_id or "agent"
            text = self.agent_text.get(xid, "") + ev.text
            self.agent_text[xid] = text[-4000:]

    def _mark_edge(self, superstep: int, key: tuple[str, str]) -> None:
        if superstep != self._edge_step:
            self._edge_step = superstep
            self.last_edges = set()
        self.last_edges.add(key)

    def states(self) -> dict[str, str]:
        """Executor id -> state; never-invoked executors are 'skipped' once the run ended."""
        ended = self.run.status in TERMINAL
        out: dict[str, str] = {}
        for k, st in self.stats.items():
            s = st.state
            if ended and s == "pending" and st.invocations == 0:
                s = "skipped"
            elif self.run.status == "cancelled" and s == "running":
                s = "pending"
            out[k] = s
        return out
