"""Exceptions of the workflow layer; every message names what is involved."""

from __future__ import annotations

from collections.abc import Sequence


class WorkflowError(Exception):
    """Base class of agentic_nb workflow errors."""


class WorkflowValidationError(WorkflowError, ValueError):
    """``WorkflowBuilder.build()`` found problems; ``problems`` lists every one.

    Example::

        >>> err = WorkflowValidationError(["edge a->b: unknown executor 'b'"])
        >>> err.problems
        ["edge a->b: unknown executor 'b'"]
    """

    def __init__(self, problems: Sequence[str], workflow: str = "workflow") -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"workflow {workflow!r} is invalid ({len(self.problems)} problems):\n{lines}"
        )


class ExecutorTimeout(WorkflowError, TimeoutError):
    """A handler ran longer than its executor's ``timeout``."""


class RoutingError(WorkflowError):
    """A condition, switch predicate or fan-out selection raised while routing a message."""


class RequestError(WorkflowError, LookupError):
    """``run.respond`` was given an unknown, already answered or mistyped response."""


class RunStateError(WorkflowError, RuntimeError):
    """An operation that the run's current status does not allow."""
