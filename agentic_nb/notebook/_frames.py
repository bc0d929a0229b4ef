"""Run events as pandas DataFrames, and the summaries built on them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agentic_nb._optional import require
from agentic_nb.workflow._events import (
    EventLog,
    ExecutorCompleted,
    ExecutorFailed,
    ExecutorInvoked,
    MessageSent,
    Output,
    RequestInfo,
    SuperstepCompleted,
    SuperstepStarted,
    WorkflowEvent,
)

COLUMNS = (
    "run_id",
    "seq",
    "ts",
    "superstep",
    "type",
    "executor_id",
    "source_id",
    "target_id",
    "edge",
    "request_id",
    "status",
    "duration_ms",
    "payload_type",
    "payload_preview",
    "error_type",
    "error_message",
    "checkpoint_id",
)
"""Columns of :func:`events_to_dataframe`, in order."""

SHOWN = ("superstep", "time", "type", "executor", "route", "detail", "duration_ms")
"""Columns an event DataFrame *shows* (all of :data:`COLUMNS` stay in the data)."""

PREVIEW_CHARS = 120
_PAYLOAD_FIELDS = ("payload", "data", "request", "response", "text")
_EXECUTOR_STATUS = {ExecutorInvoked: "invoked", ExecutorCompleted: "completed"}


def events_of(source: Any) -> list[WorkflowEvent]:
    """The events of a Run, WorkflowResult, EventLog or iterable of events."""
    events = getattr(source, "events", source)
    if isinstance(events, EventLog):
        return events.since(0)
    if isinstance(events, Iterable):
        return list(events)
    raise TypeError(
        f"expected a Run, WorkflowResult, EventLog or list of events, got {type(source).__name__}"
    )


def _preview(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def events_to_dataframe(events: Any) -> Any:
    """One row per event, columns :data:`COLUMNS` (needs the ``notebook`` extra).

    ``ts`` is a UTC timestamp, ``type`` and ``executor_id`` are categoricals,
    payloads appear as a short ``payload_preview``; the full event (and payload)
    of a row is ``run.events.by_seq(row.seq)``. Accepts a Run, a WorkflowResult,
    an EventLog or a list of events.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def echo(x: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output(x)
        >>> df = events_to_dataframe(WorkflowBuilder(start=echo).build().run_sync("hi").events)
        >>> list(df["type"])[:3]
        ['WorkflowStarted', 'SuperstepStarted', 'ExecutorInvoked']
    """
    pd = require("pandas", "notebook")
    evs = events_of(events)
    n = len(evs)
    cols: dict[str, list[Any]] = {c: [None] * n for c in COLUMNS}
    run_id, seq, ts, step, typ, exid = (
        cols["run_id"],
        cols["seq"],
        cols["ts"],
        cols["superstep"],
        cols["type"],
        cols["executor_id"],
    )
    src, tgt, edge, req, status, dur = (
        cols["source_id"],
        cols["target_id"],
        cols["edge"],
        cols["request_id"],
        cols["status"],
        cols["duration_ms"],
    )
    ptype, prev, etype, emsg, ckpt = (
        cols["payload_type"],
        cols["payload_preview"],
        cols["error_type"],
        cols["error_message"],
        cols["checkpoint_id"],
    )
    ev: Any
    for i, ev in enumerate(evs):
        cls = type(ev)
        run_id[i] = ev.run_id
        seq[i] = ev.seq
        ts[i] = ev.ts
        step[i] = ev.superstep
        typ[i] = cls.type
        exid[i] = ev.executor_id
        if cls is MessageSent:
            src[i] = ev.source_id
            tgt[i] = ev.target_id
            edge[i] = ev.edge
            ptype[i] = ev.payload_type
            prev[i] = _preview(ev.payload)
            continue
        if cls is ExecutorInvoked:
            status[i] = "invoked"
            src[i] = ev.source_id
            ptype[i] = ev.message_type
            continue
        if cls is ExecutorCompleted:
            status[i] = "completed"
            dur[i] = ev.duration_ms
            continue
        if cls is ExecutorFailed:
            status[i] = "retrying" if ev.will_retry else "failed"
            dur[i] = ev.duration_ms
            etype[i] = ev.error_type
            emsg[i] = ev.error_message
            continue
        # Everything else (including user-defined events): read the known field names.
        src[i] = getattr(ev, "source_id", None)
        tgt[i] = getattr(ev, "target_id", None)
        edge[i] = getattr(ev, "edge", None)
        req[i] = getattr(ev, "request_id", None)
        st = getattr(ev, "status", getattr(ev, "reason", getattr(ev, "level", None)))
        status[i] = st
        dur[i] = getattr(ev, "duration_ms", None)
        etype[i] = getattr(ev, "error_type", None) or None
        emsg[i] = getattr(ev, "error_message", None) or getattr(ev, "detail", None) or None
        ckpt[i] = getattr(ev, "checkpoint_id", None)
        for f in _PAYLOAD_FIELDS:
            if getattr(ev, f, None) is not None:
                value = getattr(ev, f)
                ptype[i] = getattr(ev, "payload_type", None) or type(value).__name__
                prev[i] = _preview(value)
                break
        else:
            if hasattr(ev, "message"):  # Log
                prev[i] = _preview(ev.message)
            elif cls is SuperstepStarted:
                prev[i] = ", ".join(ev.executors)
            elif hasattr(ev, "input_type"):
                ptype[i] = ev.input_type
            elif hasattr(ev, "waiting_on"):
                prev[i] = f"waiting on {ev.waiting_on}"
        if cls is RequestInfo:
            status[i] = "waiting"
        elif hasattr(ev, "response") and hasattr(ev, "request_id"):
            status[i] = "answered"
    df = _event_frame_class()(cols, columns=list(COLUMNS))
    df["ts"] = pd.to_datetime(df["ts"], unit="s", utc=True)
    df["seq"] = df["seq"].astype("int64")
    df["superstep"] = df["superstep"].astype("int64")
    df["duration_ms"] = df["duration_ms"].astype("float64")
    df["type"] = df["type"].astype("category")
    df["executor_id"] = df["executor_id"].astype("category")
    return df


def compact_view(df: Any) -> Any:
    """The readable view of an event DataFrame: few columns, ms timestamps, no NaN noise.

    ``superstep, time`` (UTC, to the millisecond), ``type``, ``executor``, ``route``
    (``source → target`` of a message), ``detail`` (payload preview, error or status)
    and ``duration_ms`` (rounded to 0.1 ms; blank when not timed), indexed by ``seq``.
    This is what an event DataFrame displays; the DataFrame itself keeps every column.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def echo(x: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output(x)
        >>> df = events_to_dataframe(WorkflowBuilder(start=echo).build().run_sync("hi"))
        >>> list(compact_view(df).columns)
        ['superstep', 'time', 'type', 'executor', 'route', 'detail', 'duration_ms']
    """
    pd = require("pandas", "notebook")
    msg = df["type"].astype(str) == "MessageSent"
    src = df["source_id"].fillna("").astype(str)
    tgt = df["target_id"].fillna("").astype(str)
    route = (src + " → " + tgt).where(msg, "")
    err = df["error_type"].fillna("").astype(str)
    errmsg = df["error_message"].fillna("").astype(str)
    detail = df["payload_preview"].fillna("").astype(str)
    detail = (err + ": " + errmsg).where(err != "", detail)
    status = df["status"].fillna("").astype(str)
    detail = detail.where(detail != "", status)
    dur = df["duration_ms"].round(1)
    out = pd.DataFrame(
        {
            "superstep": df["superstep"],
            "time": df["ts"].dt.strftime("%H:%M:%S.%f").str[:-3],
            "type": df["type"].astype(str),
            "executor": df["executor_id"].astype(object).where(df["executor_id"].notna(), ""),
            "route": route,
            "detail": detail,
            "duration_ms": dur.map(lambda v: "" if v != v else f"{v:.1f}"),
        }
    )
    out.index = pd.Index(df["seq"], name="seq")
    return out


_FRAME_CLASS: Any = None


def _event_frame_class() -> Any:
    """A DataFrame subclass that *displays* compactly when it holds every event column."""
    global _FRAME_CLASS
    if _FRAME_CLASS is not None:
        return _FRAME_CLASS
    pd = require("pandas", "notebook")

    class EventFrame(pd.DataFrame):  # type: ignore[misc,name-defined,unused-ignore]
        """Run events; shows :func:`compact_view` (``.to_string()`` etc. show everything)."""

        @property
        def _constructor(self) -> Any:
            return EventFrame

        def _full(self) -> bool:
            return all(c in self.columns for c in COLUMNS)

        def _repr_html_(self) -> Any:
            if not self._full():
                return super()._repr_html_()
            note = (
                f'<div style="color:#777;font-size:11px">{len(self)} events · '
                f"{len(self.columns)} columns, {len(SHOWN)} shown: "
                "<code>df.columns</code> lists them all</div>"
            )
            return compact_view(self)._repr_html_() + note

        def __repr__(self) -> str:
            if not self._full():
                return str(super().__repr__())
            return str(repr(compact_view(self)))

    _FRAME_CLASS = EventFrame
    return EventFrame


# ------------------------------------------------------------------ summaries


def _invocations(evs: list[WorkflowEvent]) -> list[dict[str, Any]]:
    """Pair each ExecutorInvoked with what ended it (completed, failed, waiting, ...)."""
    open_: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for ev in evs:
        t = type(ev)
        xid = ev.executor_id
        if xid is None:
            continue
        if t is ExecutorInvoked:
            prev = open_.pop(xid, None)
            if prev is not None:
                prev["outcome"] = "interrupted"
                rows.append(prev)
            open_[xid] = {
                "executor_id": xid,
                "superstep": ev.superstep,
                "attempt": ev.attempt,  # type: ignore[attr-defined]
                "message_type": ev.message_type,  # type: ignore[attr-defined]
                "start": ev.ts,
                "end": None,
                "duration_ms": None,
                "outcome": "running",
                "error": None,
            }
        elif t is ExecutorCompleted or t is ExecutorFailed or t is RequestInfo:
            row = open_.pop(xid, None)
            if row is None:
                continue
            row["end"] = ev.ts
            if t is RequestInfo:
                row["outcome"] = "waiting"
                row["duration_ms"] = (ev.ts - row["start"]) * 1000.0
            else:
                row["duration_ms"] = ev.duration_ms  # type: ignore[attr-defined]
                if t is ExecutorCompleted:
                    row["outcome"] = "completed"
                else:
                    row["outcome"] = "retried" if ev.will_retry else "failed"  # type: ignore[attr-defined]
                    row["error"] = f"{ev.error_type}: {ev.error_message}"  # type: ignore[attr-defined]
            rows.append(row)
    rows.extend(open_.values())
    rows.sort(key=lambda r: r["start"])
    return rows


def executor_timeline(events: Any) -> Any:
    """One row per handler invocation: when it started and ended and how it ended.

    Columns: ``executor_id, superstep, attempt, message_type, start, end,
    duration_ms, outcome`` (completed, failed, retried, waiting, running,
    interrupted) and ``error``. Draw it with :func:`timeline_chart`.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def echo(x: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output(x)
        >>> tl = executor_timeline(WorkflowBuilder(start=echo).build().run_sync("hi"))
        >>> tl[["executor_id", "superstep", "outcome"]].values.tolist()
        [['echo', 0, 'completed']]
    """
    pd = require("pandas", "notebook")
    rows = _invocations(events_of(events))
    cols = [
        "executor_id",
        "superstep",
        "attempt",
        "message_type",
        "start",
        "end",
        "duration_ms",
        "outcome",
        "error",
    ]
    df = pd.DataFrame(rows, columns=cols)
    df["start"] = pd.to_datetime(df["start"], unit="s", utc=True)
    df["end"] = pd.to_datetime(df["end"].astype("float64"), unit="s", utc=True)
    df["duration_ms"] = df["duration_ms"].astype("float64").round(2)
    return df


def durations_summary(events: Any) -> Any:
    """Per executor: invocations, outcomes and handler durations (ms).

    Columns: ``invocations, completed, failed, retried, waiting, total_ms,
    mean_ms, median_ms, p95_ms, max_ms``; indexed by ``executor_id`` in order of
    first invocation.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def echo(x: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output(x)
        >>> s = durations_summary(WorkflowBuilder(start=echo).build().run_sync("hi"))
        >>> int(s.loc["echo", "invocations"])
        1
    """
    pd = require("pandas", "notebook")
    tl = executor_timeline(events)
    cols = ["invocations", "completed", "failed", "retried", "waiting"]
    cols += ["total_ms", "mean_ms", "median_ms", "p95_ms", "max_ms"]
    if tl.empty:
        return pd.DataFrame(columns=cols).rename_axis("executor_id")
    g = tl.groupby("executor_id", sort=False)
    out = pd.DataFrame(
        {
            "invocations": g.size(),
            "completed": g["outcome"].apply(lambda s: int((s == "completed").sum())),
            "failed": g["outcome"].apply(lambda s: int((s == "failed").sum())),
            "retried": g["outcome"].apply(lambda s: int((s == "retried").sum())),
            "waiting": g["outcome"].apply(lambda s: int((s == "waiting").sum())),
            "total_ms": g["duration_ms"].sum(),
            "mean_ms": g["duration_ms"].mean(),
            "median_ms": g["duration_ms"].median(),
            "p95_ms": g["duration_ms"].quantile(0.95),
            "max_ms": g["duration_ms"].max(),
        }
    )
    return out[cols].round(2)


def superstep_summary(events: Any) -> Any:
    """One row per superstep: who ran, what was delivered and sent, how long it took.

    Columns: ``superstep, started, duration_ms, executors, deliveries,
    invocations, failures, messages_sent, outputs, requests``.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def echo(x: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output(x)
        >>> s = superstep_summary(WorkflowBuilder(start=echo).build().run_sync("hi"))
        >>> s[["superstep", "executors", "outputs"]].values.tolist()
        [[0, 'echo', 1]]
    """
    pd = require("pandas", "notebook")
    rows: dict[int, dict[str, Any]] = {}

    def row(n: int) -> dict[str, Any]:
        r = rows.get(n)
        if r is None:
            r = rows[n] = {
                "superstep": n,
                "started": None,
                "duration_ms": None,
                "executors": "",
                "deliveries": 0,
                "invocations": 0,
                "failures": 0,
                "messages_sent": 0,
                "outputs": 0,
                "requests": 0,
            }
        return r

    for ev in events_of(events):
        t = type(ev)
        if ev.superstep < 0:
            continue
        if t is SuperstepStarted:
            r = row(ev.superstep)
            r["started"] = ev.ts
            r["executors"] = ", ".join(ev.executors)  # type: ignore[attr-defined]
            r["deliveries"] = ev.deliveries  # type: ignore[attr-defined]
        elif t is SuperstepCompleted:
            row(ev.superstep)["duration_ms"] = ev.duration_ms  # type: ignore[attr-defined]
        elif t is ExecutorInvoked:
            row(ev.superstep)["invocations"] += 1
        elif t is ExecutorFailed:
            row(ev.superstep)["failures"] += 1
        elif t is MessageSent:
            row(ev.superstep)["messages_sent"] += 1
        elif t is Output and "/" not in (ev.executor_id or ""):
            row(ev.superstep)["outputs"] += 1
        elif t is RequestInfo:
            row(ev.superstep)["requests"] += 1
    df = pd.DataFrame(sorted(rows.values(), key=lambda r: r["superstep"]))
    if df.empty:
        return pd.DataFrame(
            columns=[
                "superstep",
                "started",
                "duration_ms",
                "executors",
                "deliveries",
                "invocations",
                "failures",
                "messages_sent",
                "outputs",
                "requests",
            ]
        )
    df["started"] = pd.to_datetime(df["started"].astype("float64"), unit="s", utc=True)
    df["duration_ms"] = df["duration_ms"].astype("float64").round(2)
    return df


def retries_and_failures(events: Any) -> Any:
    """Every failed attempt, and whether the executor recovered on a later attempt.

    Columns: ``superstep, executor_id, attempt, error_type, error_message,
    will_retry, recovered`` (a later attempt of that delivery completed) and
    ``seq`` (look the event up with ``run.events.by_seq``).

    Example::

        >>> from agentic_nb import RetryPolicy, WorkflowBuilder, WorkflowContext, executor
        >>> calls = []
        >>> @executor(retry=RetryPolicy(max_attempts=2))
        ... def flaky(x: str, ctx: WorkflowContext[None, str]) -> None:
        ...     calls.append(x)
        ...     if len(calls) == 1:
        ...         raise ValueError("first try fails")
        ...     ctx.yield_output(x)
        >>> f = retries_and_failures(WorkflowBuilder(start=flaky).build().run_sync("hi"))
        >>> f[["executor_id", "attempt", "will_retry", "recovered"]].values.tolist()
        [['flaky', 1, True, True]]
    """
    pd = require("pandas", "notebook")
    rows: list[dict[str, Any]] = []
    open_rows: dict[str, list[dict[str, Any]]] = {}
    for ev in events_of(events):
        t = type(ev)
        if t is ExecutorFailed:
            r = {
                "superstep": ev.superstep,
                "executor_id": ev.executor_id,
                "attempt": ev.attempt,  # type: ignore[attr-defined]
                "error_type": ev.error_type,  # type: ignore[attr-defined]
                "error_message": ev.error_message,  # type: ignore[attr-defined]
                "will_retry": ev.will_retry,  # type: ignore[attr-defined]
                "recovered": False,
                "seq": ev.seq,
            }
            rows.append(r)
            if ev.will_retry:  # type: ignore[attr-defined]
                open_rows.setdefault(ev.executor_id or "", []).append(r)
            else:
                open_rows.pop(ev.executor_id or "", None)
        elif t is ExecutorCompleted:
            for r in open_rows.pop(ev.executor_id or "", []):
                r["recovered"] = True
    cols = [
        "superstep",
        "executor_id",
        "attempt",
        "error_type",
        "error_message",
        "will_retry",
        "recovered",
        "seq",
    ]
    return pd.DataFrame(rows, columns=cols)
