"""Workflow: an immutable, reusable graph of executors and edges."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import signal
import threading
from collections.abc import AsyncIterator, Iterable
from typing import Any, Literal, overload

from . import _display
from ._budget import Budget
from ._checkpoint import CheckpointError
from ._durable import new_run_id, restore
from ._edges import DirectEdge, EdgeGroup, FanInEdge, SwitchEdge
from ._errors import RunStateError
from ._events import WorkflowEvent
from ._executor import Executor, RetryPolicy
from ._result import WorkflowResult
from ._runner import Run
from ._typing import is_plain_container


class Workflow:
    """A validated graph, built by :class:`WorkflowBuilder`. Immutable and reusable:
    every ``run``/``start`` creates an independent :class:`Run`, so many runs of one
    workflow may execute concurrently.

    Example::

        >>> import asyncio
        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... async def echo(text: str, ctx: WorkflowContext[None, str]) -> None:
        ...     await ctx.yield_output(text)
        >>> wf = WorkflowBuilder(name="echo", start=echo).build()
        >>> asyncio.run(wf.run("hi")).outputs
        ['hi']
    """

    def __init__(
        self,
        *,
        name: str,
        executors: list[Executor],
        edges: list[EdgeGroup],
        start: str,
        max_supersteps: int = 1000,
        checkpoint_storage: Any = None,
        checkpoint_every: int | None = 1,
        event_sinks: Iterable[Any] = (),
        description: str = "",
        warnings: Iterable[str] = (),
        retry: RetryPolicy | None = None,
    ) -> None:
        self.name = name
        #: The default retry policy of executors that were given none.
        self.retry = retry
        self.description = description
        self.max_supersteps = max_supersteps
        self.checkpoint_storage = checkpoint_storage
        self.checkpoint_every = checkpoint_every
        self.event_sinks: tuple[Any, ...] = tuple(event_sinks)
        self.warnings: tuple[str, ...] = tuple(warnings)
        self._executors: tuple[Executor, ...] = tuple(executors)
        self._index: dict[str, int] = {e.id: i for i, e in enumerate(self._executors)}
        self._start_index = self._index[start]
        self._edges: tuple[EdgeGroup, ...] = tuple(edges)
        out: dict[str, list[EdgeGroup]] = {}
        targets: dict[str, set[str]] = {}
        for e in self._edges:
            for s in e.sources:
                out.setdefault(s, []).append(e)
                targets.setdefault(s, set()).update(e.targets)
        self._out: dict[str, tuple[EdgeGroup, ...]] = {k: tuple(v) for k, v in out.items()}
        self._targets_of: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in targets.items()}
        # source id -> (target index, target, edge id) when the source's only outgoing
        # edge is one unconditional direct edge (the runner's fast path).
        self._simple_routes: dict[str, tuple[int, Executor, str]] = {}
        for src, groups in self._out.items():
            if len(groups) == 1:
                (g,) = groups
                if type(g) is DirectEdge and g.condition is None and len(g.targets) == 1:
                    ti = self._index[g.targets[0]]
                    self._simple_routes[src] = (ti, self._executors[ti], g.id)
        self._fan_ins: tuple[FanInEdge, ...] = tuple(
            e for e in self._edges if isinstance(e, FanInEdge)
        )
        for fan_in in self._fan_ins:
            target = self._executors[self._index[fan_in.targets[0]]]
            fan_in.accepts = {}
            fan_in.cacheable = all(is_plain_container(h.input_type) for h in target.handlers)
        self._stateful: tuple[Executor, ...] = tuple(
            e
            for e in self._executors
            if type(e).on_checkpoint_save is not Executor.on_checkpoint_save
        )
        self.graph_hash: str = _graph_hash(self)

    # ------------------------------------------------------------- structure
    @property
    def executors(self) -> tuple[Executor, ...]:
        """Executors in registration order (the deterministic delivery order)."""
        return self._executors

    @property
    def edges(self) -> tuple[EdgeGroup, ...]:
        return self._edges

    def retry_for(self, executor: Executor) -> RetryPolicy:
        """The retry policy that applies to ``executor``: its own, else the workflow's."""
        if self.retry is None or getattr(executor, "retry_explicit", True):
            return executor.retry
        return self.retry

    @property
    def start_executor_id(self) -> str:
        return self._executors[self._start_index].id

    def executor(self, executor_id: str) -> Executor:
        """The executor with this id (``KeyError`` naming the known ids otherwise)."""
        try:
            return self._executors[self._index[executor_id]]
        except KeyError:
            raise KeyError(
                f"workflow {self.name!r} has no executor {executor_id!r}; "
                f"known: {sorted(self._index)}"
            ) from None

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly description of the graph (also what ``graph_hash`` hashes)."""
        cached: dict[str, Any] | None = self.__dict__.get("_description")
        if cached is None:
            cached = self.__dict__["_description"] = self._describe()
        return cached

    def _describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "start": self.start_executor_id,
            "executors": [
                {
                    "id": e.id,
                    "class": type(e).__qualname__,
                    "kind": e.kind.value,
                    "accepts": [h.input_name for h in e.handlers],
                    "children": (
                        e.workflow.describe() if hasattr(e, "workflow") else None  # sub-workflow
                    ),
                }
                for e in self._executors
            ],
            "edges": [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "sources": list(e.sources),
                    "targets": list(e.targets),
                    "label": e.label,
                    **(
                        {"cases": list(e.case_labels), "default": e.default}
                        if isinstance(e, SwitchEdge)
                        else {}
                    ),
                }
                for e in self._edges
            ],
        }

    # ------------------------------------------------------------- execution
    def start(
        self,
        input: Any,
        *,
        run_id: str | None = None,
        event_sinks: Iterable[Any] = (),
        checkpoint_storage: Any = None,
        budget: Budget | None = None,
    ) -> Run:
        """Create a :class:`Run` with ``input`` queued for the start executor (nothing runs yet)."""
        run = Run(
            self,
            run_id=run_id,
            event_sinks=event_sinks,
            checkpoint_storage=checkpoint_storage,
            budget=budget,
        )
        run._begin(input)
        return run

    @overload
    async def run(
        self,
        input: Any,
        *,
        run_id: str | None = None,
        event_sinks: Iterable[Any] = (),
        checkpoint_storage: Any = None,
        budget: Budget | None = None,
        background: Literal[False] = False,
        background_store: Any = None,
    ) -> WorkflowResult: ...
    @overload
    async def run(
        self,
        input: Any,
        *,
        run_id: str | None = None,
        event_sinks: Iterable[Any] = (),
        checkpoint_storage: Any = None,
        budget: Budget | None = None,
        background: Literal[True],
        background_store: Any = None,
    ) -> Any: ...
    async def run(
        self,
        input: Any,
        *,
        run_id: str | None = None,
        event_sinks: Iterable[Any] = (),
        checkpoint_storage: Any = None,
        budget: Budget | None = None,
        background: bool = False,
        background_store: Any = None,
    ) -> Any:
        """Run until completed, waiting for input, failed or cancelled (a
        :class:`WorkflowResult`).

        With ``background=True`` return a ``ContinuationToken`` at once instead: the run
        goes on in a task of this process, its chunks and outputs kept in a durable store
        (``background_store``; see ``agentic_nb.agents.poll``).
        """
        if background:
            return await _display.start_background(
                self,
                input,
                background_store,
                run_id=run_id,
                event_sinks=event_sinks,
                checkpoint_storage=checkpoint_storage,
                budget=budget,
            )
        run = self.start(
            input,
            run_id=run_id,
            event_sinks=event_sinks,
            checkpoint_storage=checkpoint_storage,
            budget=budget,
        )
        return await run.until_idle()

    async def run_stream(
        self,
        input: Any,
        *,
        run_id: str | None = None,
        event_sinks: Iterable[Any] = (),
        checkpoint_storage: Any = None,
        budget: Budget | None = None,
    ) -> AsyncIterator[WorkflowEvent]:
        """Run and yield every event as it happens."""
        run = self.start(
            input,
            run_id=run_id,
            event_sinks=event_sinks,
            checkpoint_storage=checkpoint_storage,
            budget=budget,
        )
        async for ev in run.stream():
            yield ev

    def run_sync(
        self,
        input: Any,
        *,
        run_id: str | None = None,
        event_sinks: Iterable[Any] = (),
        checkpoint_storage: Any = None,
        budget: Budget | None = None,
    ) -> WorkflowResult:
        """Blocking ``run`` for scripts and consoles; inside a running event loop
        (e.g. a notebook cell without ``await``) it runs on a private thread.

        Ctrl-C (``KeyboardInterrupt``) stops the run promptly — the interrupted
        superstep is rolled back, nothing of it is committed — and is raised again
        with a note naming the run; a run with checkpoint storage stays resumable
        with ``wf.resume(run_id)``.
        """
        run = self.start(
            input,
            run_id=run_id,
            event_sinks=event_sinks,
            checkpoint_storage=checkpoint_storage,
            budget=budget,
        )
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            try:
                return asyncio.run(run.until_idle())
            except KeyboardInterrupt as exc:
                _interrupted_note(exc, run)
                raise
        driving: list[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = []

        async def drive() -> WorkflowResult:
            task = asyncio.current_task()
            assert task is not None
            driving.append((asyncio.get_running_loop(), task))
            return await run.until_idle()

        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="agentic-run")
        future = pool.submit(asyncio.run, drive())
        # The blocked loop may have its own SIGINT handler (asyncio.run only cancels its
        # main task, which cannot run while we block it): Ctrl-C must interrupt us.
        previous = _sigint_raises()
        try:
            # A short wait in a loop: the main thread handles SIGINT between waits.
            while True:
                try:
                    return future.result(timeout=0.05)
                except concurrent.futures.TimeoutError:
                    continue
        except KeyboardInterrupt as exc:
            for loop, task in driving:
                loop.call_soon_threadsafe(task.cancel)
            concurrent.futures.wait([future], timeout=10)
            _interrupted_note(exc, run)
            raise
        finally:
            pool.shutdown(wait=False)
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    # ------------------------------------------------------------ durability
    def _storage(self, storage: Any) -> Any:
        store = storage if storage is not None else self.checkpoint_storage
        if store is None:
            raise RunStateError(
                f"workflow {self.name!r} has no checkpoint storage: pass storage= or build it "
                f"with WorkflowBuilder(checkpoint_storage=...)"
            )
        return store

    def resume(
        self,
        run_id: str | None = None,
        *,
        checkpoint_id: str | None = None,
        storage: Any = None,
        responses: dict[str, Any] | None = None,
        allow_graph_change: bool = False,
        event_sinks: Iterable[Any] = (),
        reopen: bool = False,
        budget: Budget | None = None,
        take_over: bool = False,
    ) -> Run:
        """Continue a run from its latest checkpoint (or from ``checkpoint_id``).

        One driver per run: the run is loaded under its lease (storages that have
        leases), and each ``step``/``until_idle`` holds the lease while it drives. While
        another process drives the run, loading (or driving) raises
        :class:`RunLockedError` naming that holder; ``take_over=True`` takes the run
        anyway (the old holder's next write is refused and it stops) — for a holder that
        hangs. A holder process that died is taken over without asking.

        A run that ended (its last checkpoint leaves nothing to run) comes back with its
        terminal status at once; a run stopped with ``run.cancel()`` comes back
        cancelled unless ``reopen=True``.

        Finished deliveries recorded in the run's journal are replayed, not re-run;
        recorded answers are replayed to ``request_info`` in call order and only
        unanswered requests are asked again. ``budget=Budget(...)`` caps the resumed run
        (what it used before counts: resume a run a budget stopped with a larger one).
        ``responses={request_id: value}`` answers pending requests on load. Without
        ``run_id`` (and ``checkpoint_id``) the one unfinished run of this workflow in the
        storage is resumed (an error lists them when there are several). Resuming
        from a checkpoint that is not the run's latest starts a fork (a new run)
        instead. The returned run is restored lazily: ``run = await wf.resume(...)`` or
        any ``step``/``until_idle`` loads it.

        Example::

            >>> import asyncio, tempfile
            >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
            >>> from agentic_nb.workflow import FileCheckpointStorage
            >>> @executor
            ... async def ask(n: int, ctx: WorkflowContext[None, int]) -> None:
            ...     extra = await ctx.request_info(f"add to {n}?", response_type=int)
            ...     await ctx.yield_output(n + extra)
            >>> store = FileCheckpointStorage(tempfile.mkdtemp())
            >>> wf = WorkflowBuilder(start=ask, checkpoint_storage=store).build()
            >>> first = wf.run_sync(40)                 # ... the process could die here
            >>> rid = first.pending_requests[0].request_id
            >>> async def later():
            ...     run = await wf.resume(first.run_id)
            ...     return await run.respond(rid, 2)
            >>> asyncio.run(later()).outputs
            [42]
        """
        store = self._storage(storage)
        run = Run(
            self,
            run_id=run_id or new_run_id(),
            event_sinks=event_sinks,
            checkpoint_storage=store,
            budget=budget,
        )

        async def load() -> None:
            jr = run._journal
            if checkpoint_id is not None:
                cp = await store.get(checkpoint_id)
                if cp is None:
                    raise CheckpointError(f"no checkpoint {checkpoint_id!r} in {store!r}")
                latest = await store.latest(cp.run_id)
                fork = latest is not None and latest.checkpoint_id != cp.checkpoint_id
                if not fork:
                    run.run_id = cp.run_id
                    await jr.acquire(take_over=take_over)
                elif run.run_id == cp.run_id:
                    run.run_id = new_run_id()  # a fork is a new run, never merged into its parent
            else:
                rid = run_id if run_id is not None else await self._latest_unfinished(store)
                run.run_id = rid
                cp = await store.latest(rid)
                if cp is None:
                    raise CheckpointError(
                        f"run {rid!r} has no checkpoint in {store!r}; was it started with "
                        f"this storage?"
                    )
                fork = False
                await jr.acquire(take_over=take_over)
                cp = await store.latest(rid) or cp  # what the last driver left, read as holder
            try:
                journal = await store.journal(cp.run_id)
                restore(
                    run,
                    cp,
                    journal,
                    fork=fork,
                    allow_graph_change=allow_graph_change,
                    reopen=reopen,
                )
                if not fork:
                    jr.count = len(journal)
                for rid, value in (responses or {}).items():
                    run.answer(rid, value)
            finally:
                # Loaded under the lease (nobody drove it meanwhile); driving takes it again
                # and first checks that no other process wrote to the run since.
                await jr.release()

        run._loader = load
        return run

    async def _latest_unfinished(self, store: Any) -> str:
        """The one unfinished run of this workflow in ``store`` (``resume()`` without id)."""
        if not hasattr(store, "runs"):
            raise CheckpointError(f"{store!r} cannot list runs: pass the run id, wf.resume(run_id)")
        open_runs = [
            r
            for r in await store.runs(workflow=self.name)
            if r.status not in ("completed", "failed", "cancelled")
        ]
        if not open_runs:
            raise CheckpointError(
                f"no unfinished run of workflow {self.name!r} in {store!r}: nothing to resume "
                f"(start one with wf.start(...))"
            )
        if len(open_runs) > 1:
            listing = "; ".join(
                f"{r.run_id} ({r.status}, superstep {r.superstep}, "
                f"{len(r.pending_requests)} pending)"
                for r in open_runs
            )
            raise CheckpointError(
                f"{len(open_runs)} unfinished runs of workflow {self.name!r} in {store!r}: "
                f"{listing}; pick one with wf.resume(run_id)"
            )
        return str(open_runs[0].run_id)

    def fork(
        self,
        checkpoint_id: str,
        *,
        state: dict[str, Any] | None = None,
        storage: Any = None,
        run_id: str | None = None,
        allow_graph_change: bool = False,
        event_sinks: Iterable[Any] = (),
    ) -> Run:
        """Time travel: a new run starting from any checkpoint, with optional state edits.

        The new run records its parent (``run.parent == (run_id, checkpoint_id)``) and
        re-executes everything after the checkpoint. Restored lazily, like ``resume``.

        Example::

            >>> import asyncio
            >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
            >>> from agentic_nb.workflow import InMemoryCheckpointStorage
            >>> @executor
            ... def setup(n: int, ctx: WorkflowContext[int]) -> None:
            ...     ctx.set_state("factor", 2)
            ...     ctx.send_message(n)
            >>> @executor
            ... def scale(n: int, ctx: WorkflowContext[None, int]) -> None:
            ...     ctx.yield_output(n * ctx.get_state("factor"))
            >>> store = InMemoryCheckpointStorage()
            >>> wf = (WorkflowBuilder(start=setup, checkpoint_storage=store)
            ...       .add_edge(setup, scale).build())
            >>> done = wf.run_sync(5)
            >>> cps = asyncio.run(store.list(done.run_id))
            >>> before_scale = [c for c in cps if c.superstep == 1][0]
            >>> forked = wf.fork(before_scale.checkpoint_id, state={"factor": 10})
            >>> asyncio.run(forked.until_idle()).outputs
            [50]
        """
        store = self._storage(storage)
        run = Run(
            self, run_id=run_id or new_run_id(), event_sinks=event_sinks, checkpoint_storage=store
        )

        async def load() -> None:
            cp = await store.get(checkpoint_id)
            if cp is None:
                raise CheckpointError(f"no checkpoint {checkpoint_id!r} in {store!r}")
            journal = await store.journal(cp.run_id)
            restore(run, cp, journal, fork=True, allow_graph_change=allow_graph_change, state=state)

        run._loader = load
        return run

    # ------------------------------------------------------- other layers
    def as_agent(self, name: str | None = None) -> Any:
        """Expose this workflow through the Agent protocol (see ``agentic_nb.agents``)."""
        return _display.workflow_as_agent(self, name or self.name)

    def to_dot(self) -> str:
        """Graphviz DOT source of the graph (``notebook`` extra not needed for the text)."""
        return _display.workflow_to_dot(self)

    def to_networkx(self) -> Any:
        """A ``networkx.MultiDiGraph`` whose nodes and edges carry kind, labels and types."""
        return _display.workflow_to_networkx(self)

    def to_mermaid(self) -> str:
        """Mermaid flowchart source of the graph."""
        return _display.workflow_to_mermaid(self)

    def explore(self) -> Any:
        """An interactive graph of this workflow (``agentic_nb.widgets.GraphView``): zoom,
        pan, fit, collapsible sub-workflows, a panel per executor (``notebook`` extra)."""
        return _display.graph_view(self)

    def run_live(self, input: Any, **kwargs: Any) -> Any:
        """Start a run in a background task and return its live widget at once."""
        run = self.start(input, **kwargs)
        return run.show()

    # ----------------------------------------------------------------- display
    def __repr__(self) -> str:
        return (
            f"Workflow(name={self.name!r}, executors={len(self._executors)}, "
            f"edges={len(self._edges)}, start={self.start_executor_id!r})"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return _display.workflow_mimebundle(self)


def _sigint_raises() -> Any:
    """Make SIGINT raise KeyboardInterrupt here; returns the handler to restore (or None)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        return signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main interpreter
        return None


def _interrupted_note(exc: BaseException, run: Run) -> None:
    how = (
        f"wf.resume({run.run_id!r}) continues it"
        if run.storage is not None
        else "it has no checkpoint storage, so it cannot be resumed"
    )
    exc.add_note(
        f"agentic_nb: run {run.run_id!r} was interrupted at superstep {run.superstep}; {how}"
    )


def _graph_hash(wf: Workflow) -> str:
    raw = json.dumps(wf.describe(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]
