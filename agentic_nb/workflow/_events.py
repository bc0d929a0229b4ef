"""Typed workflow events and the per-run event log.

Every event carries ``run_id``, ``seq`` (monotonic within a run), ``ts`` (UTC
epoch seconds), ``superstep`` and ``executor_id`` (``None`` for run-level events).
The runner fills those fields when the event is emitted, so user-defined events
only declare their own fields::

    from dataclasses import dataclass
    from agentic_nb import WorkflowEvent

    @dataclass
    class Progress(WorkflowEvent):
        percent: int = 0

    Progress(percent=50).type  # 'Progress'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

if TYPE_CHECKING:
    import pandas

E = TypeVar("E", bound="WorkflowEvent")

PREVIEW_CHARS = 120


@dataclass(kw_only=True, eq=False, slots=True)
class WorkflowEvent:
    """Base class of every event a run emits (subclass it for custom events).

    Example::

        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class Heartbeat(WorkflowEvent):
        ...     beat: int = 0
        >>> Heartbeat(beat=1).type
        'Heartbeat'
    """

    type: ClassVar[str] = "WorkflowEvent"

    run_id: str = ""
    seq: int = -1
    ts: float = 0.0
    superstep: int = -1
    executor_id: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Explicit super(): slots=True recreates the class, breaking the zero-arg form.
        super(WorkflowEvent, cls).__init_subclass__(**kwargs)
        if "type" not in cls.__dict__:
            cls.type = cls.__name__

    def to_record(self) -> dict[str, Any]:
        """A flat, JSON-friendly dict of this event (payloads shown as previews)."""
        rec: dict[str, Any] = {"type": self.type}
        for f in fields(self):
            if not f.name.startswith("_"):
                rec[f.name] = _plain(getattr(self, f.name))
        return rec

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            if f.name in ("run_id", "ts") or f.name.startswith("_"):
                continue
            parts.append(f"{f.name}={_preview(getattr(self, f.name), 40)}")
        return f"{self.type}({', '.join(parts)})"


TEXT_CHARS = 500  # strings (messages, errors) keep more than object previews


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return _preview(value, TEXT_CHARS)
    if value is None or isinstance(value, (int, float, bool)):
        return value
    if isinstance(value, (list, tuple)) and all(
        v is None or isinstance(v, (str, int, float, bool)) for v in value
    ):
        return list(value)
    return _preview(value, PREVIEW_CHARS)


def _preview(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def payload_sha256(payload: Any) -> str:
    """Stable sha256 of a message payload (canonical JSON when possible, else repr)."""
    try:
        raw = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=_jsonish)
    except (TypeError, ValueError):
        raw = repr(payload)
    return hashlib.sha256(raw.encode()).hexdigest()


def _jsonish(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "__dataclass_fields__"):
        return {f: getattr(value, f) for f in value.__dataclass_fields__}
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    raise TypeError


# ---------------------------------------------------------------- run level


@dataclass(kw_only=True, eq=False, slots=True)
class WorkflowStarted(WorkflowEvent):
    """The run began (emitted once, before superstep 0)."""

    workflow: str = ""
    start_executor: str = ""
    input_type: str = ""
    graph_hash: str = ""
    graph: dict[str, Any] | None = None  # Workflow.describe(), for remote watchers


@dataclass(kw_only=True, eq=False, slots=True)
class WorkflowCompleted(WorkflowEvent):
    """The run completed: nothing is queued and no request is pending (terminal)."""

    status: str = "completed"
    supersteps: int = 0
    duration_ms: float = 0.0


@dataclass(kw_only=True, eq=False, slots=True)
class WorkflowWaiting(WorkflowEvent):
    """The run went idle waiting for input: ``pending_requests`` are the ids that
    ``run.respond(request_id, value)`` accepts. Not terminal; a stream ends with it.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> from agentic_nb.workflow import WorkflowWaiting
        >>> @executor
        ... async def ask(n: int, ctx: WorkflowContext[None, int]) -> None:
        ...     await ctx.yield_output(n + await ctx.request_info("more?", response_type=int))
        >>> result = WorkflowBuilder(start=ask).build().run_sync(1)
        >>> last = result.events[-1]
        >>> type(last).__name__, last.pending_requests == [result.pending_requests[0].request_id]
        ('WorkflowWaiting', True)
    """

    pending_requests: list[str] = field(default_factory=list)
    status: str = "waiting"


@dataclass(kw_only=True, eq=False, slots=True)
class WorkflowFailed(WorkflowEvent):
    """The run failed: an executor exhausted its retries, or ``max_supersteps`` was hit."""

    error_type: str = ""
    error_message: str = ""
    status: str = "failed"


@dataclass(kw_only=True, eq=False, slots=True)
class WorkflowResumed(WorkflowEvent):
    """The run was restored from a checkpoint (``fork``: as a new run)."""

    from_checkpoint: str = ""
    from_run: str = ""
    fork: bool = False
    replayed_tasks: int = 0


@dataclass(kw_only=True, eq=False, slots=True)
class SuperstepStarted(WorkflowEvent):
    """A superstep begins; ``executors`` lists who has deliveries, in execution order."""

    executors: list[str] = field(default_factory=list)
    deliveries: int = 0


@dataclass(kw_only=True, eq=False, slots=True)
class SuperstepCompleted(WorkflowEvent):
    """The barrier was reached and the superstep's effects were committed."""

    duration_ms: float = 0.0
    messages_sent: int = 0


