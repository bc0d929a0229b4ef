"""Small helpers shared by the workflow engine tests (not tests themselves)."""

from __future__ import annotations

from typing import Any

from agentic_nb.workflow import (
    ExecutorInvoked,
    MessageUndelivered,
    WorkflowEvent,
    WorkflowResult,
)


def invoked(result: WorkflowResult | Any, executor_id: str | None = None) -> list[ExecutorInvoked]:
    """ExecutorInvoked events of a result/run, optionally for one executor."""
    evs = result.events.of_type(ExecutorInvoked)
    if executor_id is None:
        return evs
    return [e for e in evs if e.executor_id == executor_id]


def supersteps_of(result: WorkflowResult | Any, executor_id: str) -> list[int]:
    """The supersteps in which ``executor_id`` was invoked (first attempts only)."""
    return [e.superstep for e in invoked(result, executor_id) if e.attempt == 1]


def undelivered(
    result: WorkflowResult | Any, reason: str | None = None
) -> list[MessageUndelivered]:
    evs = result.events.of_type(MessageUndelivered)
    return [e for e in evs if reason is None or e.reason == reason]


def event_types(events: Any) -> list[str]:
    return [e.type for e in events]


def of_type(events: Any, cls: type[WorkflowEvent]) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]
