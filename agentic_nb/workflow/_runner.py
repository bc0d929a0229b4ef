"""The run handle: one :class:`Run` per execution of a workflow.

``Run`` owns what a run has committed — status, outputs, shared state, events,
attempts, requests and answers — and is the public face (step, drive, answer,
cancel, stream, inspect, display). The work is delegated:

- ``_superstep.Engine`` drives the supersteps (open → run slots → settle →
  barrier → checkpoint) and owns the open one;
- ``_routing.Router`` owns the mailbox: queued deliveries and fan-in buffers;
- ``_journal.Journal`` persists journal records and checkpoints (a no-op without
  storage); ``_durable`` restores a run from them;
- ``_display`` is the one door to the notebook, widgets and agents layers.
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

from agentic_nb import _instrumentation

from . import _display
from ._budget import Budget, BudgetMeter
from ._context import Attempt, AttemptRecord, PendingRequest, WorkflowContext, check_response
from ._errors import RequestError, RunStateError
from ._events import (
    EventLog,
    ExecutorCompleted,
    FanInWaiting,
    MessageSent,
    Output,
    RequestAnswered,
    RequestInfo,
    WorkflowCompleted,
    WorkflowEvent,
    WorkflowFailed,
    WorkflowStarted,
    WorkflowWaiting,
    _materialize,
)
from ._executor import Executor
from ._journal import Journal, own_executors
from ._lease import AnswerConflictError, RunLockedError
from ._result import PendingRequestInfo, QueuedMessage, StepReport, WorkflowResult
from ._routing import Delivery, Router
from ._superstep import TERMINAL, Engine, Slot
from ._typing import type_name
from ._usage import RunUsage
from .codec import CodecError

if TYPE_CHECKING:
    from ._workflow import Workflow

EventListener = Callable[[WorkflowEvent], None]

__all__ = ["TERMINAL", "Delivery", "Run", "WorkflowCancelled"]


class WorkflowCancelled(WorkflowFailed):
    """The run was cancelled with ``run.cancel()``."""

    type = "WorkflowCancelled"


@dataclass
class _PendingReq:
    request_id: str
    executor_id: str
    request: Any
    response_type: Any
    superstep: int


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
        budget: Budget | None = None,
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
        self._subruns: dict[str, Run] = {}  # child runs of sub-workflows waiting for answers
        # Executors with on_checkpoint_save state get a copy of their own per run.
        self._executors = own_executors(workflow)
        # executor id -> [(superstep, attempt, message type, status, ms, ExecutorError|None)]
        self._attempts: dict[str, list[AttemptRecord]] = {}
        self._requests: dict[str, _PendingReq] = {}
        self._answers: dict[str, Any] = {}
        self._listeners: list[EventListener] = []
        self._sinks: list[Any] = []
        self._pull_sinks: list[Any] = []
        for sink in (*workflow.event_sinks, *event_sinks):
            self.add_sink(sink)
        self._lock: asyncio.Lock | None = None
        self._cancel_requested = False
        self._t0 = time.perf_counter()
        self._epoch = time.time() - self._t0  # wall clock = _epoch + perf_counter()
        self._t_end: float | None = None
        self.storage: Any = (
            checkpoint_storage if checkpoint_storage is not None else workflow.checkpoint_storage
        )
        self.parent: tuple[str, str] | None = None  # (run_id, checkpoint_id) of a fork
        self.last_checkpoint_id: str | None = None
        self._loader: Callable[[], Awaitable[None]] | None = None  # lazy restore
        self._router = Router(self)
        self._journal = Journal(self, self.storage)
        self._engine = Engine(self)
        self._budget = BudgetMeter(budget) if budget is not None else None
        self._usage_before: RunUsage | None = None  # what a resumed run used before
        inst = _instrumentation.ACTIVE  # tracing: one read per run, nothing when off
        self._tracer: Any = inst.for_run(self) if inst is not None else None

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
        self._router.enqueue(wf._start_index, Delivery(wf._start_index, message, None, None))

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

    def executor(self, executor_id: str) -> Executor:
        """The executor instance this run uses.

        An executor that keeps state (it overrides ``on_checkpoint_save``) gets a copy
        of its own in every run, starting from the state of the workflow's instance, so
        concurrent runs never share it; the others are the workflow's own instances.

        Example::

            >>> import asyncio
            >>> from agentic_nb import Executor, WorkflowBuilder, WorkflowContext, handler
            >>> class Tally(Executor):
            ...     def __init__(self) -> None:
            ...         super().__init__(id="tally")
            ...         self.seen = 0
            ...     @handler
            ...     async def add(self, n: int, ctx: WorkflowContext[None, int]) -> None:
            ...         self.seen += n
            ...         await ctx.yield_output(self.seen)
            ...     def on_checkpoint_save(self) -> dict[str, int]:
            ...         return {"seen": self.seen}
            ...     def on_checkpoint_restore(self, state: dict[str, int]) -> None:
            ...         self.seen = state["seen"]
            >>> tally = Tally()
            >>> wf = WorkflowBuilder(start=tally).build()
            >>> one, two = wf.start(5), wf.start(7)
            >>> asyncio.run(one.until_idle()).outputs, asyncio.run(two.until_idle()).outputs
            ([5], [7])
            >>> one.executor("tally").seen, two.executor("tally").seen, tally.seen
            (5, 7, 0)
        """
        wf = self.workflow
        wf.executor(executor_id)  # KeyError naming the known ids
        return self._executors[wf._index[executor_id]]

    @property
    def state(self) -> dict[str, Any]:
        """A copy of the committed shared state."""
        return dict(self._state)

    def queued_messages(self) -> list[QueuedMessage]:
        """What the next superstep will deliver (or what the open one still has to run)."""
        ex = self.workflow._executors
        out: list[QueuedMessage] = []
        open_ = self._engine.open
        if open_ is not None:
            for slot in open_.slots:
                for d in slot.deliveries[slot.next :]:
                    out.append(QueuedMessage(ex[d.target].id, d.source, d.edge, d.message))
            return out
        pending = self._router.pending
        for idx in sorted(pending):
            for d in pending[idx]:
                out.append(QueuedMessage(ex[idx].id, d.source, d.edge, d.message))
        return out

    def fan_in_buffers(self) -> dict[str, dict[str, list[Any]]]:
        """Messages buffered in each fan-in edge, per source."""
        return {
            eid: {s: list(q) for s, q in st.buffers.items()}
            for eid, st in self._router.fanin.items()
        }

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
            _usage_before=self._usage_before,
        )

    def can_progress(self) -> bool:
        """True when ``step()`` would run something now."""
        return self._engine.can_progress()

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

    def attempts(self) -> dict[str, list[Attempt]]:
        """Every invocation of each executor in this run so far, oldest first — including
        those before a restart, restored from the journal on ``resume``.

        Example::

            >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
            >>> @executor
            ... def echo(x: str, ctx: WorkflowContext[None, str]) -> None:
            ...     ctx.yield_output(x)
            >>> import asyncio
            >>> run = WorkflowBuilder(start=echo).build().start("hi")
            >>> _ = asyncio.run(run.until_idle())
            >>> [(a.superstep, a.status) for a in run.attempts()["echo"]]
            [(0, 'completed')]
        """
        return {ex: [Attempt(*t) for t in recs] for ex, recs in self._attempts.items()}

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
        await self._journal.flush()

    # ---------------------------------------------------------------- driving
    async def step(self) -> StepReport:
        """Run exactly one superstep (or continue the open one after answers)."""
        if self._loader is not None:
            await self.load()
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self._engine.run_steps(1)
        return self._report(*self._engine.last)

    async def until_idle(self) -> WorkflowResult:
        """Step until the run completes, fails, is cancelled or waits for input."""
        if self._loader is not None:
            await self.load()
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self._engine.run_steps(None)
        if self._journal.unsaved:
            await self._journal.flush()
        return self.result()

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

    def _check_target(self, source: str, target: str) -> None:
        self._router.check_target(source, target)

    # ------------------------------------------------------- human in the loop
    def _request_answer(
        self,
        ctx: WorkflowContext[Any, Any],
        call: int,
        request: Any,
        response_type: Any,
        request_id: str | None = None,
        origin: str | None = None,
    ) -> Any:
        """The answer to ``request_info`` call ``call`` of this delivery, or PendingRequest.

        ``request_id`` gives the request a known id (a sub-workflow forwards its child's
        requests under the child's ids); it is announced once, whatever the call order,
        as coming from ``origin`` (the asking executor's path, e.g. ``"sub/ask"``).
        """
        slot: Slot = ctx._slot
        key = (slot.next, call)
        if slot.request_ids is None:
            slot.request_ids = {}
        if request_id is not None:
            if request_id in self._answers:
                return self._answers[request_id]
            if request_id in self._requests:
                raise PendingRequest(request_id)
            rid: str | None = request_id
            slot.request_ids[key] = request_id
        else:
            rid = slot.request_ids.get(key)
            if rid is not None and rid in self._answers:
                return self._answers[rid]
        if rid is None or rid == request_id:
            if rid is None:
                rid = uuid.uuid4().hex
                slot.request_ids[key] = rid
            asker = origin or slot.executor.id
            self._requests[rid] = _PendingReq(rid, asker, request, response_type, self.superstep)
            self._journal.request(slot, call, rid)
            info = RequestInfo(
                request_id=rid, request=request, response_type=type_name(response_type)
            )
            if origin is None:
                ctx._emit(info)
            else:
                self._emit(info, origin)
        raise PendingRequest(rid)

    async def respond(self, request_id: str, value: Any, *, resume: bool = True) -> WorkflowResult:
        """Answer a pending request; by default the run then continues until idle.

        A value of the wrong type raises :class:`RequestError` and the request
        stays pending. A dict given for a pydantic-model response type is validated
        into the model.

        On a durable run the answer is stored before anything runs: through this
        process's lease when it drives the run, else with compare-and-set, so of two
        processes answering one request differently exactly one wins; the other gets
        :class:`AnswerConflictError` (or :class:`RunLockedError` while another process
        drives the run) and its request stays pending here.
        """
        if self._loader is not None:
            await self.load()
        req = self._requests.get(request_id)
        value = self.answer(request_id, value)
        try:
            await self.flush_journal()
        except (AnswerConflictError, RunLockedError):
            # Another process answered first, or drives the run: this answer was not stored.
            self._unanswer(request_id, req)
            raise
        if resume:
            return await self.until_idle()
        return self.result()

    def _unanswer(self, request_id: str, req: _PendingReq | None) -> None:
        """Undo :meth:`answer` whose record the storage refused (the request is pending again)."""
        if req is None:
            return
        self._answers.pop(request_id, None)
        self._requests[request_id] = req
        jr = self._journal
        jr.unsaved = [
            r for r in jr.unsaved if not (r.get("k") == "answer" and r["id"] == request_id)
        ]
        if self.status == "running":
            self.status = "waiting"

    def answer(self, request_id: str, value: Any) -> Any:
        """Record the answer to a pending request without running anything.

        With a checkpoint storage the answer is stored durably at the next
        ``await run.flush_journal()``, ``step()`` or ``respond()``.
        """
        self._require_loaded("requests")
        if self.status == "cancelled":
            raise RunStateError(
                f"run {self.run_id!r} was cancelled: it takes no answer to request "
                f"{request_id!r}; call run.reopen() first (or wf.resume(run_id, reopen=True)) "
                f"to continue it"
            )
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
        try:
            record = self._journal.answer_record(request_id, value)  # encoded before consumed
        except CodecError as exc:
            raise RequestError(
                f"the answer to request {request_id!r} of durable run {self.run_id!r} cannot be "
                f"stored ({exc}); the request is still pending: answer with storable data"
            ) from exc
        del self._requests[request_id]
        self._answers[request_id] = value
        self._journal.add(record)
        self._emit(RequestAnswered(request_id=request_id, response=value), req.executor_id)
        if self.status == "waiting" and not self._requests:
            self.status = "running"
        return value

    # ------------------------------------------------------------ termination
    def _complete(self) -> None:
        if self.status in TERMINAL:
            return
        for st in self._router.fanin.values():
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

    def _wait(self) -> None:
        """The run goes idle until its pending requests are answered."""
        self.status = "waiting"
        self._emit(WorkflowWaiting(pending_requests=list(self._requests)), None)

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
        driver = self._engine.driver
        if driver is not None and not driver.done():
            driver.cancel()
        else:
            self._finish_cancel()

    def _finish_cancel(self) -> None:
        if self.status != "waiting":
            # A superstep that only waits for answers ran nothing to roll back: it stays
            # open with its request ids, so a reopened run takes the same answers.
            self._roll_back()
        # A resume keeps it cancelled unless reopened (storage.runs() reads it too).
        self._journal.add({"k": "status", "status": "cancelled"})
        self._set_cancelled(announce=True)

    def _roll_back(self) -> None:
        """The open superstep's deliveries go back to the queue (nothing committed)."""
        open_ = self._engine.open
        if open_ is not None:
            for slot in open_.slots:
                self._router.pending[slot.index] = slot.deliveries
            self._engine.open = None

    def _set_cancelled(self, *, announce: bool) -> None:
        self.status = "cancelled"
        self.error = "cancelled by run.cancel()"
        self._t_end = time.perf_counter()
        if announce:
            self._emit(
                WorkflowCancelled(
                    error_type="Cancelled", error_message=self.error, status="cancelled"
                ),
                None,
            )

    def reopen(self) -> Run:
        """Let a cancelled run go on: ``respond``/``step``/``until_idle`` work again.

        A cancelled run refuses answers and does not run; reopening is the explicit
        way back (``wf.resume(run_id, reopen=True)`` does it for a stored run).

        Example::

            >>> import asyncio
            >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
            >>> @executor
            ... async def ask(n: int, ctx: WorkflowContext[None, int]) -> None:
            ...     await ctx.yield_output(n + await ctx.request_info("more?", response_type=int))
            >>> run = WorkflowBuilder(start=ask).build().start(40)
            >>> rid = asyncio.run(run.until_idle()).pending_requests[0].request_id
            >>> run.cancel()
            >>> run.reopen().status
            'waiting'
            >>> asyncio.run(run.respond(rid, 2)).outputs
            [42]
        """
        if self.status != "cancelled":
            raise RunStateError(
                f"run {self.run_id!r} is {self.status}, not cancelled; only a cancelled run "
                f"needs reopen()"
            )
        self._cancel_requested = False
        self.error = None
        self._t_end = None
        self.status = "waiting" if self._requests else "running"
        self._journal.add({"k": "status", "status": self.status})
        return self

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

    def _report(self, number: int, ran: list[Slot], event_start: int) -> StepReport:
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
        return _display.live_run(self)

    def stepper(self) -> Any:
        """Step / Run / Pause controls over ``run.step()`` with the queued messages."""
        return _display.stepper(self)

    def approvals(self) -> Any:
        """One card per pending request with Approve / Reject / Edit; submits ``respond``."""
        return _display.approvals(self)

    def checkpoints_view(self) -> Any:
        """Browse this run's checkpoints with state diffs and Resume / Fork buttons."""
        return _display.checkpoints_view(self)

    def to_dot(self) -> str:
        """DOT source of the graph coloured by each executor's state in this run."""
        return _display.workflow_to_dot(self.workflow, run=self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return _display.run_mimebundle(self)


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