# ------------------------------------------------------------ executor level


@dataclass(kw_only=True, eq=False, slots=True)
class ExecutorInvoked(WorkflowEvent):
    """A handler is about to run on one delivered message."""

    attempt: int = 1
    message_type: str = ""
    source_id: str | None = None


@dataclass(kw_only=True, eq=False, slots=True)
class ExecutorCompleted(WorkflowEvent):
    """A handler returned normally (``replayed``: taken from the journal on resume, not re-run)."""

    attempt: int = 1
    duration_ms: float = 0.0
    replayed: bool = False


@dataclass(kw_only=True, eq=False, slots=True)
class ExecutorFailed(WorkflowEvent):
    """A handler raised (or timed out); ``will_retry`` tells whether it runs again."""

    attempt: int = 1
    error_type: str = ""
    error_message: str = ""
    will_retry: bool = False
    duration_ms: float = 0.0

    @property
    def error(self) -> str:
        """``"ErrorType: message"``."""
        return f"{self.error_type}: {self.error_message}"


@dataclass(kw_only=True, eq=False, slots=True)
class MessageSent(WorkflowEvent):
    """A message was routed along an edge; it is delivered in the next superstep.

    ``payload`` is what was sent, as it was at the barrier that routed it: a private
    snapshot (codec round trip, else a deep copy), so a receiver mutating the message
    it got does not change the record. Immutable payloads (numbers, strings, bytes,
    ``None``) are kept as they are. ``sha256`` hashes that snapshot (on first access,
    off the hot path); a payload that can be neither encoded nor copied is hashed at
    once instead.
    """

    source_id: str = ""
    target_id: str = ""
    edge: str = ""
    payload_type: str = ""
    payload: Any = None
    _sha256: str | None = field(default=None, init=False, repr=False)

    @property
    def source(self) -> str:
        """Alias of ``source_id``."""
        return self.source_id

    @property
    def target(self) -> str:
        """Alias of ``target_id``."""
        return self.target_id

    @property
    def sha256(self) -> str:
        cached = self._sha256
        if cached is None:
            cached = self._sha256 = payload_sha256(self.payload)
        return cached

    def to_record(self) -> dict[str, Any]:
        rec = WorkflowEvent.to_record(self)
        rec["sha256"] = self.sha256
        return rec


