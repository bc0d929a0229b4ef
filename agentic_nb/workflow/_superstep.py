"""The superstep engine behind a :class:`Run`.

A superstep delivers every queued message, runs every executor that has
deliveries (concurrently across executors, one delivery at a time within an
executor), waits for all of them at the barrier, then commits their effects in
executor registration order: shared-state writes, outputs, and routing of sent
messages, which become the next superstep's deliveries.

:meth:`Engine.superstep` reads as its phases::

    open → run slots → settle → barrier → checkpoint

The engine owns the open superstep (its slots and their uncommitted effects);
the run owns what is committed (state, outputs, events, requests); the router
(``_routing.py``) owns the mailbox; the journal (``_journal.py``) owns persistence.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from . import _routing
from ._context import ExecutorError, PendingRequest, WorkflowContext
from ._errors import ExecutorTimeout, RoutingError, RunStateError
from ._events import (
    EXECUTOR_COMPLETED,
    EXECUTOR_INVOKED,
    SUPERSTEP_COMPLETED,
    SUPERSTEP_STARTED,
    ExecutorFailed,
    Output,
)
from ._executor import Executor, HandlerSpec
from ._lease import LeaseLostError, RunLockedError
from ._routing import Delivery

if TYPE_CHECKING:
    from ._runner import Run

TERMINAL = frozenset({"completed", "failed", "cancelled"})
_MISSING: Any = object()
_NO_SLOTS: list[Any] = []  # shared empty result; never appended to


class Slot:
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


class OpenSuperstep:
    """A superstep that started and has not reached its barrier yet."""

    __slots__ = ("event_start", "number", "ran", "slots", "started")

    def __init__(self, number: int, slots: list[Slot], started: float, event_start: int) -> None:
        self.number = number
        self.slots = slots
        self.started = started
        self.event_start = event_start
        self.ran: list[Slot] = slots


class Engine:
    """Drives one run's supersteps; ``Run.step``/``until_idle`` call :meth:`run_steps`."""

    __slots__ = ("children", "driver", "last", "open", "run")

    def __init__(self, run: Run) -> None:
        self.run = run
        self.open: OpenSuperstep | None = None
        self.driver: asyncio.Task[Any] | None = None
        self.children: list[asyncio.Task[Any]] = []
        # (number, slots that ran, first event) of the last step, for its StepReport.
        self.last: tuple[int, list[Slot], int] = (0, [], 0)

    # ---------------------------------------------------------------- queries
    def can_progress(self) -> bool:
        run = self.run
        if run._loader is not None:
            return True
        if run.status in TERMINAL:
            return False
        if self.open is not None:
            return any(self.runnable(s) for s in self.open.slots)
        return bool(run._router.pending) or run.status == "created"

    def runnable(self, slot: Slot) -> bool:
        if slot.done or slot.failed is not None:
            return False
        return slot.waiting is None or slot.waiting in self.run._answers

    def mark(self, number: int, ran: list[Slot], event_start: int) -> None:
        """Remember what the last step did; ``Run.step()`` turns it into a StepReport."""
        self.last = (number, ran, event_start)

    def mark_nothing(self) -> None:
        run = self.run
        self.last = (run.superstep, [], len(run._event_list))

    # ---------------------------------------------------------------- driving
    async def run_steps(self, limit: int | None) -> None:
        """Under the run's lock: one superstep (``limit=1``) or as many as can run."""
        run = self.run
        self.driver = asyncio.current_task()
        tracer = run._tracer
        if tracer is not None:
            tracer.drive_started()
        try:
            meter = run._budget
            if meter is not None and not meter.primed:
                await meter.prime(run)
            if limit is None:
                while self.can_progress():
                    await self.superstep(until_idle=True)
            elif run.status in TERMINAL:
                self.mark_nothing()
            else:
                await self.superstep(until_idle=False)
        except asyncio.CancelledError:
            if not run._cancel_requested:
                raise
            run._finish_cancel()
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            self.mark_nothing()
            try:
                await run._journal.flush()  # the ``cancel`` record
            except Exception as exc:
                run.diagnostics.append(f"could not store the cancellation: {exc}")
        except LeaseLostError as exc:
            self.lease_lost(exc)
        finally:
            self.driver = None
            if tracer is not None:
                tracer.drive_ended()
            journal = run._journal
            if journal.box is not None:
                await self.let_go(journal)
            if run._pull_sinks:
                run._wake_sinks()

    async def let_go(self, journal: Any) -> None:
        """After driving (``step``/``until_idle`` returns): stop renewing, give the lease back.

        Between two ``step()`` calls nobody holds the run; the next one takes the lease
        again and first checks that no other process wrote to the run meanwhile.
        """
        journal.box.stop_renewer()
        if journal.lease is None:
            return
        try:
            if journal.unsaved:
                await journal.flush()
            await journal.release()
        except LeaseLostError as exc:
            self.lease_lost(exc)
        except Exception as exc:
            self.run.diagnostics.append(f"could not release the lease of the run: {exc}")

    def lease_lost(self, exc: LeaseLostError) -> None:
        """Another process took the run over: stop here, commit and write nothing more."""
        run = self.run
        run._journal.lose(exc)
        for t in self.children:
            t.cancel()
        self.open = None
        if run.status not in TERMINAL:
            run._fail(
                "LeaseLostError",
                f"run {run.run_id!r} stopped: another process took it over, so this one "
                f"stopped driving it and wrote nothing more ({exc})",
            )

    async def superstep(self, until_idle: bool) -> None:
        """One superstep; with ``until_idle`` it goes on while plain supersteps follow
        (one coroutine for the whole run instead of one per superstep)."""
        run = self.run
        journal = run._journal
        while True:
            if journal.active:
                try:
                    await journal.before_step()
                except (RunStateError, RunLockedError, LeaseLostError):
                    raise  # a run id that exists, a run another process drives: nothing ran
                except Exception as exc:
                    run._fail(type(exc).__name__, f"checkpoint storage failed: {exc}")
                    return self.mark_nothing()
            open_ = self.open
            if open_ is None:
                open_ = self.open_step()
                if open_ is None:
                    return self.mark_nothing()
                runnable = (
                    [s for s in open_.slots if self.runnable(s)]
                    if journal.replay or journal.replay_requests
                    else open_.slots
                )
            else:
                runnable = self.reopen(open_)
            run.status = "running"
            if run._tracer is None:
                await self.run_slots(open_, runnable)
            else:
                await run._tracer.run_slots(self, open_, runnable)
            failed = self.settle(open_)
            if failed is None:  # waiting for answers, or the barrier failed
                if journal.unsaved:
                    await journal.flush()
                return
            if not await self.checkpoint(open_, failed):
                return
            if failed:
                self.fail(open_, failed[0])
            elif not run._router.pending and not run._requests:
                run._complete()
            if not until_idle or run.status != "running" or not run._router.pending:
                return

    # ----------------------------------------------------------------- phases
    def open_step(self) -> OpenSuperstep | None:
        """Phase 1: turn the queued deliveries into slots (``None``: nothing to open)."""
        run = self.run
        wf = run.workflow
        router = run._router
        if not router.pending:
            run._complete()
            return None
        if run.superstep >= wf.max_supersteps:
            queued = ", ".join(
                f"{wf._executors[i].id} ({len(d)})" for i, d in sorted(router.pending.items())
            )
            run._fail(
                "MaxSuperstepsReached",
                f"max_supersteps={wf.max_supersteps} reached with messages still queued "
                f"for: {queued}. Raise max_supersteps or check for a cycle without exit.",
            )
            return None
        if run._budget is not None:
            reason = run._budget.check(run)
            if reason is not None:
                run._fail("BudgetExceeded", reason)
                return None
        run.status = "running"
        pending = router.take()
        execs = run._executors
        if len(pending) == 1:
            ((idx, ds),) = pending.items()
            slot = Slot(idx, execs[idx], ds)
            slots = [slot]
            names: tuple[str, ...] = (slot.executor.id,)
            count = len(ds)
        else:
            slots = [Slot(i, execs[i], pending[i]) for i in sorted(pending)]
            names = tuple(s.executor.id for s in slots)
            count = sum(len(s.deliveries) for s in slots)
        started = time.perf_counter()
        open_ = self.open = OpenSuperstep(run.superstep, slots, started, len(run._event_list))
        run._fast(SUPERSTEP_STARTED, None, started, (names, count))
        router.give_back(pending)
        journal = run._journal
        if journal.replay or journal.replay_requests:
            from ._durable import apply_replay

            apply_replay(run, open_)
        return open_

    def reopen(self, open_: OpenSuperstep) -> list[Slot]:
        """Phase 1 of a superstep that stayed open: the slots whose answers arrived."""
        runnable = [s for s in open_.slots if self.runnable(s)]
        for s in runnable:
            s.waiting = None
        return runnable

    async def run_slots(self, open_: OpenSuperstep, runnable: list[Slot]) -> None:
        """Phase 2: run the slots' deliveries, concurrently across slots."""
        open_.ran = runnable
        if len(runnable) == 1 and _routing.FAST_PATHS:
            # Fast path: drive()'s loop inlined, one coroutine less per superstep.
            slot = runnable[0]
            ds = slot.deliveries
            while slot.next < len(ds):
                if not await self.invoke(slot, ds[slot.next]):
                    break
                slot.next += 1
            else:
                slot.done = True
        elif runnable:
            # Every drive() catches its handler's errors, so awaiting the tasks in order
            # is a barrier (cheaper than gather); only cancellation propagates.
            loop = asyncio.get_running_loop()
            tasks = [loop.create_task(self.drive(s)) for s in runnable]
            self.children = tasks
            try:
                for t in tasks:
                    await t
            except BaseException:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
            finally:
                self.children = []

    def settle(self, open_: OpenSuperstep) -> list[Slot] | None:
        """Phase 3: stay open while requests wait, else pass the barrier.

        Returns the failed slots (usually none), or ``None`` when the superstep stays
        open or the barrier itself failed.
        """
        run = self.run
        self.mark(open_.number, open_.ran, open_.event_start)
        failed: list[Slot] = _NO_SLOTS
        waiting = False
        for slot in open_.slots:
            if slot.failed is not None:
                if failed is _NO_SLOTS:
                    failed = []
                failed.append(slot)
            elif slot.waiting is not None:
                waiting = True
        if waiting and not failed:
            run._wait()
            return None
        try:
            self.barrier(open_)
        except RoutingError as exc:
            self.open = None
            run._fail("RoutingError", str(exc))
            return None
        return failed

    def barrier(self, open_: OpenSuperstep) -> None:
        """Phase 4: commit the slots' effects in registration order and route their messages."""
        run = self.run
        router = run._router
        sent = 0
        now = time.perf_counter()
        for slot in open_.slots:
            if slot.state_writes:
                run._state.update(slot.state_writes)
            if slot.outputs:
                run.outputs.extend(slot.outputs)
            if slot.messages:
                sent += router.route_all(slot.executor.id, slot.messages, now)
        if router.fanin:
            sent += router.fire_fan_ins()
        self.open = None
        # The barrier's single clock reading also dates the superstep's end.
        run._fast(SUPERSTEP_COMPLETED, None, now, ((now - open_.started) * 1000.0, sent))
        run.superstep += 1
        if run._pull_sinks:
            run._wake_sinks()

    async def checkpoint(self, open_: OpenSuperstep, failed: list[Slot]) -> bool:
        """Phase 5: save a checkpoint after a clean barrier; False when that failed the run."""
        run = self.run
        journal = run._journal
        if not journal.active or failed:
            return True
        ending = not run._router.pending and not run._requests
        try:
            await journal.after_barrier(final=ending)
        except LeaseLostError:
            raise
        except Exception as exc:
            run._fail(
                type(exc).__name__,
                f"checkpoint after superstep {open_.number} could not be saved: {exc}",
            )
            return False
        return True

    def fail(self, open_: OpenSuperstep, first: Slot) -> None:
        err = first.failed
        assert err is not None
        self.run._fail(
            type(err).__name__,
            f"executor {first.executor.id!r} failed in superstep {open_.number}: "
            f"{type(err).__name__}: {err}",
        )

    # ------------------------------------------------------------ deliveries
    async def drive(self, slot: Slot) -> None:
        deliveries = slot.deliveries
        while slot.next < len(deliveries):
            if not await self.invoke(slot, deliveries[slot.next]):
                return
            slot.next += 1
        slot.done = True

    async def invoke(self, slot: Slot, d: Delivery) -> bool:
        """Run one delivery (with its retries); False when the slot must stop here."""
        run = self.run
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
        history = run._attempts.get(ex_id)
        if history is None:
            history = run._attempts[ex_id] = []
        journal = run._journal
        durable = journal.active
        tracer = run._tracer
        attempt = 0
        if journal.attempts:  # failed attempts recorded before a restart still count
            attempt = journal.attempts.pop((run.superstep, ex_id, slot.next), 0)
        while True:
            attempt += 1
            ctx: WorkflowContext[Any, Any] = WorkflowContext(
                run, ex_id, d, attempt, not spec.is_async, slot
            )
            t0 = time.perf_counter()
            run._fast(EXECUTOR_INVOKED, ex_id, t0, (attempt, mtype, d.source))
            first_event = len(run._event_list) if durable else 0
            exc: BaseException | None = None
            try:
                if tracer is not None:
                    await tracer.call(self, ex, spec, message, ctx)
                elif spec.is_async and ex.timeout is None:
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
                    await self.call(ex, spec, message, ctx)
            except PendingRequest as pending:
                self.flush_events(ctx, ex_id)
                if journal.unsaved:
                    await journal.flush()
                dur = (time.perf_counter() - t0) * 1000.0
                history.append((run.superstep, attempt, mtype, "waiting", dur, None))
                slot.waiting = pending.request_id
                return False
            except asyncio.CancelledError as cancelled:
                task = asyncio.current_task()
                if task is None or task.cancelling():
                    raise  # the run (or its caller) is being cancelled
                # The handler raised CancelledError itself: its own failure, not the run's.
                exc = cancelled
            except Exception as raised:
                exc = raised
            if exc is not None:
                self.flush_events(ctx, ex_id)
                dur = (time.perf_counter() - t0) * 1000.0
                error = ExecutorError(ex_id, run.superstep, attempt, type(exc).__name__, str(exc))
                history.append((run.superstep, attempt, mtype, "failed", dur, error))
                if durable:
                    journal.failure(slot, error, dur)
                    await journal.flush()
                policy = run.workflow.retry_for(ex)
                retry = policy.should_retry(exc, attempt)
                run._emit(
                    ExecutorFailed(
                        attempt=attempt,
                        error_type=type(exc).__name__,
                        error_message=str(exc),
                        will_retry=retry,
                        duration_ms=dur,
                    ),
                    ex_id,
                )
                if retry:
                    delay = policy.delay(attempt)
                    if delay > 0:
                        await asyncio.sleep(delay)
                    continue
                slot.failed = exc
                return False
            t1 = time.perf_counter()
            dur = (t1 - t0) * 1000.0
            if ctx._events:
                self.flush_events(ctx, ex_id)
            history.append((run.superstep, attempt, mtype, "completed", dur, None))
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
                    run._emit(Output(data=out), ex_id)
            if ctx._state_writes:
                if slot.state_writes is None:
                    slot.state_writes = {}
                slot.state_writes.update(ctx._state_writes)
            if durable:
                try:
                    await journal.write(slot, ctx, attempt, dur, first_event)
                except LeaseLostError:
                    raise
                except Exception as exc:
                    slot.failed = exc
                    return False
            if ctx._outputs or not spec.is_async:
                t1 = time.perf_counter()  # events were emitted after t1: keep ts monotonic
            run._fast(EXECUTOR_COMPLETED, ex_id, t1, (attempt, dur))
            return True

    async def call(
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

    def flush_events(self, ctx: WorkflowContext[Any, Any], executor_id: str) -> None:
        if ctx._events:
            for ev in ctx._events:
                self.run._emit(ev, executor_id)
            ctx._events = None
