"""How one workflow event becomes NATS messages: subject, payload, headers,
plus the audit and metrics records and the KV updates that go with it.

Event subjects (every one carries the run id; ids are encoded by ``_subjects``):

=====================  ====================================================
event                  subject
=====================  ====================================================
WorkflowStarted        ``agentic.workflow.<run>.started``
SuperstepStarted       ``agentic.workflow.<run>.superstep.started``
SuperstepCompleted     ``agentic.workflow.<run>.superstep.completed``
Output                 ``agentic.workflow.<run>.output``
WorkflowCompleted      ``agentic.workflow.<run>.completed``
WorkflowFailed         ``agentic.workflow.<run>.error``
WorkflowCancelled      ``agentic.workflow.<run>.cancelled``
RequestInfo            ``agentic.workflow.<run>.request.<request>.opened``
RequestAnswered        ``agentic.workflow.<run>.request.<request>.answered``
CheckpointSaved        ``agentic.workflow.<run>.checkpoint``
FanInWaiting           ``agentic.workflow.<run>.fanin_waiting``
ExecutorInvoked        ``agentic.executor.<run>.<executor>.started``
ExecutorCompleted      ``agentic.executor.<run>.<executor>.completed``
ExecutorFailed         ``agentic.executor.<run>.<executor>.failed``
MessageUndelivered     ``agentic.executor.<run>.<executor>.undelivered``
Log                    ``agentic.executor.<run>.<executor>.log`` (or ``…workflow.<run>.log``)
MessageSent            ``agentic.edge.<run>.<edge>.activated`` (header ``Agentic-Sha256``)
AgentRunUpdate         ``agentic.agent.<run>.<agent>.response`` (text, final answer),
                       ``….tool_call`` (tool call or result), ``….message``
                       (role ``user`` or ``request``)
a sub-workflow's       ``agentic.executor.<run>.<path>.workflow.<verb…>`` and
run-level events       ``agentic.executor.<run>.<path>.output``; under an agent
                       executor ``agentic.agent.<run>.<path>.workflow.started|completed|error``
any other event        ``agentic.executor.<run>.<executor>.event.<type>``
                       (run level: ``agentic.workflow.<run>.event.<type>``)

``docs/nats.md`` lists every subject, stream and bucket with its payload.
=====================  ====================================================
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from typing import Any

from agentic_nb.workflow import (
    AgentRunUpdate,
    CheckpointSaved,
    ExecutorCompleted,
    ExecutorFailed,
    ExecutorInvoked,
    FanInWaiting,
    Log,
    MessageSent,
    MessageUndelivered,
    Output,
    RequestAnswered,
    RequestInfo,
    SuperstepCompleted,
    SuperstepStarted,
    WorkflowCancelled,
    WorkflowCompleted,
    WorkflowEvent,
    WorkflowFailed,
    WorkflowStarted,
)
from agentic_nb.workflow.codec import CodecError, dumps, encode

from . import _subjects as S
from ._streams import EDGES_BUCKET, EXECUTORS_BUCKET, OUTPUTS_BUCKET
from ._tracker import is_child_event

PREVIEW = 200

_WORKFLOW_VERBS: dict[type, tuple[str, ...]] = {
    WorkflowStarted: ("started",),
    SuperstepStarted: ("superstep", "started"),
    SuperstepCompleted: ("superstep", "completed"),
    Output: ("output",),
    WorkflowCompleted: ("completed",),
    WorkflowCancelled: ("cancelled",),
    WorkflowFailed: ("error",),
    CheckpointSaved: ("checkpoint",),
    FanInWaiting: ("fanin_waiting",),
}
_EXECUTOR_VERBS: dict[type, str] = {
    ExecutorInvoked: "started",
    ExecutorCompleted: "completed",
    ExecutorFailed: "failed",
    MessageUndelivered: "undelivered",
    Log: "log",
}


def event_subject(
    event: WorkflowEvent,
    own: frozenset[str] | set[str] | None = None,
    agents: frozenset[str] | set[str] = frozenset(),
) -> str:
    """The subject an event is published on (see the table in this module).

    ``own`` (the run's own executor ids) tells a sub-workflow's events, bubbled up
    with the ``WorkflowExecutor`` path as ``executor_id``, from the run's own:
    they go to ``agentic.executor.<run>.<path>.workflow.<verb...>`` (run-level
    events) and ``agentic.executor.<run>.<path>.output``. When the path starts at
    one of ``agents`` (executors of kind ``agent``), the child's start and end go to
    ``agentic.agent.<run>.<path>.workflow.started|completed|error``.

    Example::

        >>> from agentic_nb.workflow import ExecutorCompleted
        >>> event_subject(ExecutorCompleted(run_id="r1", executor_id="a.*"))
        'agentic.executor.r1.a=2E=2A.completed'
    """
    run = event.run_id
    t = type(event)
    if t is MessageSent:
        return S.edge_subject(run, event.edge or "", "activated")  # type: ignore[attr-defined]
    if t is RequestInfo or t is RequestAnswered:
        verb = "opened" if t is RequestInfo else "answered"
        return S.request_event_subject(run, event.request_id, verb)  # type: ignore[attr-defined]
    verbs = _WORKFLOW_VERBS.get(t)
    if verbs is not None:
        ex = event.executor_id
        if ex is not None and is_child_event(event, own):
            if t is Output:
                return S.executor_subject(run, ex, "output")
            if agents and ex.split("/", 1)[0] in agents and len(verbs) == 1:
                if verbs[0] in ("started", "completed", "error"):
                    return f"{S.agent_subject(run, ex, 'workflow')}.{verbs[0]}"
            return ".".join((S.executor_subject(run, ex, "workflow"), *verbs))
        return S.workflow_subject(run, *verbs)
    if isinstance(event, AgentRunUpdate):
        agent = event.executor_id or getattr(event, "agent_id", "") or ""
        return S.agent_subject(run, agent, agent_verb(event))
    ex_verb = _EXECUTOR_VERBS.get(t)
    if event.executor_id is None:
        if ex_verb == "log":
            return S.workflow_subject(run, "log")
        return f"{S.workflow_subject(run, 'event')}.{S.event_type_token(event.type)}"
    if ex_verb is not None:
        return S.executor_subject(run, event.executor_id, ex_verb)
    return f"{S.executor_subject(run, event.executor_id, 'event')}.{S.event_type_token(event.type)}"


def agent_verb(update: Any) -> str:
    """``tool_call`` | ``message`` | ``response`` for one agent update (see the table).

    Example::

        >>> from agentic_nb.workflow import AgentRunUpdate
        >>> agent_verb(AgentRunUpdate(text="Hel"))
        'response'
    """
    if getattr(update, "tool_call", None) is not None:
        return "tool_call"
    if getattr(update, "tool_result", None) is not None:
        return "tool_call"
    if getattr(update, "role", "assistant") in ("user", "request"):
        return "message"
    return "response"


def preview(value: Any, limit: int = PREVIEW) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def encode_event(event: WorkflowEvent) -> bytes:
    """The event as agentic_nb codec JSON; a field the codec refuses (an unregistered
    payload type) is replaced by its ``repr`` preview, so the event is never lost."""
    try:
        return dumps(event).encode()
    except CodecError:
        pass
    clone = copy.copy(event)
    for f in dataclasses.fields(event):
        try:
            encode(getattr(event, f.name))
        except CodecError:
            setattr(clone, f.name, "<unencodable> " + preview(getattr(event, f.name)))
    return dumps(clone).encode()


_BASE_FIELDS = frozenset({"run_id", "seq", "ts", "superstep", "executor_id"})


def encode_event_truncated(event: WorkflowEvent, limit: int, size: int) -> tuple[bytes, list[str]]:
    """``event`` encoded under ``limit`` bytes: its largest fields, one by one, become a
    ``"<truncated: N bytes over max_payload M> preview…"`` string. Returns the bytes and
    the names of the replaced fields.

    Example::

        >>> from agentic_nb.workflow import Output
        >>> data, fields = encode_event_truncated(Output(run_id="r", data="x" * 5000), 1000, 5100)
        >>> len(data) < 1000, fields
        (True, ['data'])
    """
    clone = copy.copy(event)
    sizes: list[tuple[int, str]] = []
    for f in dataclasses.fields(event):
        if f.name in _BASE_FIELDS or f.name.startswith("_"):
            continue
        value = getattr(event, f.name)
        try:
            n = len(json.dumps(_safe_encode(value), separators=(",", ":"), default=preview))
        except (TypeError, ValueError):
            n = len(preview(value))
        sizes.append((n, f.name))
    sizes.sort(reverse=True)
    replaced: list[str] = []
    budget = max(256, limit - 1024)
    data = encode_event(clone)
    for n, name in sizes:
        if len(data) <= budget:
            break
        marker = f"<truncated: {n} bytes over max_payload {limit}> "
        setattr(clone, name, marker + preview(getattr(event, name)))
        replaced.append(name)
        data = encode_event(clone)
    return data, replaced


RESPONSE_TYPE_HEADER = "Agentic-Response-Type"


def type_ref(tp: Any) -> str | None:
    """``module:qualname`` of a class (``None`` for anything else or a local class).

    Example::

        >>> type_ref(bool), type_ref(list[int])
        ('builtins:bool', None)
    """
    if not isinstance(tp, type) or "<locals>" in tp.__qualname__:
        return None
    return f"{tp.__module__}:{tp.__qualname__}"


def op_size(op: Op) -> int:
    """Bytes a message counts against the server's ``max_payload`` (payload + headers)."""
    headers = op[2]
    extra = 0
    if headers:
        extra = 16 + sum(len(k) + len(v) + 4 for k, v in headers.items())
    return len(op[1]) + extra + 64


def event_headers(event: WorkflowEvent) -> dict[str, str]:
    run = S.encode_token(event.run_id)
    headers = {
        "Nats-Msg-Id": f"{run}:{event.seq}",
        "Agentic-Run": run,
        "Agentic-Seq": str(event.seq),
        "Agentic-Type": event.type,
    }
    if type(event) is MessageSent:
        headers["Agentic-Sha256"] = event.sha256
    return headers


def _json(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), default=preview).encode()