@dataclass(kw_only=True, eq=False, slots=True)
class MessageUndelivered(WorkflowEvent):
    """A sent message that no edge carried.

    ``reason`` is ``"no_route"`` (no outgoing edge's target accepts the type: an
    error) or ``"filtered"`` (conditions / switch / selection chose no target).
    """

    source_id: str = ""
    payload_type: str = ""
    candidates: list[str] = field(default_factory=list)
    reason: str = "no_route"
    detail: str = ""
    payload: Any = None


@dataclass(kw_only=True, eq=False, slots=True)
class Output(WorkflowEvent):
    """A value passed to ``ctx.yield_output`` (visible to the caller)."""

    data: Any = None


@dataclass(kw_only=True, eq=False, slots=True)
class Log(WorkflowEvent):
    """A ``ctx.log(level, text)`` line."""

    level: str = "info"
    message: str = ""


@dataclass(kw_only=True, eq=False, slots=True)
class Custom(WorkflowEvent):
    """Wraps a non-event object given to ``ctx.add_event``."""

    name: str = ""
    data: Any = None


@dataclass(kw_only=True, eq=False, slots=True)
class RequestInfo(WorkflowEvent):
    """An executor asked for outside input (``ctx.request_info``); the run waits."""

    request_id: str = ""
    request: Any = None
    response_type: str = ""


@dataclass(kw_only=True, eq=False, slots=True)
class RequestAnswered(WorkflowEvent):
    """A pending request received its response."""

    request_id: str = ""
    response: Any = None


@dataclass(kw_only=True, eq=False, slots=True)
class CheckpointSaved(WorkflowEvent):
    """A checkpoint was written at a superstep boundary."""

    checkpoint_id: str = ""


@dataclass(kw_only=True, eq=False, slots=True)
class AgentRunUpdate(WorkflowEvent):
    """A streamed chunk from an agent running inside the workflow."""

    text: str = ""
    data: Any = None


@dataclass(kw_only=True, eq=False, slots=True)
class FanInWaiting(WorkflowEvent):
    """The run went idle while a fan-in still waits on some of its sources."""

    edge: str = ""
    target_id: str = ""
    waiting_on: list[str] = field(default_factory=list)
    buffered: dict[str, int] = field(default_factory=dict)


# ----------------------------------------------------------------- the log


# Engine lifecycle events are recorded as compact tuples on the hot path and turned
# into their dataclass on first read (in place, once). A record is
# (code, seq, ts, superstep, executor_id, *values): ``code`` indexes FAST_CLASSES
# (an int, not the class, so that tuples of plain values are left alone by the
# garbage collector), ``values`` follow FAST_FIELDS; the run id comes from the log.
FAST_CLASSES: list[type] = []
FAST_FIELDS: dict[type, tuple[str, ...]] = {}
FAST_CODE: dict[type, int] = {}


_BUILDERS: list[Callable[[tuple[Any, ...], str], WorkflowEvent]] = []


def _materialize(rec: tuple[Any, ...], run_id: str) -> WorkflowEvent:
    return _BUILDERS[rec[0]](rec, run_id)


def _make_builder(cls: type) -> Callable[[tuple[Any, ...], str], WorkflowEvent]:
    """Generate ``build(rec, run_id)`` setting every field of ``cls`` straight from a
    record (what ``__init__`` would do, without keyword-argument parsing)."""
    names = FAST_FIELDS[cls]
    base = {
        "run_id": "run_id",
        "seq": "rec[1]",
        "ts": "rec[2]",
        "superstep": "rec[3]",
        "executor_id": "rec[4]",
    }
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    body = ["def build(rec, run_id):", "    ev = _new(_cls)"]
    for f in fields(cls):
        if f.name in base:
            value = base[f.name]
        elif f.name in names:
            value = f"rec[{5 + names.index(f.name)}]"
            if cls is SuperstepStarted and f.name == "executors":
                value = f"list({value})"  # kept as a tuple in the record
        elif f.default is not MISSING:
            namespace[f"_d_{f.name}"] = f.default
            value = f"_d_{f.name}"
        else:
            namespace[f"_f_{f.name}"] = f.default_factory
            value = f"_f_{f.name}()"
        body.append(f"    ev.{f.name} = {value}")
    body.append("    return ev")
    exec("\n".join(body), namespace)
    built: Callable[[tuple[Any, ...], str], WorkflowEvent] = namespace["build"]
    return built


