"""Watch a run that executes in another process: replay from AGENTIC_EVENTS, then follow."""

from __future__ import annotations

import asyncio
import bisect
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentic_nb.workflow import (
    EventLog,
    ExecutorKind,
    MessageSent,
    PendingRequestInfo,
    RequestInfo,
    RunStateError,
    WorkflowEvent,
    WorkflowResult,
)
from agentic_nb.workflow._edges import (
    Case,
    DirectEdge,
    EdgeGroup,
    FanInEdge,
    FanOutEdge,
    SwitchEdge,
)
from agentic_nb.workflow.codec import CodecError, decode, loads

from . import _subjects as S
from ._streams import (
    EVENTS_STREAM,
    RUNS_BUCKET,
    STATE_BUCKET,
    ensure_bucket,
    ensure_streams,
    kv_keys,
)
from ._tracker import TERMINAL, RunTracker

Listener = Callable[[WorkflowEvent], None]


@dataclass(kw_only=True, eq=False)
class RemoteEvent(WorkflowEvent):
    """An event whose class is not importable in this process (fields kept as data)."""

    remote_type: str = ""
    data: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------- graph stand-ins


@dataclass(frozen=True)
class _Handler:
    input_name: str


class RemoteExecutor:
    """What a watcher knows about an executor: id, kind, accepted input type names."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.id: str = spec.get("id", "")
        try:
            self.kind = ExecutorKind(spec.get("kind", "worker"))
        except ValueError:
            self.kind = ExecutorKind.WORKER
        self.handlers = tuple(_Handler(a) for a in spec.get("accepts", ()))
        self.message_types: tuple[Any, ...] = ()
        self.input_types: tuple[Any, ...] = ()
        self.executor_class: str = spec.get("class", "")
        children = spec.get("children")
        if children:
            self.workflow = RemoteWorkflow(children)

    def __repr__(self) -> str:
        return f"RemoteExecutor({self.id!r}, kind={self.kind.value!r})"


def _edge_from(spec: dict[str, Any]) -> EdgeGroup:
    kind = spec.get("kind", "direct")
    common: dict[str, Any] = {
        "id": spec.get("id", ""),
        "kind": kind,
        "sources": tuple(spec.get("sources", ())),
        "targets": tuple(spec.get("targets", ())),
        "label": spec.get("label"),
    }
    if kind == "switch":
        default = spec.get("default")
        labels = tuple(spec.get("cases", ()))
        non_default = [t for t in common["targets"] if t != default]
        cases = tuple(Case(lambda _m: False, t, label=lab) for t, lab in zip(non_default, labels))
        return SwitchEdge(**common, cases=cases, default=default, case_labels=labels)
    if kind == "fan_out":
        return FanOutEdge(**common)
    if kind == "fan_in":
        return FanInEdge(**common)
    return DirectEdge(**common)


class RemoteWorkflow:
    """A workflow rebuilt from ``WorkflowStarted.graph`` (structure only, cannot run).

    It offers what the notebook layer reads: ``name``, ``executors``, ``edges``,
    ``start_executor_id``, ``max_supersteps``, ``describe()``, ``to_dot()``.
    """

    def __init__(self, graph: dict[str, Any], *, graph_hash: str = "") -> None:
        self._graph = graph
        self.name: str = graph.get("name", "")
        self.graph_hash = graph_hash
        self.start_executor_id: str = graph.get("start", "")
        self.max_supersteps: int = int(graph.get("max_supersteps", 1000))
        self._executors = tuple(RemoteExecutor(x) for x in graph.get("executors", ()))
        self._edges = tuple(_edge_from(e) for e in graph.get("edges", ()))
        self._index = {x.id: x for x in self._executors}
        self.description = ""

    @property
    def executors(self) -> tuple[RemoteExecutor, ...]:
        return self._executors

    @property
    def edges(self) -> tuple[EdgeGroup, ...]:
        return self._edges

    def executor(self, executor_id: str) -> RemoteExecutor:
        return self._index[executor_id]

    def describe(self) -> dict[str, Any]:
        return self._graph

    def to_dot(self) -> str:
        from agentic_nb.notebook import workflow_to_dot

        return workflow_to_dot(self)

    def __repr__(self) -> str:
        return f"RemoteWorkflow(name={self.name!r}, executors={len(self._executors)})"


# ----------------------------------------------------------------------- events


def decode_event(data: bytes, headers: dict[str, str] | None) -> WorkflowEvent:
    """Rebuild a published event; unknown event classes become :class:`RemoteEvent`."""
    try:
        ev = loads(data)
    except CodecError:
        raw = json.loads(data)
        v = dict(raw.get("v", {}))
        fields: dict[str, Any] = {}
        for k, x in v.items():
            try:
                fields[k] = decode(x)
            except CodecError:
                fields[k] = x
        ev = RemoteEvent(
            run_id=fields.pop("run_id", ""),
            seq=fields.pop("seq", -1),
            ts=fields.pop("ts", 0.0),
            superstep=fields.pop("superstep", -1),
            executor_id=fields.pop("executor_id", None),
            remote_type=str(raw.get("cls", "")).rsplit(":", 1)[-1],
            data=fields,
        )
        ev.type = ev.remote_type  # type: ignore[misc]
    if not isinstance(ev, WorkflowEvent):
        raise CodecError(f"message is not a workflow event: {type(ev).__name__}")
    if type(ev) is MessageSent and headers and headers.get("Agentic-Sha256"):
        ev._sha256 = headers["Agentic-Sha256"]
    return ev


_BUILTIN_TYPES: dict[str, Any] = {
    t.__name__: t for t in (bool, int, float, str, bytes, dict, list, tuple, set)
}


def resolve_response_type(name: str, ref: str | None = None) -> Any:
    """The class a remote request asks for, so its card shows the same form as locally.

    ``ref`` (``module:qualname``, sent by the sink in the ``Agentic-Response-Type``
    header) is looked up among the modules *already imported* here — a message never
    makes this process import anything. Builtins are found by ``name``; anything
    else stays the name (a JSON answer box).

    Example::

        >>> resolve_response_type("bool"), resolve_response_type("Order")
        (<class 'bool'>, 'Order')
    """
    if ref:
        module, _, qualname = ref.partition(":")
        obj: Any = sys.modules.get(module)
        for part in qualname.split(".") if obj is not None else ():
            obj = getattr(obj, part, None)
        if isinstance(obj, type):
            return obj
    if name in _BUILTIN_TYPES:
        return _BUILTIN_TYPES[name]
    if name == "Any":
        return Any
    return name


class RemoteRun:
    """A read-mostly mirror of a :class:`agentic_nb.workflow.Run` living elsewhere.

    Attributes mimic ``Run``: ``run_id``, ``status``, ``superstep``, ``outputs``,
    ``error``, ``events`` (an ``EventLog``, so ``events.to_dataframe()`` works),
    ``pending_requests``, ``workflow`` (a :class:`RemoteWorkflow`), and
    ``subscribe(listener)``. ``await respond(request_id, value)`` answers over NATS.
    Create it with :func:`watch`.
    """

    def __init__(self, run_id: str, connection: Any, *, own_connection: bool = False) -> None:
        self.run_id = run_id
        self.nc = connection
        self._own = own_connection
        self.events = EventLog()
        self._list: list[WorkflowEvent] = self.events._events
        self._seqs: list[int] = []
        self._tracker = RunTracker(run_id)
        self._listeners: list[Listener] = []
        self._sub: Any = None
        self._caught_up = asyncio.Event()
        self._changed = asyncio.Event()
        self.workflow: RemoteWorkflow = RemoteWorkflow({"name": "?"})
        self.diagnostics: list[str] = []
        self.loaded = True
        self.replayed = 0
        self.last_event_at: float | None = None
        self._type_refs: dict[str, str] = {}  # request id -> module:qualname of its answer

    # ------------------------------------------------------------ Run-like view
    @property
    def status(self) -> str:
        return self._tracker.status

    @property
    def superstep(self) -> int:
        return self._tracker.superstep

    @property
    def outputs(self) -> list[Any]:
        return self._tracker.outputs

    @property
    def error(self) -> str | None:
        return self._tracker.error

    @property
    def pending_requests(self) -> list[PendingRequestInfo]:
        return [
            PendingRequestInfo(
                request_id=r.request_id,
                executor_id=r.executor_id or "",
                request=r.request,
                response_type=resolve_response_type(
                    r.response_type, self._type_refs.get(r.request_id)
                ),
                superstep=r.superstep,
            )
            for r in self._tracker.requests.values()
        ]

    @property
    def state(self) -> dict[str, Any]:
        """Not streamed; use ``await load_state()`` (reads the ``agentic_state`` bucket)."""
        return dict(getattr(self, "_state", {}))

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every future event; returns an unsubscribe function."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def can_progress(self) -> bool:
        """Always False: the run is driven by its own process, not by this watcher."""
        return False

    async def load(self) -> RemoteRun:
        return self

    async def step(self) -> Any:
        raise RunStateError(
            f"run {self.run_id!r} executes in another process; a watcher cannot step it "
            f"(answer its requests with await remote.respond(request_id, value))"
        )

    def queued_messages(self) -> list[Any]:
        return []

    def fan_in_buffers(self) -> dict[str, Any]:
        return {}

    def result(self) -> WorkflowResult:
        t = self._tracker
        end = self.last_event_at or time.time()
        return WorkflowResult(
            run_id=self.run_id,
            status=t.status,
            outputs=list(t.outputs),
            events=self.events,
            supersteps=t.superstep,
            duration=end - (t.started_at or end),
            error=t.error,
            diagnostics=list(self.diagnostics),
            pending_requests=self.pending_requests,
            state=self.state,
        )

    async def respond(
        self,
        request_id: str,
        value: Any,
        *,
        resume: bool = True,
        who: str | None = None,
        why: str | None = None,
        timeout: float = 10.0,
    ) -> WorkflowResult:
        """Answer a pending request of the remote run (its process resumes the run).

        Returns once the run's ``RequestAnswered`` event has arrived here. ``resume``
        is accepted for compatibility with ``Run.respond``; resuming is the serving
        process's job (its bridge resumes by default).
        """
        from ._requests import answer

        await answer(
            self.run_id, request_id, value, connection=self.nc, who=who, why=why, timeout=timeout
        )
        # Return once this watcher has seen the answer recorded by the run itself.
        await self.wait_for(lambda r: request_id not in r._tracker.requests, timeout=timeout)
        return self.result()

    async def until_idle(self, timeout: float | None = None) -> WorkflowResult:
        """Wait until the remote run completes, fails, is cancelled or waits for input."""
        async with asyncio.timeout(timeout):
            while self.status not in TERMINAL and self.status != "waiting":
                await self._next_change()
        return self.result()

    async def wait_for(
        self, predicate: Callable[[RemoteRun], bool], timeout: float | None = 30.0
    ) -> RemoteRun:
        """Wait until ``predicate(self)`` is true (checked after every event)."""
        async with asyncio.timeout(timeout):
            while not predicate(self):
                await self._next_change()
        return self

    async def _next_change(self) -> None:
        self._changed.clear()
        await self._changed.wait()

    async def load_state(self) -> dict[str, Any]:
        """Read the run's committed shared state mirrored in the ``agentic_state`` bucket."""
        kv = await ensure_bucket(self.nc.jetstream(), STATE_BUCKET)
        prefix = S.kv_key("workflow", self.run_id, "state", ids=(1,)) + "."
        state: dict[str, Any] = {}
        keys = await kv_keys(kv, prefix + ">")
        for k in keys:
            entry = await kv.get(k)
            state[S.decode_token(k[len(prefix) :])] = decode(json.loads(entry.value))
        self._state = state
        return dict(state)

    def show(self) -> Any:
        """The live run widget (nothing to drive: it follows the remote events)."""
        from agentic_nb.widgets import live_run

        return live_run(self)

    def approvals(self) -> Any:
        from agentic_nb.widgets import approvals

        return approvals(self)

    def to_dot(self) -> str:
        from agentic_nb.notebook import workflow_to_dot

        return workflow_to_dot(self.workflow, run=self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from agentic_nb.workflow._display import run_mimebundle

        return run_mimebundle(self)  # type: ignore[arg-type]

    # --------------------------------------------------------------- following
    def _add(self, ev: WorkflowEvent) -> None:
        seq = ev.seq
        if self._seqs and seq <= self._seqs[-1]:
            i = bisect.bisect_left(self._seqs, seq)
            if i < len(self._seqs) and self._seqs[i] == seq:
                return  # duplicate (redelivery)
            self._seqs.insert(i, seq)
            self._list.insert(i, ev)
        else:
            self._seqs.append(seq)
            self._list.append(ev)
        self.last_event_at = ev.ts
        self._tracker.apply(ev)
        graph = getattr(ev, "graph", None)
        if ev.type == "WorkflowStarted" and graph and ev.executor_id is None:  # not a child
            self.workflow = RemoteWorkflow(graph, graph_hash=getattr(ev, "graph_hash", ""))
        for listener in list(self._listeners):
            try:
                listener(ev)
            except Exception as exc:  # a broken widget must not stop the watcher
                self.diagnostics.append(f"listener {listener!r} raised {exc!r}")
        self._changed.set()

    async def _on_msg(self, msg: Any) -> None:
        try:
            ev = decode_event(msg.data, msg.headers)
        except Exception as exc:
            self.diagnostics.append(f"undecodable message on {msg.subject}: {exc}")
            return
        ref = msg.headers.get("Agentic-Response-Type") if msg.headers else None
        if ref and isinstance(ev, RequestInfo):
            self._type_refs[ev.request_id] = ref
        self._add(ev)
        try:
            if msg.metadata.num_pending == 0:
                self._caught_up.set()
        except Exception:
            pass

    async def _start(self, replay_timeout: float) -> None:
        js = self.nc.jetstream()
        await ensure_streams(js)  # the run may not have published anything yet
        subject = S.run_filter(self.run_id)
        info = await js.stream_info(EVENTS_STREAM, subjects_filter=subject)
        stored = sum((info.state.subjects or {}).values())
        self.replayed = stored
        self._sub = await js.subscribe(
            subject, stream=EVENTS_STREAM, ordered_consumer=True, cb=self._on_msg
        )
        if stored == 0:
            self._caught_up.set()
        try:
            async with asyncio.timeout(replay_timeout):
                await self._caught_up.wait()
        except TimeoutError:
            raise TimeoutError(
                f"replaying run {self.run_id!r} from {EVENTS_STREAM} took longer than "
                f"{replay_timeout}s ({len(self._list)} of {stored} events received)"
            ) from None

    async def aclose(self) -> None:
        """Stop following (and close the connection if :func:`watch` opened it)."""
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:
                pass
            self._sub = None
        if self._own and self.nc is not None and not self.nc.is_closed:
            await self.nc.close()

    def __repr__(self) -> str:
        return (
            f"RemoteRun(run_id={self.run_id!r}, workflow={self.workflow.name!r}, "
            f"status={self.status!r}, superstep={self.superstep}, events={len(self._list)})"
        )


async def watch(
    run_id: str,
    *,
    connection: Any = None,
    url: str | None = None,
    replay_timeout: float = 30.0,
    wait_started: float | None = None,
) -> RemoteRun:
    """Replay run ``run_id`` from ``AGENTIC_EVENTS``, then keep following it live.

    Returns once the stored history has been replayed. ``wait_started`` (seconds)
    also waits for the run's ``WorkflowStarted`` event when it has not been
    published yet. Call ``await remote.aclose()`` when done.

    Example::

        remote = await agentic_nb.nats.watch(run_id)
        remote.status, remote.events.to_dataframe()
    """
    from ._connect import connect

    own = connection is None
    nc = connection if connection is not None else await connect(url)
    remote = RemoteRun(run_id, nc, own_connection=own)
    try:
        await remote._start(replay_timeout)
        if wait_started and remote.status == "created":
            await remote.wait_for(lambda r: r.status != "created", timeout=wait_started)
    except BaseException:
        await remote.aclose()
        raise
    return remote


@dataclass(frozen=True)
class RunInfo:
    """One row of :func:`runs`."""

    run_id: str
    workflow: str
    status: str
    superstep: int
    started_at: float | None
    updated_at: float | None
    pending_requests: tuple[str, ...]
    outputs: int
    error: str | None


async def runs(*, connection: Any = None, url: str | None = None, limit: int = 50) -> list[RunInfo]:
    """Recent runs published to NATS (newest first) with their status.

    Example::

        for info in await agentic_nb.nats.runs():
            print(info.run_id, info.workflow, info.status)
    """
    from ._connect import connect

    nc = connection if connection is not None else await connect(url)
    try:
        kv = await ensure_bucket(nc.jetstream(), RUNS_BUCKET)
        try:
            keys = await kv.keys()
        except Exception:  # NoKeysError: no run yet
            keys = []
        out: list[RunInfo] = []
        for k in keys:
            try:
                rec = json.loads((await kv.get(k)).value)
            except Exception:
                continue
            out.append(
                RunInfo(
                    run_id=rec.get("run_id", S.decode_token(k)),
                    workflow=rec.get("workflow", ""),
                    status=rec.get("status", "?"),
                    superstep=int(rec.get("superstep", 0)),
                    started_at=rec.get("started_at"),
                    updated_at=rec.get("updated_at"),
                    pending_requests=tuple(rec.get("pending_requests", ())),
                    outputs=int(rec.get("outputs", 0)),
                    error=rec.get("error"),
                )
            )
        out.sort(key=lambda r: r.started_at or 0.0, reverse=True)
        return out[:limit]
    finally:
        if connection is None:
            await nc.close()
