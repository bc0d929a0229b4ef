"""The superstep runner: one :class:`Run` per execution of a workflow.

A superstep delivers every queued message, runs every executor that has
deliveries (concurrently across executors, one delivery at a time within an
executor), waits for all of them at the barrier, then commits their effects in
executor registration order: shared-state writes, outputs, and routing of sent
messages, which become the next superstep's deliveries.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import warnings
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import _durable
from ._context import (
    AttemptRecord,
    ExecutorError,
    PendingRequest,
    WorkflowContext,
    check_response,
)
from ._edges import DirectEdge, FanInEdge, FanInState
from ._errors import ExecutorTimeout, RequestError, RoutingError, RunStateError
from ._events import (
    EXECUTOR_COMPLETED,
    EXECUTOR_INVOKED,
    MESSAGE_SENT,
    SUPERSTEP_COMPLETED,
    SUPERSTEP_STARTED,
    EventLog,
    ExecutorCompleted,
    ExecutorFailed,
    FanInWaiting,
    MessageSent,
    MessageUndelivered,
    Output,
    RequestAnswered,
    RequestInfo,
    WorkflowCompleted,
    WorkflowEvent,
    WorkflowFailed,
    WorkflowStarted,
    _materialize,
)
from ._executor import Executor, HandlerSpec
from ._result import PendingRequestInfo, QueuedMessage, StepReport, WorkflowResult
from ._typing import type_name

if TYPE_CHECKING:
    from ._workflow import Workflow

EventListener = Callable[[WorkflowEvent], None]

TERMINAL = frozenset({"completed", "failed", "cancelled"})
_MISSING: Any = object()
_NO_SLOTS: list[Any] = []  # shared empty result; never appended to
_NO_NAMES: list[str] = []


class WorkflowCancelled(WorkflowFailed):
    """The run was cancelled with ``run.cancel()``."""

    type = "WorkflowCancelled"


class Delivery:
    """A message queued for one executor."""

    __slots__ = ("edge", "message", "source", "target")

    def __init__(self, target: int, message: Any, source: str | None, edge: str | None) -> None:
        self.target = target
        self.message = message
        self.source = source
        self.edge = edge


class _Slot:
    """One executor's share of an open superstep: its deliveries and their effects."""

    __slots__ = (
        "deliveries",
        "done",
        "executor",
        "failed",
        "index",
        "messages",
        "next",
        "outputs",
        "request_ids",
        "state_writes",
        "waiting",
    )

    def __init__(self, index: int, executor: Executor, deliveries: list[Delivery]) -> None:
        self.index = index
        self.executor = executor
        self.deliveries = deliveries
        self.next = 0
        # Effects of finished deliveries; the first delivery's lists are adopted as is.
        self.messages: list[tuple[Any, str | None]] | None = None
        self.outputs: list[Any] | None = None
        self.state_writes: dict[str, Any] | None = None
        self.waiting: str | None = None
        self.failed: BaseException | None = None
        self.done = False
        # (delivery position, request_info call index) -> request id, kept across replays.
        self.request_ids: dict[tuple[int, int], str] | None = None


@dataclass
class _PendingReq:
    request_id: str
    executor_id: str
    request: Any
    response_type: Any
    superstep: int


class _OpenSuperstep:
    """A superstep that started and has not reached its barrier yet."""

    __slots__ = ("event_start", "number", "ran", "slots", "started")

    def __init__(self, number: int, slots: list[_Slot], started: float, event_start: int) -> None:
        self.number = number
        self.slots = slots
        self.started = started
        self.event_start = event_start
        self.ran: list[_Slot] = slots