def _safe_encode(value: Any) -> Any:
    try:
        return encode(value)
    except CodecError:
        return {"__preview__": preview(value)}


Op = tuple[str, bytes, dict[str, str] | None]


class RunContext:
    """What the mapper remembers about one run (edge kinds and executor kinds)."""

    __slots__ = (
        "agents",
        "attempts",
        "dirty",
        "edge_kinds",
        "errors",
        "executor_kinds",
        "own",
        "states",
    )

    def __init__(self) -> None:
        self.edge_kinds: dict[str, str] = {}
        self.executor_kinds: dict[str, str] = {}
        self.own: frozenset[str] = frozenset()
        self.agents: frozenset[str] = frozenset()
        self.attempts: dict[str, list[dict[str, Any]]] = {}  # executor -> attempt records
        self.errors: dict[str, list[dict[str, Any]]] = {}  # executor -> error records
        self.states: dict[str, dict[str, Any]] = {}  # executor -> latest state record
        self.dirty: dict[str, int] = {}  # executor -> 1 state | 2 attempts | 4 errors

    def learn(self, graph: dict[str, Any] | None) -> None:
        if not graph:
            return
        self.own = frozenset(str(x.get("id", "")) for x in graph.get("executors", ()))
        self.agents = frozenset(
            str(x.get("id", "")) for x in graph.get("executors", ()) if x.get("kind") == "agent"
        )
        for e in graph.get("edges", ()):
            self.edge_kinds[e.get("id", "")] = str(e.get("kind", ""))
        for x in graph.get("executors", ()):
            self.executor_kinds[x.get("id", "")] = str(x.get("kind", ""))