class EventLog(Iterable[WorkflowEvent]):
    """The ordered events of one run (``run.events`` / ``result.events``).

    Example::

        >>> log = EventLog()
        >>> len(log)
        0
    """

    __slots__ = ("_clean", "_events", "run_id")

    def __init__(self, events: Iterable[WorkflowEvent] = (), run_id: str = "") -> None:
        self._events: list[Any] = list(events)
        self._clean = 0  # every entry before this index is a WorkflowEvent
        self.run_id = run_id

    def append(self, event: WorkflowEvent) -> None:
        self._events.append(event)

    def _all(self) -> list[WorkflowEvent]:
        evs = self._events
        n = len(evs)
        run_id = self.run_id
        for i in range(self._clean, n):
            e = evs[i]
            if type(e) is tuple:
                evs[i] = _materialize(e, run_id)
        self._clean = n
        return evs

    def since(self, start: int) -> list[WorkflowEvent]:
        """Events from position ``start`` on."""
        return self._all()[start:]

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[WorkflowEvent]:
        return iter(self._all())

    @overload
    def __getitem__(self, index: int) -> WorkflowEvent: ...
    @overload
    def __getitem__(self, index: slice) -> list[WorkflowEvent]: ...
    def __getitem__(self, index: int | slice) -> WorkflowEvent | list[WorkflowEvent]:
        return self._all()[index]

    def __repr__(self) -> str:
        return f"EventLog({len(self._events)} events)"

    def of_type(self, cls: type[E]) -> list[E]:
        """Events that are instances of ``cls``."""
        return [e for e in self._all() if isinstance(e, cls)]

    def by_seq(self, seq: int) -> WorkflowEvent:
        """The event with sequence number ``seq`` (full payload included)."""
        evs = self._all()
        lo, hi = 0, len(evs) - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            s = evs[mid].seq
            if s == seq:
                return evs[mid]
            if s < seq:
                lo = mid + 1
            else:
                hi = mid - 1
        for e in evs:
            if e.seq == seq:
                return e
        raise KeyError(f"no event with seq={seq} in this run ({len(evs)} events)")

    def to_records(self) -> list[dict[str, Any]]:
        """One plain dict per event, ready for ``pandas.DataFrame``."""
        return [e.to_record() for e in self._all()]

    def to_dataframe(self) -> pandas.DataFrame:
        """One row per event (requires the ``notebook`` extra)."""
        from ._display import events_to_dataframe

        return events_to_dataframe(self._all())


FAST_FIELDS.update(
    {
        SuperstepStarted: ("executors", "deliveries"),
        SuperstepCompleted: ("duration_ms", "messages_sent"),
        ExecutorInvoked: ("attempt", "message_type", "source_id"),
        ExecutorCompleted: ("attempt", "duration_ms"),
        MessageSent: ("source_id", "target_id", "edge", "payload_type", "payload", "_sha256"),
    }
)
FAST_CLASSES.extend(FAST_FIELDS)
_BUILDERS.extend(_make_builder(cls) for cls in FAST_CLASSES)
FAST_CODE.update({cls: i for i, cls in enumerate(FAST_CLASSES)})
SUPERSTEP_STARTED, SUPERSTEP_COMPLETED, EXECUTOR_INVOKED, EXECUTOR_COMPLETED, MESSAGE_SENT = range(
    len(FAST_CLASSES)
)


def utc(ts: float) -> datetime:
    """Convert an event ``ts`` to an aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC)