class Run:
    """One execution of a :class:`Workflow`: step it, drive it, inspect it.

    Create with ``wf.start(input)``. Nothing runs until ``await run.step()`` (one
    superstep) or ``await run.until_idle()`` (until completed, waiting for
    input, failed or cancelled).

    Example::

        >>> import asyncio
        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... async def shout(text: str, ctx: WorkflowContext[None, str]) -> None:
        ...     await ctx.yield_output(text.upper() + "!")
        >>> run = WorkflowBuilder(start=shout).build().start("hi")
        >>> report = asyncio.run(run.step())
        >>> run.status, run.outputs
        ('completed', ['HI!'])
    """

    def __init__(
        self,
        workflow: Workflow,
        *,
        run_id: str | None = None,
        event_sinks: Iterable[Any] = (),
        checkpoint_storage: Any = None,
    ) -> None:
        self.workflow = workflow
        self._run_id: str = run_id or uuid.uuid4().hex[:16]
        self.status: str = "created"
        self.superstep: int = 0
        self.outputs: list[Any] = []
        self.error: str | None = None
        self.diagnostics: list[str] = []
        self.events = EventLog(run_id=self._run_id)
        self._event_list = self.events._events
        self._seq = 0
        self._state: dict[str, Any] = {}
        self._pending: dict[int, list[Delivery]] = {}
        self._spare_pending: dict[int, list[Delivery]] = {}
        self._fanin: dict[str, FanInState] = {
            g.id: FanInState(g, g.new_buffers()) for g in workflow._fan_ins
        }
        # executor id -> [(superstep, attempt, message type, status, ms, ExecutorError|None)]
        self._attempts: dict[str, list[AttemptRecord]] = {}
        self._open: _OpenSuperstep | None = None
        self._requests: dict[str, _PendingReq] = {}
        self._answers: dict[str, Any] = {}
        self._listeners: list[EventListener] = []
        self._sinks: list[Any] = []
        self._pull_sinks: list[Any] = []
        for sink in (*workflow.event_sinks, *event_sinks):
            self.add_sink(sink)
        self._lock: asyncio.Lock | None = None
        self._driver: asyncio.Task[Any] | None = None
        self._children: list[asyncio.Task[Any]] = []
        self._cancel_requested = False
        self._t0 = time.perf_counter()
        self._epoch = time.time() - self._t0  # wall clock = _epoch + perf_counter()
        self._t_end: float | None = None
        self._last_number = 0
        self._last_ran: list[_Slot] = []
        self._last_event_start = 0
        # Durability (see _durable.py): storage, journal buffer, lazy restore, replay.
        self.storage: Any = (
            checkpoint_storage if checkpoint_storage is not None else workflow.checkpoint_storage
        )
        self.parent: tuple[str, str] | None = None  # (run_id, checkpoint_id) of a fork
        self.last_checkpoint_id: str | None = None
        self._journal_started = False
        self._unsaved: list[dict[str, Any]] = []
        self._loader: Callable[[], Awaitable[None]] | None = None
        self._replay: dict[tuple[int, str], list[dict[str, Any]]] = {}
        self._replay_requests: dict[tuple[int, str], list[dict[str, Any]]] = {}

    @property
    def run_id(self) -> str:
        """This run's id (carried by every event and checkpoint)."""
        return self._run_id

    @run_id.setter
    def run_id(self, value: str) -> None:
        self._run_id = value
        self.events.run_id = value

    # ------------------------------------------------------------------ setup
    def add_sink(self, sink: Any) -> None:
        """Attach an event sink.

        A sink is a callable or an object with ``emit(event)``, called for every event.
        A sink with ``attach_run(run)`` pulls instead: it is handed the run once, its
        ``wake()`` is called at every barrier and when the run stops, and it reads
        ``run.events`` from its own task — nothing is built or sent on the run's path.
        """
        attach_run = getattr(sink, "attach_run", None)
        if callable(attach_run):
            attach_run(self)
            self._sinks.append(sink)
            self._pull_sinks.append(sink)
            return
        emit = getattr(sink, "emit", None)
        listener = emit if callable(emit) else sink
        if not callable(listener):
            raise TypeError(
                f"event sink {sink!r} is neither callable nor has an emit(event) method"
            )
        self._sinks.append(sink)
        self._listeners.append(listener)

    def add_event(self, event: WorkflowEvent, executor_id: str | None = None) -> WorkflowEvent:
        """Record an event on this run from outside a handler (e.g. a sink's report).

        The run stamps ``run_id``, ``seq``, ``ts`` and ``superstep``; listeners see it.

        Example::

            >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
            >>> from agentic_nb.workflow import Log
            >>> @executor
            ... def noop(x: int, ctx: WorkflowContext[None]) -> None: ...
            >>> run = WorkflowBuilder(start=noop).build().start(1)
            >>> run.add_event(Log(level="warning", message="disk almost full")).seq
            1
        """
        if not isinstance(event, WorkflowEvent):
            raise TypeError(
                f"run.add_event expects a WorkflowEvent, got {type(event).__name__}; wrap other "
                f"objects in agentic_nb.workflow.Custom(name=..., data=...)"
            )
        self._emit(event, executor_id)
        return event

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener(event)`` for every future event; returns an unsubscribe function."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _begin(self, message: Any) -> None:
        wf = self.workflow
        start = wf._executors[wf._start_index]
        if start.find_handler(message) is None:
            accepted = ", ".join(h.input_name for h in start.handlers) or "nothing"
            raise TypeError(
                f"workflow {wf.name!r}: start executor {start.id!r} accepts {accepted}, "
                f"not {type(message).__name__}; pass an input of an accepted type"
            )
        self._emit(
            WorkflowStarted(
                workflow=wf.name,
                start_executor=start.id,
                input_type=type(message).__name__,
                graph_hash=wf.graph_hash,
                graph=wf.describe(),
            ),
            None,
        )
        self._pending = {wf._start_index: [Delivery(wf._start_index, message, None, None)]}

    # ----------------------------------------------------------------- events
    def _emit(self, event: WorkflowEvent, executor_id: str | None) -> None:
        event.run_id = self.run_id
        event.seq = self._seq
        self._seq += 1
        event.ts = self._epoch + time.perf_counter()
        event.superstep = self.superstep
        event.executor_id = executor_id
        self._event_list.append(event)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception as exc:  # a broken sink must not break the run
                warnings.warn(
                    f"event listener {listener!r} raised {type(exc).__name__}: {exc}",
                    RuntimeWarning,
                    stacklevel=2,
                )

    def _fast(self, code: int, executor_id: str | None, pc: float, values: tuple[Any, ...]) -> None:
        """Record engine lifecycle event ``FAST_CLASSES[code]`` at ``perf_counter()`` ``pc``.

        It is kept as a tuple and built as a dataclass only when read (at once when
        someone listens); ``values`` follow ``FAST_FIELDS``. Timestamps come from
        readings the runner takes anyway, shifted to wall-clock time.
        """
        seq = self._seq
        self._seq = seq + 1
        rec = (code, seq, self._epoch + pc, self.superstep, executor_id, *values)
        if not self._listeners:
            self._event_list.append(rec)
            return
        ev = _materialize(rec, self.run_id)
        self._event_list.append(ev)
        for listener in self._listeners:
            try:
                listener(ev)
            except Exception as exc:
                warnings.warn(
                    f"event listener {listener!r} raised {type(exc).__name__}: {exc}",
                    RuntimeWarning,
                    stacklevel=2,
                )

    # ------------------------------------------------------------- inspection
    @property
    def pending_requests(self) -> list[PendingRequestInfo]:
        """Requests from ``ctx.request_info`` still waiting for ``run.respond``."""
        self._require_loaded("pending_requests")
        return [
            PendingRequestInfo(
                request_id=r.request_id,
                executor_id=r.executor_id,
                request=r.request,
                response_type=r.response_type,
                superstep=r.superstep,
            )
            for r in self._requests.values()
        ]

    @property
    def state(self) -> dict[str, Any]:
        """A copy of the committed shared state."""
        return dict(self._state)

    def queued_messages(self) -> list[QueuedMessage]:
        """What the next superstep will deliver (or what the open one still has to run)."""
        ex = self.workflow._executors
        out: list[QueuedMessage] = []
        if self._open is not None:
            for slot in self._open.slots:
                for d in slot.deliveries[slot.next :]:
                    out.append(QueuedMessage(ex[d.target].id, d.source, d.edge, d.message))
            return out
        for idx in sorted(self._pending):
            for d in self._pending[idx]:
                out.append(QueuedMessage(ex[idx].id, d.source, d.edge, d.message))
        return out

    def fan_in_buffers(self) -> dict[str, dict[str, list[Any]]]:
        """Messages buffered in each fan-in edge, per source."""
        return {eid: {s: list(q) for s, q in st.buffers.items()} for eid, st in self._fanin.items()}

    def result(self) -> WorkflowResult:
        """A snapshot of the run as a :class:`WorkflowResult`."""
        end = self._t_end if self._t_end is not None else time.perf_counter()
        return WorkflowResult(
            run_id=self.run_id,
            status=self.status,
            outputs=list(self.outputs),
            events=self.events,
            supersteps=self.superstep,
            duration=end - self._t0,
            error=self.error,
            diagnostics=list(self.diagnostics),
            pending_requests=self.pending_requests,
            state=dict(self._state),
        )

    def can_progress(self) -> bool:
        """True when ``step()`` would run something now."""
        if self._loader is not None:
            return True
        if self.status in TERMINAL:
            return False
        if self._open is not None:
            return any(self._runnable(s) for s in self._open.slots)
        return bool(self._pending) or self.status == "created"

    def _runnable(self, slot: _Slot) -> bool:
        if slot.done or slot.failed is not None:
            return False
        return slot.waiting is None or slot.waiting in self._answers

    # ------------------------------------------------------------- durability
    @property
    def loaded(self) -> bool:
        """False for a resumed/forked run whose checkpoint is not read yet."""
        return self._loader is None

    def _require_loaded(self, what: str) -> None:
        if self._loader is not None:
            raise RunStateError(
                f"run {self.run_id!r} is restored lazily: `await run.load()` (or "
                f"`run = await wf.resume(...)`) before reading {what}"
            )

    async def load(self) -> Run:
        """Read the checkpoint and journal of a resumed or forked run (idempotent)."""
        loader = self._loader
        if loader is not None:
            self._loader = None
            try:
                await loader()
            except BaseException:
                self._loader = loader
                raise
        return self

    def __await__(self) -> Generator[Any, None, Run]:
        return self.load().__await__()

    async def history(self) -> list[Any]:
        """This run's checkpoints (``CheckpointInfo``), oldest first."""
        if self.storage is None:
            raise RunStateError(
                f"run {self.run_id!r} has no checkpoint storage: pass checkpoint_storage= to "
                f"WorkflowBuilder or wf.start(...)"
            )
        infos: list[Any] = await self.storage.list(self.run_id)
        return infos

    async def flush_journal(self) -> None:
        """Write journal records (requests asked, answers given) that are not stored yet."""
        if self.storage is not None and self._unsaved:
            await _durable.flush(self)

    # ---------------------------------------------------------------- driving
    async def step(self) -> StepReport:
        """Run exactly one superstep (or continue the open one after answers)."""
        if self._loader is not None:
            await self.load()
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self._run_steps(1)
        return self._report(self._last_number, self._last_ran, self._last_event_start)

    async def until_idle(self) -> WorkflowResult:
        """Step until the run completes, fails, is cancelled or waits for input."""
        if self._loader is not None:
            await self.load()
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self._run_steps(None)
        if self._unsaved:
            await self.flush_journal()
        return self.result()

    async def _run_steps(self, limit: int | None) -> None:
        """Under the lock: one superstep (``limit=1``) or as many as can run."""
        self._driver = asyncio.current_task()
        try:
            if limit is None:
                while self.can_progress():
                    await self._step_inner(until_idle=True)
            elif self.status in TERMINAL:
                self._mark(self.superstep, [], len(self._event_list))
            else:
                await self._step_inner(until_idle=False)
        except asyncio.CancelledError:
            if not self._cancel_requested:
                raise
            self._finish_cancel()
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            self._mark(self.superstep, [], len(self._event_list))
        finally:
            self._driver = None
            if self._pull_sinks:
                self._wake_sinks()

    def _wake_sinks(self) -> None:
        for sink in self._pull_sinks:
            try:
                sink.wake()
            except Exception as exc:  # a broken sink must not break the run
                warnings.warn(
                    f"event sink {sink!r} raised {type(exc).__name__} in wake(): {exc}",
                    RuntimeWarning,
                    stacklevel=2,
                )

    async def _step_inner(self, until_idle: bool) -> None:
        """One superstep; with ``until_idle`` it goes on while plain supersteps follow
        (one coroutine for the whole run instead of one per superstep)."""
        while True:
            wf = self.workflow
            if self.storage is not None:
                try:
                    await _durable.before_step(self)
                except Exception as exc:
                    self._fail(type(exc).__name__, f"checkpoint storage failed: {exc}")
                    return self._mark(self.superstep, [], len(self._event_list))
            if self._open is None:
                if not self._pending:
                    self._complete()
                    return self._mark(self.superstep, [], len(self._event_list))
                if self.superstep >= wf.max_supersteps:
                    queued = ", ".join(
                        f"{wf._executors[i].id} ({len(d)})"
                        for i, d in sorted(self._pending.items())
                    )
                    self._fail(
                        "MaxSuperstepsReached",
                        f"max_supersteps={wf.max_supersteps} reached with messages still queued "
                        f"for: {queued}. Raise max_supersteps or check for a cycle without exit.",
                    )
                    return self._mark(self.superstep, [], len(self._event_list))
                self.status = "running"
                pending = self._pending
                self._pending = self._spare_pending  # two dicts take turns: no allocation
                execs = wf._executors
                if len(pending) == 1:
                    ((idx, ds),) = pending.items()
                    slot = _Slot(idx, execs[idx], ds)
                    slots = [slot]
                    names: tuple[str, ...] = (slot.executor.id,)
                    count = len(ds)
                else:
                    slots = [_Slot(i, execs[i], pending[i]) for i in sorted(pending)]
                    names = tuple(s.executor.id for s in slots)
                    count = sum(len(s.deliveries) for s in slots)
                started = time.perf_counter()
                open_ = self._open = _OpenSuperstep(
                    self.superstep, slots, started, len(self._event_list)
                )
                self._fast(SUPERSTEP_STARTED, None, started, (names, count))
                pending.clear()
                self._spare_pending = pending
                if self._replay or self._replay_requests:
                    _durable.apply_replay(self, open_)
                    runnable = [s for s in slots if self._runnable(s)]
                else:
                    runnable = slots
            else:
                self.status = "running"
                open_ = self._open
                runnable = [s for s in open_.slots if self._runnable(s)]
                for s in runnable:
                    s.waiting = None
            open_.ran = runnable
            if len(runnable) == 1:
                # _drive's loop inlined: one coroutine less per superstep on the hot path.
                slot = runnable[0]
                ds = slot.deliveries
                while slot.next < len(ds):
                    if not await self._invoke(slot, ds[slot.next]):
                        break
                    slot.next += 1
                else:
                    slot.done = True
            elif runnable:
                # Every _drive catches its handler's errors, so awaiting the tasks in order
                # is a barrier (cheaper than gather); only cancellation propagates.
                loop = asyncio.get_running_loop()
                tasks = [loop.create_task(self._drive(s)) for s in runnable]
                self._children = tasks
                try:
                    for t in tasks:
                        await t
                except BaseException:
                    for t in tasks:
                        t.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    raise
                finally:
                    self._children = []
            failed = self._settle(open_)
            if failed is None:  # waiting for answers, or the barrier failed
                if self._unsaved and self.storage is not None:
                    await self.flush_journal()
                return
            if self.storage is not None and not failed:
                ending = not self._pending and not self._requests
                try:
                    await _durable.after_barrier(self, final=ending)
                except Exception as exc:
                    self._fail(
                        type(exc).__name__,
                        f"checkpoint after superstep {open_.number} could not be saved: {exc}",
                    )
                    return
            if failed:
                first = failed[0]
                err = first.failed
                assert err is not None
                self._fail(
                    type(err).__name__,
                    f"executor {first.executor.id!r} failed in superstep {open_.number}: "
                    f"{type(err).__name__}: {err}",
                )
            elif not self._pending and not self._requests:
                self._complete()
            if not until_idle or self.status != "running" or not self._pending:
                return

    def _settle(self, open_: _OpenSuperstep) -> list[_Slot] | None:
        """After the slots ran: stay open while requests wait, else pass the barrier.

        Returns the failed slots (usually none), or ``None`` when the superstep stays
        open or the barrier itself failed.
        """
        self._mark(open_.number, open_.ran, open_.event_start)
        failed: list[_Slot] = _NO_SLOTS
        waiting = False
        for slot in open_.slots:
            if slot.failed is not None:
                if failed is _NO_SLOTS:
                    failed = []
                failed.append(slot)
            elif slot.waiting is not None:
                waiting = True
        if waiting and not failed:
            self.status = "waiting"
            return None
        try:
            self._barrier(open_)
        except RoutingError as exc:
            self._open = None
            self._fail("RoutingError", str(exc))
            return None
        return failed

    def _barrier(self, open_: _OpenSuperstep) -> None:
        sent = 0
        now = time.perf_counter()
        for slot in open_.slots:
            if slot.state_writes:
                self._state.update(slot.state_writes)
            if slot.outputs:
                self.outputs.extend(slot.outputs)
            if slot.messages:
                src = slot.executor.id
                simple = self.workflow._simple_routes.get(src)
                for message, target in slot.messages:
                    if simple is not None and target is None:
                        # One unconditional direct edge: no edge choice to make. This is
                        # _route's direct-edge branch without its loop (a miss falls back).
                        ti, texec, edge_id = simple
                        handler = texec._dispatch.get(type(message), _MISSING)
                        if handler is not None and handler is not _MISSING:
                            queue = self._pending.get(ti)
                            if queue is None:
                                queue = self._pending[ti] = []
                            queue.append(Delivery(ti, message, src, edge_id))
                            self._fast(
                                MESSAGE_SENT,
                                src,
                                now,
                                (src, texec.id, edge_id, type(message).__name__, message),
                            )
                            sent += 1
                            continue
                    sent += self._route(src, message, target, now)
        if self._fanin:
            sent += self._fire_fan_ins()
        self._open = None
        # The barrier's single clock reading also dates the superstep's end.
        self._fast(SUPERSTEP_COMPLETED, None, now, ((now - open_.started) * 1000.0, sent))
        self.superstep += 1
        if self._pull_sinks:
            self._wake_sinks()

    async def _drive(self, slot: _Slot) -> None:
        deliveries = slot.deliveries
        while slot.next < len(deliveries):
            if not await self._invoke(slot, deliveries[slot.next]):
                return
            slot.next += 1
        slot.done = True

    async def _invoke(self, slot: _Slot, d: Delivery) -> bool:
        ex = slot.executor
        ex_id = ex.id
        message = d.message
        spec = ex._dispatch.get(type(message), _MISSING)
        if spec is _MISSING:
            spec = ex.find_handler(message)
        if spec is None:  # routing checked this; an executor may have changed its handlers
            slot.failed = TypeError(
                f"executor {ex_id!r} has no handler for {type(message).__name__}"
            )
            return False
        mtype = type(message).__name__
        history = self._attempts.get(ex_id)
        if history is None:
            history = self._attempts[ex_id] = []
        storage = self.storage
        attempt = 0
        while True:
            attempt += 1
            ctx: WorkflowContext[Any, Any] = WorkflowContext(
                self, ex_id, d, attempt, not spec.is_async, slot
            )
            t0 = time.perf_counter()
            self._fast(EXECUTOR_INVOKED, ex_id, t0, (attempt, mtype, d.source))
            first_event = len(self._event_list) if storage is not None else 0
            try:
                if spec.is_async and ex.timeout is None:
                    # The common case, without an extra coroutine frame.
                    if spec.bound:
                        if spec.takes_ctx:
                            await spec.func(ex, message, ctx)
                        else:
                            await spec.func(ex, message)
                    elif spec.takes_ctx:
                        await spec.func(message, ctx)
                    else:
                        await spec.func(message)
                else:
                    await self._call(ex, spec, message, ctx)
            except PendingRequest as pending:
                self._flush(ctx, ex.id)
                if self._unsaved and self.storage is not None:
                    await self.flush_journal()
                dur = (time.perf_counter() - t0) * 1000.0
                history.append(
                    (self.superstep, attempt, type(d.message).__name__, "waiting", dur, None)
                )
                slot.waiting = pending.request_id
                return False
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._flush(ctx, ex.id)
                dur = (time.perf_counter() - t0) * 1000.0
                error = ExecutorError(ex.id, self.superstep, attempt, type(exc).__name__, str(exc))
                history.append(
                    (self.superstep, attempt, type(d.message).__name__, "failed", dur, error)
                )
                if self.storage is not None:
                    self._unsaved.append(_durable.failure_record(self, slot, error, dur))
                    await self.flush_journal()
                retry = ex.retry.should_retry(exc, attempt)
                self._emit(
                    ExecutorFailed(
                        attempt=attempt,
                        error_type=type(exc).__name__,
                        error_message=str(exc),
                        will_retry=retry,
                        duration_ms=dur,
                    ),
                    ex.id,
                )
                if retry:
                    delay = ex.retry.delay(attempt)
                    if delay > 0:
                        await asyncio.sleep(delay)
                    continue
                slot.failed = exc
                return False
            t1 = time.perf_counter()
            dur = (t1 - t0) * 1000.0
            if ctx._events:
                self._flush(ctx, ex_id)
            history.append((self.superstep, attempt, mtype, "completed", dur, None))
            if ctx._messages:
                if slot.messages is None:
                    slot.messages = ctx._messages
                else:
                    slot.messages.extend(ctx._messages)
            if ctx._outputs:
                if slot.outputs is None:
                    slot.outputs = list(ctx._outputs)
                else:
                    slot.outputs.extend(ctx._outputs)
                for out in ctx._outputs:
                    self._emit(Output(data=out), ex.id)
            if ctx._state_writes:
                if slot.state_writes is None:
                    slot.state_writes = {}
                slot.state_writes.update(ctx._state_writes)
            if storage is not None:
                try:
                    await _durable.record_write(self, slot, ctx, attempt, dur, first_event)
                except Exception as exc:
                    slot.failed = exc
                    return False
            if ctx._outputs or not spec.is_async:
                t1 = time.perf_counter()  # events were emitted after t1: keep ts monotonic
            self._fast(EXECUTOR_COMPLETED, ex_id, t1, (attempt, dur))
            return True

    async def _call(
        self, ex: Executor, spec: HandlerSpec, message: Any, ctx: WorkflowContext[Any, Any]
    ) -> None:
        fn = spec.func
        args: tuple[Any, ...]
        if spec.bound:
            args = (ex, message, ctx) if spec.takes_ctx else (ex, message)
        else:
            args = (message, ctx) if spec.takes_ctx else (message,)
        timeout = ex.timeout
        if spec.is_async:
            if timeout is None:
                await fn(*args)
                return
            try:
                async with asyncio.timeout(timeout):
                    await fn(*args)
            except TimeoutError as exc:
                raise ExecutorTimeout(
                    f"executor {ex.id!r} timed out after {timeout}s handling "
                    f"{type(message).__name__}; raise its timeout or make the handler faster"
                ) from exc
            return
        call = asyncio.to_thread(fn, *args)
        if timeout is None:
            await call
            return
        try:
            await asyncio.wait_for(call, timeout)
        except TimeoutError as exc:
            raise ExecutorTimeout(
                f"executor {ex.id!r} (sync handler) timed out after {timeout}s handling "
                f"{type(message).__name__}; its thread keeps running until it returns"
            ) from exc

    def _flush(self, ctx: WorkflowContext[Any, Any], executor_id: str) -> None:
        if ctx._events:
            for ev in ctx._events:
                self._emit(ev, executor_id)
            ctx._events = None

    # ---------------------------------------------------------------- routing
    def _check_target(self, source: str, target: str) -> None:
        if target not in self.workflow._targets_of.get(source, ()):
            connected = sorted(self.workflow._targets_of.get(source, ()))
            raise ValueError(
                f"executor {source!r} sent a message to target={target!r}, but no edge connects "
                f"{source!r} to {target!r} (connected targets: {connected}); add an edge or "
                f"fix the target id"
            )

    def _route(self, source: str, message: Any, target: str | None, now: float) -> int:
        """Send ``message`` along ``source``'s edges; ``now`` is the barrier's clock reading."""
        wf = self.workflow
        execs = wf._executors
        index = wf._index
        sent = 0
        filtered = False
        mismatched: list[str] = _NO_NAMES  # replaced by a real list on first use
        for group in wf._out.get(source, ()):
            if type(group) is FanInEdge:
                tgt = group.targets[0]
                if target is not None and target != tgt:
                    continue
                accepts = group.accepts.get(type(message))
                if accepts is None:
                    accepts = execs[index[tgt]].can_handle([message])
                    if group.cacheable:
                        group.accepts[type(message)] = accepts
                if not accepts:
                    mismatched = [*mismatched, tgt]
                    continue
                self._fanin[group.id].buffers[source].append(message)
                self._fast(
                    MESSAGE_SENT,
                    source,
                    now,
                    (source, tgt, group.id, type(message).__name__, message),
                )
                sent += 1
                continue
            if type(group) is DirectEdge and group.condition is None:
                chosen = group.targets
            else:
                try:
                    chosen = group.choose(message)  # type: ignore[attr-defined]
                except Exception as exc:
                    raise RoutingError(
                        f"{group.describe()} raised {type(exc).__name__} while routing a "
                        f"{type(message).__name__} from {source!r}: {exc}"
                    ) from exc
                if len(chosen) < len(group.targets):
                    filtered = True
            for tgt in chosen:
                if target is not None and target != tgt:
                    continue
                ti = index[tgt]
                texec = execs[ti]
                handler = texec._dispatch.get(type(message), _MISSING)
                if handler is _MISSING:
                    handler = texec.find_handler(message)
                if handler is None:
                    mismatched = [*mismatched, tgt]
                    continue
                queue = self._pending.get(ti)
                if queue is None:
                    queue = self._pending[ti] = []
                queue.append(Delivery(ti, message, source, group.id))
                self._fast(
                    MESSAGE_SENT,
                    source,
                    now,
                    (source, tgt, group.id, type(message).__name__, message),
                )
                sent += 1
        if sent == 0:
            self._undelivered(source, message, target, filtered, mismatched)
        return sent

    def _undelivered(
        self, source: str, message: Any, target: str | None, filtered: bool, mismatched: list[str]
    ) -> None:
        wf = self.workflow
        candidates = sorted(wf._targets_of.get(source, ()))
        tname = type(message).__name__
        if mismatched or not candidates:
            if not candidates:
                detail = (
                    f"executor {source!r} sent a {tname} but has no outgoing edge; add an edge "
                    f"from {source!r} or use ctx.yield_output for results"
                )
            else:
                accepts = "; ".join(
                    f"{t} accepts "
                    + (", ".join(h.input_name for h in wf.executor(t).handlers) or "nothing")
                    for t in dict.fromkeys(mismatched)
                )
                detail = (
                    f"executor {source!r} sent a {tname} that no target can handle ({accepts}); "
                    f"add a handler for {tname} or convert the message before sending"
                )
            reason = "no_route"
            self.diagnostics.append(detail)
        else:
            reason = "filtered"
            via = f" (target={target!r})" if target else ""
            detail = (
                f"every edge from {source!r} declined this {tname}{via}: conditions, switch "
                f"cases or fan-out selection chose no target"
            )
        self._emit(
            MessageUndelivered(
                source_id=source,
                payload_type=tname,
                candidates=candidates,
                reason=reason,
                detail=detail,
                payload=message,
            ),
            source,
        )

    def _fire_fan_ins(self) -> int:
        fired = 0
        wf = self.workflow
        for eid, st in self._fanin.items():
            while st.ready():
                batch = st.pop()
                ti = wf._index[st.edge.targets[0]]
                queue = self._pending.get(ti)
                if queue is None:
                    queue = self._pending[ti] = []
                queue.append(Delivery(ti, batch, ",".join(st.edge.sources), eid))
                fired += 1
        return fired

    # ------------------------------------------------------- human in the loop
    def _request_answer(
        self, ctx: WorkflowContext[Any, Any], call: int, request: Any, response_type: Any
    ) -> Any:
        slot: _Slot = ctx._slot
        key = (slot.next, call)
        if slot.request_ids is None:
            slot.request_ids = {}
        rid = slot.request_ids.get(key)
        if rid is not None and rid in self._answers:
            return self._answers[rid]
        if rid is None:
            rid = uuid.uuid4().hex
            slot.request_ids[key] = rid
            self._requests[rid] = _PendingReq(
                rid, slot.executor.id, request, response_type, self.superstep
            )
            if self.storage is not None:
                self._unsaved.append(_durable.request_record(self, slot, call, rid))
            ctx._emit(
                RequestInfo(request_id=rid, request=request, response_type=type_name(response_type))
            )
        raise PendingRequest(rid)

    async def respond(self, request_id: str, value: Any, *, resume: bool = True) -> WorkflowResult:
        """Answer a pending request; by default the run then continues until idle.

        A value of the wrong type raises :class:`RequestError` and the request
        stays pending. A dict given for a pydantic-model response type is validated
        into the model.
        """
        if self._loader is not None:
            await self.load()
        value = self.answer(request_id, value)
        await self.flush_journal()
        if resume:
            return await self.until_idle()
        return self.result()

    def answer(self, request_id: str, value: Any) -> Any:
        """Record the answer to a pending request without running anything.

        With a checkpoint storage the answer is stored durably at the next
        ``await run.flush_journal()``, ``step()`` or ``respond()``.
        """
        self._require_loaded("requests")
        req = self._requests.get(request_id)
        if req is None:
            if request_id in self._answers:
                raise RequestError(
                    f"request {request_id!r} of run {self.run_id!r} was already answered; "
                    f"the first answer is kept"
                )
            pending = list(self._requests) or "none"
            raise RequestError(
                f"run {self.run_id!r} has no pending request {request_id!r} (pending: {pending})"
            )
        value = _coerce_response(value, req.response_type)
        try:
            check_response(
                value, req.response_type, f"request {request_id!r} from {req.executor_id!r}"
            )
        except TypeError as exc:
            raise RequestError(str(exc)) from None
        del self._requests[request_id]
        self._answers[request_id] = value
        if self.storage is not None:
            self._unsaved.append(_durable.answer_record(request_id, value))
        self._emit(RequestAnswered(request_id=request_id, response=value), req.executor_id)
        if self.status == "waiting" and not self._requests:
            self.status = "running"
        return value

    # ------------------------------------------------------------ termination
    def _complete(self) -> None:
        if self.status in TERMINAL:
            return
        for st in self._fanin.values():
            if st.partial():
                waiting = st.waiting_on()
                buffered = {s: len(q) for s, q in st.buffers.items() if q}
                msg = (
                    f"fan-in {st.edge.id!r} into {st.edge.targets[0]!r} never fired: it holds "
                    f"messages from {sorted(buffered)} but is still waiting on {waiting}"
                )
                self.diagnostics.append(msg)
                self._emit(
                    FanInWaiting(
                        edge=st.edge.id,
                        target_id=st.edge.targets[0],
                        waiting_on=waiting,
                        buffered=buffered,
                    ),
                    None,
                )
        self.status = "completed"
        self._t_end = time.perf_counter()
        self._emit(
            WorkflowCompleted(
                status="completed",
                supersteps=self.superstep,
                duration_ms=(self._t_end - self._t0) * 1000.0,
            ),
            None,
        )

    def _fail(self, error_type: str, message: str) -> None:
        self.status = "failed"
        self.error = message
        self._t_end = time.perf_counter()
        self._emit(WorkflowFailed(error_type=error_type, error_message=message), None)

    def cancel(self) -> None:
        """Stop the run now; the interrupted superstep is rolled back (nothing committed)."""
        if self.status in TERMINAL:
            return
        self._cancel_requested = True
        if self._driver is not None and not self._driver.done():
            self._driver.cancel()
        else:
            self._finish_cancel()

    def _finish_cancel(self) -> None:
        if self._open is not None:
            # Roll back: the open superstep's deliveries go back to the queue.
            for slot in self._open.slots:
                self._pending[slot.index] = slot.deliveries
            self._open = None
        self.status = "cancelled"
        self.error = "cancelled by run.cancel()"
        self._t_end = time.perf_counter()
        self._emit(
            WorkflowCancelled(error_type="Cancelled", error_message=self.error, status="cancelled"),
            None,
        )

    # ---------------------------------------------------------------- streams
    async def stream(self) -> AsyncIterator[WorkflowEvent]:
        """Every event of this run (past ones first) while driving it until idle."""
        queue: deque[WorkflowEvent] = deque(self.events.since(0))
        wake = asyncio.Event()

        def listener(ev: WorkflowEvent) -> None:
            queue.append(ev)
            wake.set()

        self._listeners.append(listener)
        driver = asyncio.ensure_future(self.until_idle())
        driver.add_done_callback(lambda _t: wake.set())
        try:
            while True:
                while queue:
                    yield queue.popleft()
                if driver.done():
                    if queue:
                        continue
                    break
                wake.clear()
                if not queue and not driver.done():
                    await wake.wait()
            driver.result()
        finally:
            if listener in self._listeners:
                self._listeners.remove(listener)
            if not driver.done():
                self.cancel()
                driver.cancel()

    def _mark(self, number: int, ran: list[_Slot], event_start: int) -> None:
        """Remember what the last step did; ``step()`` turns it into a StepReport."""
        self._last_number = number
        self._last_ran = ran
        self._last_event_start = event_start

    def _report(self, number: int, ran: list[_Slot], event_start: int) -> StepReport:
        evs = self.events.since(event_start)
        return StepReport(
            superstep=number,
            executors=[s.executor.id for s in ran],
            delivered=sum(1 for e in evs if type(e) is ExecutorCompleted),
            messages=[e for e in evs if type(e) is MessageSent],
            outputs=[e.data for e in evs if type(e) is Output],
            events=evs,
            status=self.status,
        )

    def __repr__(self) -> str:
        return (
            f"Run(workflow={self.workflow.name!r}, run_id={self.run_id!r}, "
            f"status={self.status!r}, superstep={self.superstep}, outputs={len(self.outputs)})"
        )

    # ------------------------------------------------------- notebook layer
    def show(self) -> Any:
        """Live widget of this run; starts driving it in a background task (returns at once)."""
        from agentic_nb.widgets import live_run

        return live_run(self)

    def stepper(self) -> Any:
        """Step / Run / Pause controls over ``run.step()`` with the queued messages."""
        from agentic_nb.widgets import stepper

        return stepper(self)

    def approvals(self) -> Any:
        """One card per pending request with Approve / Reject / Edit; submits ``respond``."""
        from agentic_nb.widgets import approvals

        return approvals(self)

    def checkpoints_view(self) -> Any:
        """Browse this run's checkpoints with state diffs and Resume / Fork buttons."""
        from agentic_nb.widgets import checkpoints_view

        return checkpoints_view(self)

    def to_dot(self) -> str:
        """DOT source of the graph coloured by each executor's state in this run."""
        from agentic_nb.notebook import workflow_to_dot

        return workflow_to_dot(self.workflow, run=self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from agentic_nb.workflow._display import run_mimebundle

        return run_mimebundle(self)


def _coerce_response(value: Any, response_type: Any) -> Any:
    validate = getattr(response_type, "model_validate", None)
    if validate is not None and isinstance(value, dict):
        try:
            return validate(value)
        except Exception as exc:
            raise RequestError(
                f"response does not validate as {type_name(response_type)}: {exc}"
            ) from None
    return value