_NOT_DECISIONS = frozenset({"direct", "fan_in", "fanin", "fan-in", ""})


def audit_ops(
    event: WorkflowEvent, ctx: RunContext, answer_note: dict[str, Any] | None
) -> list[Op]:
    """Decision records for ``AGENTIC_AUDIT`` (routing, verdicts, requests, approvals)."""
    run = event.run_id
    t = type(event)
    base = {"run_id": run, "seq": event.seq, "ts": event.ts, "superstep": event.superstep}
    out: list[Op] = []

    def rec(kind: str, **fields: Any) -> None:
        out.append((f"agentic.audit.{S.encode_token(run)}.{kind}", _json({**base, **fields}), None))

    if t is MessageSent:
        ev: Any = event
        kind = ctx.edge_kinds.get(ev.edge, "")
        if kind not in _NOT_DECISIONS:
            rec(
                "routing",
                decision="routed",
                edge=ev.edge,
                edge_kind=kind,
                source=ev.source_id,
                target=ev.target_id,
                payload_type=ev.payload_type,
                sha256=ev.sha256,
            )
        if ctx.executor_kinds.get(ev.source_id) == "validator":
            verdict = _verdict(ev.payload)
            if verdict is not None:
                rec("verdict", validator=ev.source_id, target=ev.target_id, **verdict)
    elif t is MessageUndelivered:
        ev = event
        rec(
            "routing",
            decision=ev.reason,
            source=ev.source_id,
            payload_type=ev.payload_type,
            candidates=list(ev.candidates),
            detail=ev.detail,
        )
    elif t is RequestInfo:
        ev = event
        rec(
            "request",
            request_id=ev.request_id,
            executor=ev.executor_id,
            request=preview(ev.request),
            response_type=ev.response_type,
        )
    elif t is RequestAnswered:
        ev = event
        note = answer_note or {}
        rec(
            "approval",
            request_id=ev.request_id,
            executor=ev.executor_id,
            response=preview(ev.response),
            who=note.get("who"),
            why=note.get("why"),
            via=note.get("via", "local"),
        )
    elif t is ExecutorFailed:
        ev = event
        rec(
            "failure",
            executor=ev.executor_id,
            attempt=ev.attempt,
            error_type=ev.error_type,
            error=preview(ev.error_message),
            will_retry=ev.will_retry,
        )
    elif isinstance(event, WorkflowFailed):
        ev = event
        rec("outcome", status=ev.status, error_type=ev.error_type, error=preview(ev.error_message))
    elif t is WorkflowCompleted:
        rec("outcome", status=event.status)  # type: ignore[attr-defined]
    return out


