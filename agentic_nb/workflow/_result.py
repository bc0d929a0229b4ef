"""Plain result objects returned by runs: WorkflowResult, StepReport and friends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from ._events import EventLog, FanInWaiting, MessageSent, WorkflowEvent
from ._usage import RunUsage

T = TypeVar("T")


@dataclass(frozen=True)
class QueuedMessage:
    """A message waiting to be delivered (``run.queued_messages()``)."""

    target_id: str
    source_id: str | None
    edge: str | None
    payload: Any

    @property
    def payload_type(self) -> str:
        return type(self.payload).__name__


@dataclass(frozen=True)
class PendingRequestInfo:
    """A ``ctx.request_info`` request waiting for ``run.respond`` (``run.pending_requests``)."""

    request_id: str
    executor_id: str
    request: Any
    response_type: Any
    superstep: int


@dataclass
class StepReport:
    """What one ``await run.step()`` did.

    Example::

        >>> StepReport(superstep=0, executors=["a"], delivered=1).executors
        ['a']
    """

    superstep: int
    executors: list[str] = field(default_factory=list)
    delivered: int = 0
    messages: list[MessageSent] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)
    events: list[WorkflowEvent] = field(default_factory=list)
    status: str = "running"


@dataclass
class WorkflowResult:
    """The outcome of a run: ``status``, ``outputs``, ``events`` and diagnostics.

    ``status`` is ``completed`` (nothing pending), ``waiting`` (requests pending),
    ``failed`` or ``cancelled``. ``diagnostics`` explains undeliverable messages and
    fan-ins that never fired.

    Example::

        >>> r = WorkflowResult(run_id="r", status="completed", outputs=[1, "a"])
        >>> r.get_output(str), r.is_success
        ('a', True)
    """

    run_id: str
    status: str
    outputs: list[Any] = field(default_factory=list)
    events: EventLog = field(default_factory=EventLog)
    supersteps: int = 0
    duration: float = 0.0
    error: str | None = None
    diagnostics: list[str] = field(default_factory=list)
    pending_requests: list[PendingRequestInfo] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    _usage_before: RunUsage | None = field(default=None, repr=False, compare=False)

    @property
    def usage(self) -> RunUsage:
        """Tokens and model calls the run's agents used (from its ``AgentUsage`` events;
        a resumed run adds what it used before). ``result.usage.cost(prices)`` prices it.

        Example::

            >>> WorkflowResult(run_id="r", status="completed").usage.total_tokens
            0
        """
        return RunUsage.of(self.events, base=self._usage_before)

    @property
    def is_success(self) -> bool:
        return self.status == "completed"

    @property
    def fan_in_waiting(self) -> list[FanInWaiting]:
        """Fan-ins that still held messages when the run ended."""
        return self.events.of_type(FanInWaiting)

    @overload
    def get_output(self) -> Any: ...
    @overload
    def get_output(self, type: type[T]) -> T | None: ...
    def get_output(self, type: Any = None) -> Any:
        """The first output (of ``type``, when given), or ``None``."""
        for out in self.outputs:
            if type is None or isinstance(out, type):
                return out
        return None

    def __repr__(self) -> str:
        extra = f", error={self.error!r}" if self.error else ""
        return (
            f"WorkflowResult(status={self.status!r}, outputs={self.outputs!r:.200}, "
            f"supersteps={self.supersteps}, events={len(self.events)}, "
            f"duration={self.duration:.4f}s{extra})"
        )
