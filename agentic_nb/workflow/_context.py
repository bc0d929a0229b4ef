"""WorkflowContext: what a handler uses to talk to the rest of the workflow."""

from __future__ import annotations

import typing
from collections.abc import Awaitable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._events import Custom, Log, WorkflowEvent
from ._typing import matcher_for, type_name
from .codec import CodecError, narrowed

if TYPE_CHECKING:
    from typing_extensions import TypeVar as _TV

    from ._runner import Run

    M = _TV("M", default=Any)
    O = _TV("O", default=Any)  # noqa: E741
else:
    M = TypeVar("M")
    O = TypeVar("O")  # noqa: E741

T = TypeVar("T")


# Message types that always come back as themselves from a journal.
_EXACT = frozenset({int, str, float, bool, bytes, type(None), list, dict, tuple})
_EXHAUSTED = iter(())  # an empty iterator stays exhausted: safe to share


class _Done:
    """An awaitable that has already done its work (so sync handlers need no await)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return _EXHAUSTED  # type: ignore[return-value]

    def __repr__(self) -> str:
        return "<done>"


DONE = _Done()


class _Ready(Generic[T]):
    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, T]:
        return self.value
        yield  # pragma: no cover - makes this a generator


AttemptRecord = tuple[int, int, str, str, float, "ExecutorError | None"]


class Attempt:
    """One earlier invocation of an executor in this run (``ctx.previous_attempts``).

    ``status`` is ``"completed"``, ``"failed"`` or ``"waiting"`` (stopped at a request).

    Example::

        >>> Attempt(2, 1, "str", "completed", 0.4).status
        'completed'
    """

    __slots__ = ("attempt", "duration_ms", "error", "message_type", "status", "superstep")

    def __init__(
        self,
        superstep: int,
        attempt: int,
        message_type: str,
        status: str,
        duration_ms: float,
        error: ExecutorError | None = None,
    ) -> None:
        self.superstep = superstep
        self.attempt = attempt
        self.message_type = message_type
        self.status = status
        self.duration_ms = duration_ms
        self.error = error

    def __repr__(self) -> str:
        err = f", error={self.error}" if self.error else ""
        return (
            f"Attempt(superstep={self.superstep}, attempt={self.attempt}, "
            f"message_type={self.message_type!r}, status={self.status!r}{err})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Attempt):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ExecutorError:
    """A failure of an earlier invocation (``ctx.previous_errors``)."""

    executor_id: str
    superstep: int
    attempt: int
    error_type: str
    message: str

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}"


class PendingRequest(BaseException):
    """Raised inside a handler by ``request_info`` when no answer is recorded yet.

    The runner catches it: the delivery is suspended and re-run, with recorded
    answers replayed, once the request is answered. Do not catch it.
    """

    def __init__(self, request_id: str) -> None:
        super().__init__(request_id)
        self.request_id = request_id


class WorkflowContext(Generic[M, O]):
    """Handed to every handler: send messages, yield outputs, emit events, share state.

    ``WorkflowContext[M, O]``: ``M`` is what the handler sends along edges, ``O``
    what it yields as workflow output. Every method works from async handlers
    (``await ctx.send_message(x)``) and sync ones (``ctx.send_message(x)``).

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor(id="count")
        ... def count(text: str, ctx: WorkflowContext[None, int]) -> None:
        ...     ctx.set_state("seen", text)
        ...     ctx.yield_output(len(text))
        >>> WorkflowBuilder(start=count).build().run_sync("four").outputs
        [4]
    """

    __slots__ = (
        "_attempt",
        "_buffer_events",
        "_calls",
        "_delivery",
        "_events",
        "_executor",
        "_messages",
        "_outputs",
        "_run",
        "_slot",
        "_state_writes",
        "_threaded",
    )

    def __class_getitem__(cls, params: Any) -> Any:
        if not isinstance(params, tuple):
            params = (params, Any)
        return super().__class_getitem__(params)  # type: ignore[misc]

    def __init__(
        self,
        run: Run,
        executor_id: str,
        delivery: Any,
        attempt: int,
        threaded: bool,
        slot: Any = None,
    ) -> None:
        self._run = run
        self._slot = slot
        self._executor = executor_id
        self._delivery = delivery
        self._attempt = attempt
        self._threaded = threaded
        self._messages: list[tuple[Any, str | None]] = []
        # Created on first use: most handlers neither yield nor emit.
        self._outputs: list[Any] | None = None
        self._events: list[WorkflowEvent] | None = None
        self._state_writes: dict[str, Any] | None = None
        self._calls = 0

    # ------------------------------------------------------------ identity
    @property
    def executor_id(self) -> str:
        return self._executor

    @property
    def run_id(self) -> str:
        return self._run.run_id

    @property
    def superstep(self) -> int:
        return self._run.superstep

    @property
    def attempt(self) -> int:
        """1 for the first try of this delivery, 2 for the first retry, ..."""
        return self._attempt

    @property
    def source_id(self) -> str | None:
        """The executor that sent the message being handled (``None`` for the start input)."""
        src: str | None = self._delivery.source
        return src

    @property
    def targets(self) -> frozenset[str]:
        """Ids of the executors this executor's edges lead to (empty: messages go nowhere,
        so results should be yielded with ``yield_output``)."""
        return self._run.workflow._targets_of.get(self._executor, frozenset())

    @property
    def previous_attempts(self) -> list[Attempt]:
        """Every earlier invocation of this executor in this run, oldest first."""
        return [Attempt(*t) for t in self._run._attempts.get(self._executor, ())]

    @property
    def previous_errors(self) -> list[ExecutorError]:
        """Errors of earlier failed invocations of this executor in this run."""
        return [t[5] for t in self._run._attempts.get(self._executor, ()) if t[5] is not None]

    # -------------------------------------------------------- communication
    def send_message(self, message: M, target: str | None = None) -> Awaitable[None]:
        """Send ``message`` along this executor's outgoing edges (delivered next superstep).

        ``target`` restricts delivery to one connected executor id.
        """
        if target is not None:
            self._run._check_target(self._executor, target)
        if self._run._journal.active and type(message) not in _EXACT:
            self._check_durable(message)
        self._messages.append((message, target))
        return DONE

    def _check_durable(self, message: Any) -> None:
        """On a durable run, refuse a message that would come back as another type."""
        base = narrowed(message)
        if base is not None:
            t = type(message)
            raise CodecError(
                f"executor {self._executor!r} sent a {t.__qualname__} on durable run "
                f"{self._run.run_id!r}: it would be stored as a plain {base.__name__} and reach "
                f"{base.__name__} handlers after a resume; register it with "
                f"agentic_nb.workflow.register_checkpoint_type({t.__qualname__}) or send a "
                f"{base.__name__}"
            )

    def yield_output(self, output: O) -> Awaitable[None]:
        """Produce a workflow output (``result.outputs``).

        Outputs, like sent messages, belong to the attempt that made them: the
        ``Output`` event is emitted when the handler completes, never for an attempt
        that failed and was retried.
        """
        if self._outputs is None:
            self._outputs = [output]
        else:
            self._outputs.append(output)
        return DONE

    def add_event(self, event: WorkflowEvent | Any) -> Awaitable[None]:
        """Emit a custom event (a :class:`WorkflowEvent` subclass, or any object)."""
        if not isinstance(event, WorkflowEvent):
            event = Custom(name=type(event).__name__, data=event)
        self._emit(event)
        return DONE

    def log(self, level: str, text: str) -> Awaitable[None]:
        """Emit a :class:`Log` event (``level``: debug, info, warning, error)."""
        self._emit(Log(level=str(level).lower(), message=str(text)))
        return DONE

    def _emit(self, event: WorkflowEvent) -> None:
        if self._threaded:
            if self._events is None:
                self._events = []
            self._events.append(event)
        else:
            self._run._emit(event, self._executor)

    # ---------------------------------------------------------------- state
    def get_state(self, key: str, default: Any = None) -> Any:
        """Shared state committed before this superstep (plus this handler's own writes)."""
        if self._state_writes is not None and key in self._state_writes:
            return self._state_writes[key]
        earlier = self._slot.state_writes if self._slot is not None else None
        if earlier and key in earlier:
            return earlier[key]
        return self._run._state.get(key, default)

    def set_state(self, key: str, value: Any) -> Awaitable[None]:
        """Write shared state; committed at the barrier, visible from the next superstep."""
        if not isinstance(key, str) or not key:
            raise ValueError(
                f"executor {self._executor!r}: state keys must be non-empty strings, got {key!r}"
            )
        if self._state_writes is None:
            self._state_writes = {}
        self._state_writes[key] = value
        return DONE

    # ----------------------------------------------------- human in the loop
    def request_info(
        self,
        request: Any,
        *,
        response_type: type[T] = Any,  # type: ignore[assignment]
    ) -> Awaitable[T]:
        """Ask the outside world for a value of ``response_type`` and wait for it.

        The run's status becomes ``waiting`` until ``run.respond(request_id, value)``.
        The handler is then run again from its start with recorded answers
        replayed in call order, so code before ``request_info`` must be
        idempotent. In a sync handler the answer is returned directly (use
        :meth:`request_info_sync` there for an accurate static type).
        """
        index = self._calls
        self._calls += 1
        answer = self._run._request_answer(self, index, request, response_type)
        if self._threaded:
            return answer
        return _Ready(answer)

    def _ask(
        self, request_id: str, request: Any, response_type: Any, origin: str
    ) -> Awaitable[Any]:
        """``request_info`` under a known request id, asked by executor path ``origin``
        (a sub-workflow forwarding its child's requests)."""
        index = self._calls
        self._calls += 1
        answer = self._run._request_answer(self, index, request, response_type, request_id, origin)
        return _Ready(answer)

    def request_info_sync(
        self,
        request: Any,
        *,
        response_type: type[T] = Any,  # type: ignore[assignment]
    ) -> T:
        """``request_info`` for sync handlers, typed as returning the answer itself.

        Example::

            >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
            >>> @executor
            ... def ask(n: int, ctx: WorkflowContext[None, int]) -> None:
            ...     extra: int = ctx.request_info_sync("how many more?", response_type=int)
            ...     ctx.yield_output(n + extra)
            >>> wf = WorkflowBuilder(start=ask).build()
            >>> first = wf.run_sync(1)
            >>> first.status
            'waiting'
        """
        if not self._threaded:
            raise RuntimeError(
                f"executor {self._executor!r}: request_info_sync is for sync handlers; "
                f"in an async handler use `await ctx.request_info(...)`"
            )
        index = self._calls
        self._calls += 1
        answer: T = self._run._request_answer(self, index, request, response_type)
        return answer

    def __repr__(self) -> str:
        return f"WorkflowContext(executor={self._executor!r}, superstep={self.superstep})"


def check_response(value: Any, response_type: Any, where: str) -> None:
    if response_type is Any or response_type is object:
        return
    if not matcher_for(response_type)(value):
        raise TypeError(
            f"{where} expects a response of type {type_name(response_type)}, "
            f"got {type(value).__name__}: {value!r:.80}"
        )


_ = typing  # keep typing imported for get_type_hints of string annotations