def _verdict(payload: Any) -> dict[str, Any] | None:
    if isinstance(payload, dict):
        passed, errors = payload.get("passed"), payload.get("errors")
    else:
        passed, errors = getattr(payload, "passed", None), getattr(payload, "errors", None)
    if passed is None:
        return None
    return {"passed": bool(passed), "errors": [preview(e) for e in (errors or [])]}


def metric_ops(event: WorkflowEvent) -> list[Op]:
    """Durations and token usage for ``AGENTIC_METRICS``."""
    run = S.encode_token(event.run_id)
    t = type(event)
    base = {"run_id": event.run_id, "seq": event.seq, "ts": event.ts, "superstep": event.superstep}
    if t is ExecutorCompleted or t is ExecutorFailed:
        ev: Any = event
        subject = f"agentic.metrics.{run}.executor.{S.encode_token(ev.executor_id or '')}"
        status = "completed" if t is ExecutorCompleted else "failed"
        body = {
            **base,
            "executor": ev.executor_id,
            "duration_ms": ev.duration_ms,
            "attempt": ev.attempt,
            "status": status,
        }
        return [(subject, _json(body), None)]
    if t is SuperstepCompleted:
        ev = event
        body = {**base, "duration_ms": ev.duration_ms, "messages_sent": ev.messages_sent}
        return [(f"agentic.metrics.{run}.superstep", _json(body), None)]
    if t is WorkflowCompleted:
        ev = event
        body = {**base, "duration_ms": ev.duration_ms, "supersteps": ev.supersteps}
        return [(f"agentic.metrics.{run}.run", _json(body), None)]
    if event.type == "AgentUsage":  # agentic_nb.agents.AgentUsage: one per agent invocation
        ev = event
        subject = f"agentic.metrics.{run}.tokens.{S.encode_token(ev.executor_id or '')}"
        body = {
            **base,
            "executor": ev.executor_id,
            "agent": getattr(ev, "agent_id", None),
            "input_tokens": getattr(ev, "input_tokens", 0),
            "output_tokens": getattr(ev, "output_tokens", 0),
            "total_tokens": getattr(ev, "total_tokens", 0),
            "model": getattr(ev, "model", None),
        }
        return [(subject, _json(body), None)]
    return []


def _usage(data: Any) -> dict[str, Any] | None:
    usage = data.get("usage") if isinstance(data, dict) else getattr(data, "usage", None)
    if usage is None:
        return None
    if isinstance(usage, dict):
        return {k: v for k, v in usage.items() if isinstance(v, (int, float))} or None
    fields = ("input_tokens", "output_tokens", "prompt_tokens", "completion_tokens", "total_tokens")
    got = {k: getattr(usage, k) for k in fields if isinstance(getattr(usage, k, None), int)}
    return got or None


def kv_put(bucket: str, key: str, body: dict[str, Any]) -> Op:
    return (f"$KV.{bucket}.{key}", _json(body), None)


def kv_ops(event: WorkflowEvent) -> list[Op]:
    """KV puts: edge data ``edge.<run>.<edge>.data``, outputs ``executor.<run>.<id>.output``."""
    t = type(event)
    if t is MessageSent:
        ev: Any = event
        key = S.kv_key("edge", event.run_id, ev.edge or "", "data", ids=(1, 2))
        body = {
            "payload": _safe_encode(ev.payload),
            "hash": ev.sha256,
            "timestamp": ev.ts,
            "source": ev.source_id,
            "target": ev.target_id,
            "seq": ev.seq,
            "superstep": ev.superstep,
        }
        return [kv_put(EDGES_BUCKET, key, body)]
    if t is Output:
        ev = event
        key = S.kv_key("executor", event.run_id, ev.executor_id or "", "output", ids=(1, 2))
        body = {
            "data": _safe_encode(ev.data),
            "timestamp": ev.ts,
            "seq": ev.seq,
            "superstep": ev.superstep,
        }
        return [kv_put(OUTPUTS_BUCKET, key, body)]
    return []


MAX_RECORDS = 50  # attempts / errors kept per executor in KV (the newest)


def executor_kv_note(event: WorkflowEvent, ctx: RunContext) -> None:
    """Fold an executor event into ``ctx``; :func:`executor_kv_flush` writes the keys.

    Keys in ``agentic_executors``: ``executor.<run>.<id>.state`` is ``{"status":
    running|completed|failed|retrying|waiting, "attempt", "duration_ms", "superstep",
    "ts"}``; ``.attempts`` ``{"attempts": [{attempt, status, duration_ms, superstep,
    ts}, ...]}``; ``.errors`` ``{"errors": [{attempt, error_type, error, will_retry,
    superstep, ts}, ...]}`` (the newest :data:`MAX_RECORDS` of each). Only the last
    state per batch is written, so a busy run costs one put per executor and batch.
    """
    t = type(event)
    ex = event.executor_id
    if ex is None:
        return
    ev: Any = event
    if t is ExecutorInvoked:
        status, attempt, duration = "running", ev.attempt, None
    elif t is ExecutorCompleted:
        status, attempt, duration = "completed", ev.attempt, ev.duration_ms
    elif t is ExecutorFailed:
        status = "retrying" if ev.will_retry else "failed"
        attempt, duration = ev.attempt, ev.duration_ms
    elif t is RequestInfo:
        status, attempt, duration = "waiting", None, None
    else:
        return
    sup, ts = event.superstep, event.ts
    ctx.states[ex] = {
        "status": status,
        "attempt": attempt,
        "duration_ms": duration,
        "superstep": sup,
        "ts": ts,
    }
    ctx.dirty[ex] = ctx.dirty.get(ex, 0) | 1
    if t is ExecutorCompleted or t is ExecutorFailed:
        attempts = ctx.attempts.setdefault(ex, [])
        attempts.append(
            {
                "attempt": attempt,
                "status": status,
                "duration_ms": duration,
                "superstep": sup,
                "ts": ts,
            }
        )
        del attempts[:-MAX_RECORDS]
        ctx.dirty[ex] |= 2
    if t is ExecutorFailed:
        errors = ctx.errors.setdefault(ex, [])
        errors.append(
            {
                "attempt": attempt,
                "error_type": ev.error_type,
                "error": preview(ev.error_message, 2000),
                "will_retry": ev.will_retry,
                "superstep": sup,
                "ts": ts,
            }
        )
        del errors[:-MAX_RECORDS]
        ctx.dirty[ex] |= 4


def executor_kv_flush(run_id: str, ctx: RunContext) -> list[Op]:
    """The KV puts for executors changed since the last flush (see :func:`executor_kv_note`)."""
    if not ctx.dirty:
        return []
    ops: list[Op] = []
    for ex, flags in ctx.dirty.items():

        def key(leaf: str, ex: str = ex) -> str:
            return S.kv_key("executor", run_id, ex, leaf, ids=(1, 2))

        ops.append(kv_put(EXECUTORS_BUCKET, key("state"), ctx.states[ex]))
        if flags & 2:
            ops.append(kv_put(EXECUTORS_BUCKET, key("attempts"), {"attempts": ctx.attempts[ex]}))
        if flags & 4:
            ops.append(kv_put(EXECUTORS_BUCKET, key("errors"), {"errors": ctx.errors[ex]}))
    ctx.dirty = {}
    return ops


def now() -> float:
    return time.time()
