"""NatsEventSink: publish every workflow event to NATS without ever blocking a run."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import warnings
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

from agentic_nb.workflow import (
    RequestAnswered,
    RequestInfo,
    SuperstepCompleted,
    WorkflowCompleted,
    WorkflowEvent,
    WorkflowFailed,
    WorkflowStarted,
)
from agentic_nb.workflow.codec import CodecError, encode

from . import _mapping as M
from . import _subjects as S
from ._connect import NatsConnectionError, connect
from ._streams import (
    EDGES_BUCKET,
    EXECUTORS_BUCKET,
    OUTPUTS_BUCKET,
    RUNS_BUCKET,
    STATE_BUCKET,
    StreamLimits,
    ensure_bucket,
    ensure_streams,
)
from ._tracker import TERMINAL, RunTracker


@dataclass(kw_only=True, eq=False)
class EventsDropped(WorkflowEvent):
    """Events of this run that the NATS sink could not publish (buffer full or NATS gone).

    ``dropped`` is the total so far for this run; ``new`` how many since the last report.
    """

    dropped: int = 0
    new: int = 0
    reason: str = ""


@dataclass
class SinkStats:
    """Counters of a :class:`NatsEventSink` (events, not NATS messages, unless noted)."""

    accepted: int = 0  # events put in the buffer
    published: int = 0  # events whose every NATS message was acknowledged
    dropped: int = 0  # events refused because the buffer was full
    unsent: int = 0  # events still unpublished when the sink was closed
    pending: int = 0  # events in the buffer or in flight now
    messages: int = 0  # NATS messages acknowledged (events + audit + metrics + KV)
    retries: int = 0  # batches re-sent after a timeout or a lost connection
    truncated: int = 0  # events over the server's max_payload, published with a marker
    rejected: int = 0  # NATS messages JetStream refused for good (reported, not retried)
    connected: bool = False
    error: str | None = None  # why the sink could not start, if it could not

    @property
    def lost(self) -> int:
        return self.dropped + self.unsent


_RETRYABLE = (asyncio.TimeoutError, TimeoutError, ConnectionError, OSError)


class NatsEventSink:
    """An event sink that publishes each event of a run to NATS / JetStream.

    ``emit(event)`` only appends to a bounded buffer (``max_buffer`` events); a
    background task publishes through JetStream with acknowledgements (events
    carry ``Nats-Msg-Id = <run>:<seq>``, so a retried publish is stored once).
    When NATS is unreachable the run continues; once the buffer is full further
    events are dropped, counted (:attr:`stats`) and reported: a ``RuntimeWarning``
    and an :class:`EventsDropped` event in every run attached with :meth:`attach`.

    Besides ``AGENTIC_EVENTS`` it writes audit records (``audit=True``), metrics
    (``metrics=True``), and KV state (``kv=True``): edge data, executor outputs,
    one record per run in ``agentic_runs`` (see :func:`agentic_nb.nats.runs`), and
    the committed shared state of attached runs.

    Give it a connection (``NatsEventSink(nc)``) or a URL (``NatsEventSink(url=...)``,
    then it connects itself and closes that connection in :meth:`aclose`).

    Lifecycle: ``await sink.start()`` before the run is the explicit way. A sink
    handed to a run without it *starts itself* on the run's event loop (if that
    fails — nothing answers at the URL — a ``RuntimeWarning`` says so and the
    events stay in the run's local log). :meth:`aclose` always returns the
    counters; events it could not publish are in ``stats.unsent`` and warned about.

    Oversized events: an event whose message would exceed the server's
    ``max_payload`` (read from the connection, 1 MiB by default) is published
    *truncated*: its largest fields are replaced by a
    ``"<truncated: N bytes over max_payload M> preview…"`` marker, the message
    carries the header ``Agentic-Truncated: <original bytes>``, it is counted in
    ``stats.truncated`` and a ``RuntimeWarning`` names the event and the limit.
    KV records too large for one message get a ``{"__truncated__": ...}`` body.
    The complete event stays in the run's local event log. The publisher never
    blocks on such an event.
    ``on_unavailable="raise"`` (default) makes :meth:`start` fail with a clear
    error when nothing answers; ``"buffer"`` keeps the run going in-process and
    publishes once NATS comes up (up to ``max_buffer`` events).

    Example::

        >>> import asyncio
        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> from agentic_nb.nats import LocalNatsServer
        >>> @executor
        ... async def hello(name: str, ctx: WorkflowContext[None, str]) -> None:
        ...     await ctx.yield_output("hello " + name)
        >>> async def main(url):
        ...     sink = await NatsEventSink(url=url).start()
        ...     result = await WorkflowBuilder(start=hello).build().run("you", event_sinks=[sink])
        ...     await sink.aclose()
        ...     return sink.stats.published == len(result.events)
        >>> with LocalNatsServer() as server:
        ...     asyncio.run(main(server.url))
        True
    """

    def __init__(
        self,
        connection: Any = None,
        *,
        url: str | None = None,
        connect_options: dict[str, Any] | None = None,
        max_buffer: int = 100_000,
        batch_size: int = 512,
        ack_timeout: float = 5.0,
        audit: bool = True,
        metrics: bool = True,
        kv: bool = True,
        on_unavailable: Literal["raise", "buffer"] = "raise",
        stream_limits: dict[str, StreamLimits] | None = None,
        report_interval: float = 1.0,
    ) -> None:
        if on_unavailable not in ("raise", "buffer"):
            raise ValueError(f"on_unavailable must be 'raise' or 'buffer', not {on_unavailable!r}")
        if max_buffer < 1:
            raise ValueError(f"max_buffer must be >= 1, got {max_buffer}")
        self._nc = connection
        self._own_connection = connection is None
        self.url = url
        self.connect_options = dict(connect_options or {})
        self.max_buffer = max_buffer
        self.batch_size = batch_size
        self.ack_timeout = ack_timeout
        self.audit = audit
        self.metrics = metrics
        self.kv = kv
        self.on_unavailable = on_unavailable
        self.stream_limits = stream_limits
        self.report_interval = report_interval
        self._buf: deque[WorkflowEvent] = deque()
        self._inflight = 0
        self._stats = SinkStats()
        self._ctx: dict[str, M.RunContext] = {}
        self._trackers: dict[str, RunTracker] = {}
        self._runs: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
        self._dropped_by_run: dict[str, int] = {}
        self._reported_by_run: dict[str, int] = {}
        self._last_report = 0.0
        self._answer_notes: dict[str, dict[str, Any]] = {}
        self._state_seen: dict[str, dict[str, str]] = {}
        self._record_at: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._wake: asyncio.Event | None = None
        self._closing = False
        self._stop = False
        self._ready = False
        self._urgent: deque[WorkflowEvent] = deque()
        self._pulled: dict[str, list[Any]] = {}  # run id -> [run, events already taken]
        self._sent_urgently: dict[str, set[int]] = {}  # seqs of our own reports, per run
        self._bypass = False
        self._retry_delay = 0.2
        self._js: Any = None
        self._starting: asyncio.Task[None] | None = None
        self._start_error: BaseException | None = None
        self._max_payload = 1024 * 1024
        self._late: list[M.Op] = []  # run records saying "done": sent after the rest
        self._finishing: dict[str, Any] = {}  # terminal runs kept until their state is sent
        self._ids_seen: set[str] = set()
        self._ids_new: list[M.Op] = []

    # ------------------------------------------------------------------ hot path
    def emit(self, event: WorkflowEvent) -> None:
        """Queue ``event`` for publishing (never blocks, never raises for a full buffer)."""
        if len(self._buf) >= self.max_buffer:
            if self._bypass:
                self._urgent.append(event)
                self._stats.accepted += 1
                return
            self._stats.dropped += 1
            run = event.run_id
            self._dropped_by_run[run] = self._dropped_by_run.get(run, 0) + 1
            return
        self._buf.append(event)
        self._stats.accepted += 1
        wake = self._wake
        if wake is not None and not wake.is_set() and threading.get_ident() == self._loop_thread:
            wake.set()

    __call__ = emit

    # --------------------------------------------------------------- lifecycle
    async def start(self) -> NatsEventSink:
        """Connect (when given a URL), create streams and buckets, start publishing."""
        if self._task is not None:
            return self
        starting = self._starting
        if starting is not None and starting is not asyncio.current_task():
            await asyncio.shield(starting)
            if self._start_error is not None:
                raise self._start_error
            return self
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wake = asyncio.Event()
        if self._nc is None:
            try:
                self._nc = await connect(self.url, **self.connect_options)
            except NatsConnectionError:
                if self.on_unavailable == "raise":
                    raise
                warnings.warn(
                    f"NATS unavailable at {self.url or 'NATS_URL'}: events are buffered "
                    f"in-process (up to {self.max_buffer}) until it comes up",
                    RuntimeWarning,
                    stacklevel=2,
                )
        if self._nc is not None:
            await self._prepare()
        self._task = asyncio.ensure_future(self._pump())
        return self

    async def _prepare(self) -> None:
        js = self._nc.jetstream()
        await ensure_streams(js, self.stream_limits)
        await ensure_bucket(js, S.IDS_BUCKET)
        if self.kv:
            for b in (RUNS_BUCKET, STATE_BUCKET, OUTPUTS_BUCKET, EDGES_BUCKET, EXECUTORS_BUCKET):
                await ensure_bucket(js, b)
        self._max_payload = int(getattr(self._nc, "max_payload", 0) or self._max_payload)
        self._js = js
        self._ready = True

    def _autostart(self) -> None:
        """Attached to a run but never started: start on the running loop (see class doc)."""
        if self._task is not None or self._starting is not None or self._closing:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: the run's next wake() on its loop starts the sink
        self._starting = loop.create_task(self._start_in_background())

    async def _start_in_background(self) -> None:
        try:
            await self.start()
        except Exception as exc:
            self._start_error = exc
            self._stats.error = f"{type(exc).__name__}: {exc}"
            warnings.warn(
                f"NatsEventSink was given to a run without `await sink.start()` and could "
                f"not start itself: {type(exc).__name__}: {exc}. Nothing is published; the "
                f"events stay in the run's local event log",
                RuntimeWarning,
                stacklevel=1,
            )

    def attach(self, run: Any) -> Any:
        """Remember ``run`` so drop reports become events in it and its shared state is
        mirrored to KV (``workflow.<run>.state.<key>`` in ``agentic_state``). Returns ``run``."""
        self._runs[run.run_id] = run
        return run

    def attach_run(self, run: Any) -> None:
        """Called by a run this sink is given to: from now on the sink reads the run's
        events itself, in its publishing task, so the run never waits for it."""
        self.attach(run)
        self._pulled[run.run_id] = [run, 0]
        self._autostart()
        self.wake()

    def wake(self) -> None:
        """New events may be waiting in an attached run (called by the run)."""
        if self._task is None:
            self._autostart()
        wake = self._wake
        if wake is not None and not wake.is_set() and threading.get_ident() == self._loop_thread:
            wake.set()

    def _undrained(self) -> int:
        return sum(len(run.events) - cursor for run, cursor in self._pulled.values())

    def _drain_runs(self) -> None:
        """Move new events of attached runs into the bounded buffer (in emission order)."""
        for run_id, entry in list(self._pulled.items()):
            run, cursor = entry
            log = run.events
            n = len(log)
            if n > cursor:
                for ev in log.since(cursor):
                    if ev.seq in self._sent_urgently.get(run_id, ()):
                        continue
                    self.emit(ev)
                entry[1] = n
            settled = self._dropped_by_run.get(run_id, 0) == self._reported_by_run.get(run_id, 0)
            if run.status in TERMINAL and settled:
                # Keep the run alive until its final state is mirrored (_run_record_ops).
                self._finishing[run_id] = run
                del self._pulled[run_id]
                self._sent_urgently.pop(run_id, None)

    def note_answer(self, request_id: str, **note: Any) -> None:
        """Attach who/why to the next ``RequestAnswered`` for ``request_id`` (audit trail)."""
        self._answer_notes[request_id] = note

    @property
    def stats(self) -> SinkStats:
        """A snapshot of the counters."""
        s = self._stats
        nc = self._nc
        return SinkStats(
            accepted=s.accepted,
            published=s.published,
            dropped=s.dropped,
            unsent=s.unsent,
            pending=len(self._buf) + self._inflight + len(self._urgent) + self._undrained(),
            messages=s.messages,
            retries=s.retries,
            truncated=s.truncated,
            rejected=s.rejected,
            connected=bool(nc is not None and nc.is_connected),
            error=s.error,
        )

    async def flush(self, timeout: float | None = 30.0) -> SinkStats:
        """Wait until every accepted event is acknowledged by JetStream.

        Raises ``TimeoutError`` (with the counters) if that takes longer than ``timeout``.
        """
        if self._task is None:
            await self.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        assert self._wake is not None
        self._wake.set()
        self._drain_runs()
        while self._buf or self._inflight or self._urgent or self._unreported():
            if self._task is not None and self._task.done():
                self._task.result()
                break
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"NATS sink did not drain within {timeout}s: {self.stats}")
            await asyncio.sleep(0.005)
        return self.stats

    async def aclose(self, timeout: float | None = 10.0) -> SinkStats:
        """Flush (up to ``timeout``), stop the publisher, close an owned connection.

        Events still unpublished then are counted in ``stats.unsent`` and reported.
        """
        if self._starting is not None and not self._starting.done():
            await asyncio.wait([self._starting], timeout=timeout)
        try:
            if self._task is not None:
                await self.flush(timeout)
        except TimeoutError:
            pass
        self._closing = True
        self._stop = True
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            done, _ = await asyncio.wait([self._task], timeout=1.0)
            if not done:  # stuck re-sending to an unreachable NATS
                self._task.cancel()
                await asyncio.wait([self._task], timeout=5.0)
            try:
                if self._task.done() and not self._task.cancelled():
                    self._task.result()
            except Exception as exc:  # pragma: no cover - reported, not swallowed
                warnings.warn(f"NATS sink publisher failed: {exc!r}", RuntimeWarning, stacklevel=2)
        left = len(self._buf) + self._inflight + len(self._urgent) + self._undrained()
        if left:
            self._stats.unsent += left
            if self._task is None:
                cause = self._stats.error or "the sink was never started"
                why = f"the sink never ran ({cause})"
            else:
                why = "NATS unreachable"
            warnings.warn(
                f"NATS sink closed with {left} events unpublished ({why}); "
                f"they remain in each run's local event log",
                RuntimeWarning,
                stacklevel=2,
            )
            self._buf.clear()
            self._urgent.clear()
            self._pulled.clear()
            self._inflight = 0
        if self._own_connection and self._nc is not None and not self._nc.is_closed:
            try:
                async with asyncio.timeout(5):
                    await self._nc.close()
            except Exception:
                pass
        return self.stats

    async def __aenter__(self) -> NatsEventSink:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    # ---------------------------------------------------------------- publisher
    async def _pump(self) -> None:
        assert self._wake is not None
        while not self._stop:
            if self._pulled:
                self._drain_runs()
            if not self._buf and not self._urgent:
                self._wake.clear()
                try:
                    async with asyncio.timeout(0.05):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                self._maybe_report()
                continue
            if not self._ready:
                await self._reconnect_later()
                continue
            events: list[WorkflowEvent] = []
            while self._urgent and len(events) < self.batch_size:
                events.append(self._urgent.popleft())
            while self._buf and len(events) < self.batch_size:
                events.append(self._buf.popleft())
            self._inflight = len(events)
            ops: list[M.Op] = []
            for ev in events:
                ops.extend(self._ops_for(ev))
            if self.kv:
                for run_id, ctx in self._ctx.items():
                    if ctx.dirty:
                        ops.extend(M.executor_kv_flush(run_id, ctx))
            await self._send(ops)
            if self._late:  # "run done" records only once everything before is stored
                late, self._late = self._late, []
                await self._send(late)
            self._stats.published += len(events)
            self._inflight = 0
            self._maybe_report()
            await asyncio.sleep(0)  # let the run's own tasks breathe between batches

    async def _reconnect_later(self) -> None:
        """No connection yet (``on_unavailable='buffer'``): try again with backoff."""
        delay = self._retry_delay
        try:
            self._nc = await connect(self.url, **self.connect_options)
            await self._prepare()
            self._retry_delay = 0.2
        except (NatsConnectionError, *_RETRYABLE):
            self._nc = None
            self._maybe_report()
            await asyncio.sleep(delay)
            self._retry_delay = min(5.0, delay * 2)

    async def _send(self, ops: list[M.Op]) -> None:
        """Publish ``ops`` with acknowledgements; re-send what failed until all are stored."""
        js = self._js
        todo = ops
        delay = 0.05
        while todo:
            futures: list[Any] = []
            failed: list[M.Op] = []
            for op in todo:
                try:
                    fut = await js.publish_async(op[0], op[1], headers=op[2])
                except Exception as exc:
                    if _retryable(exc):
                        failed.append(op)
                    else:
                        self._reject(op, exc)
                    continue
                futures.append((op, fut))
            if futures:
                _, not_done = await asyncio.wait([f for _, f in futures], timeout=self.ack_timeout)
                for op, fut in futures:
                    if fut in not_done:
                        fut.cancel()
                        failed.append(op)
                    elif fut.cancelled() or fut.exception() is not None:
                        err = None if fut.cancelled() else fut.exception()
                        if err is not None and not _retryable(err):
                            self._reject(op, err)
                            continue
                        failed.append(op)
                    else:
                        self._stats.messages += 1
            if failed:
                self._stats.retries += 1
                self._maybe_report()
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)
            todo = failed

    def _reject(self, op: M.Op, exc: BaseException) -> None:
        """A message JetStream will never take: count and say why, never retry forever."""
        self._stats.rejected += 1
        warnings.warn(
            f"NATS refused the message on {op[0][:200]!r} ({len(op[1])} bytes): "
            f"{type(exc).__name__}: {exc}; it is not retried (the event stays in the run's "
            f"local event log)",
            RuntimeWarning,
            stacklevel=2,
        )

    # ------------------------------------------------------------------ mapping
    def _ops_for(self, ev: WorkflowEvent) -> list[M.Op]:
        run = ev.run_id
        ctx = self._ctx.get(run)
        if ctx is None:
            ctx = self._ctx[run] = M.RunContext()
        if type(ev) is WorkflowStarted and ev.executor_id is None:  # not a sub-workflow's
            ctx.learn(ev.graph)
        headers = M.event_headers(ev)  # first: computes MessageSent.sha256 into the payload
        if type(ev) is RequestInfo:
            ref = self._response_type_ref(run, ev.request_id)
            if ref:
                headers[M.RESPONSE_TYPE_HEADER] = ref
        subject = M.event_subject(ev, ctx.own, ctx.agents)
        ops: list[M.Op] = [(subject, M.encode_event(ev), headers)]
        ids = [run, ev.executor_id, getattr(ev, "edge", None), getattr(ev, "request_id", None)]
        for v in ids:
            if v and v not in self._ids_seen:
                self._note_ids(v)
        if self.audit:
            note = None
            if type(ev) is RequestAnswered:
                note = self._answer_notes.pop(ev.request_id, None)
            ops.extend(M.audit_ops(ev, ctx, note))
        if self.metrics:
            ops.extend(M.metric_ops(ev))
        if self.kv:
            ops.extend(M.kv_ops(ev))
            M.executor_kv_note(ev, ctx)
            ops.extend(self._run_record_ops(ev))
        limit = self._max_payload
        for i, op in enumerate(ops):
            if M.op_size(op) > limit:
                ops[i] = self._shrink(ev, op, first=i == 0)
        if self._ids_new:
            ops[:0] = self._ids_new
            self._ids_new = []
        return ops

    def _response_type_ref(self, run_id: str, request_id: str) -> str | None:
        """``module:qualname`` of a pending request's response type (for remote forms)."""
        run = self._runs.get(run_id) or self._finishing.get(run_id)
        if run is None:
            return None
        for req in getattr(run, "pending_requests", ()):
            if req.request_id == request_id:
                return M.type_ref(req.response_type)
        return None

    def _note_ids(self, *values: str) -> None:
        """Hashed tokens get a lookup entry in ``agentic_ids`` (see ``_subjects``)."""
        if len(self._ids_seen) > 100_000:
            self._ids_seen.clear()
        for v in values:
            self._ids_seen.add(v)
            for token, value in S.long_tokens(v).items():
                data = value.encode("utf-8", "surrogatepass")
                self._ids_new.append((f"$KV.{S.IDS_BUCKET}.{token}", data, None))

    def _shrink(self, ev: WorkflowEvent, op: M.Op, *, first: bool) -> M.Op:
        limit = self._max_payload
        size = M.op_size(op)
        if first:
            self._stats.truncated += 1
            data, fields = M.encode_event_truncated(ev, limit, size)
            headers = dict(op[2] or {})
            headers["Agentic-Truncated"] = str(len(op[1]))
            warnings.warn(
                f"event {ev.type} #{ev.seq} (executor {ev.executor_id!r}) of run "
                f"{ev.run_id[:200]!r} encodes to {size} bytes, more than this NATS server's "
                f"max_payload of {limit} bytes: published truncated (fields {fields} replaced "
                f"by a marker); the full event stays in the run's local event log",
                RuntimeWarning,
                stacklevel=2,
            )
            return (op[0], data, headers)
        body = {
            "__truncated__": {
                "bytes": len(op[1]),
                "max_payload": limit,
                "event_seq": ev.seq,
                "event_type": ev.type,
            }
        }
        return (op[0], json.dumps(body).encode(), op[2])

    def _run_record_ops(self, ev: WorkflowEvent) -> list[M.Op]:
        run = ev.run_id
        tracker = self._trackers.get(run)
        if tracker is None:
            tracker = self._trackers[run] = RunTracker(run, keep_outputs=False)
        before = (tracker.status, len(tracker.requests))
        tracker.apply(ev)
        ops: list[M.Op] = []
        t = type(ev)
        terminal = tracker.status in TERMINAL
        if t is SuperstepCompleted or terminal:
            ops.extend(self._state_ops(run))
        important = (
            (tracker.status, len(tracker.requests)) != before
            or t
            in (
                WorkflowStarted,
                WorkflowCompleted,
            )
            or isinstance(ev, WorkflowFailed)
        )
        last = self._record_at.get(run, 0.0)
        now = time.monotonic()
        if important or now - last > 1.0:
            self._record_at[run] = now
            record = M.kv_put(RUNS_BUCKET, S.encode_token(run), tracker.record())
            if terminal:
                self._late.append(record)
            else:
                ops.append(record)
        if terminal:
            self._finishing.pop(run, None)
            ctx = self._ctx.pop(run, None)
            if ctx is not None:
                ops.extend(M.executor_kv_flush(run, ctx))
            self._trackers.pop(run, None)
            self._record_at.pop(run, None)
            self._state_seen.pop(run, None)
        return ops

    def _state_ops(self, run_id: str) -> list[M.Op]:
        run = self._runs.get(run_id) or self._finishing.get(run_id)
        if run is None:
            return []
        seen = self._state_seen.setdefault(run_id, {})
        ops: list[M.Op] = []
        for key, value in run.state.items():
            try:
                data = encode(value)
            except CodecError:
                data = {"__preview__": M.preview(value)}
            raw = json.dumps(data, sort_keys=True, separators=(",", ":"))
            if seen.get(key) == raw:
                continue
            seen[key] = raw
            if key not in self._ids_seen:
                self._note_ids(key)
            skey = S.kv_key("workflow", run_id, "state", key, ids=(1, 3))
            ops.append(
                (f"$KV.{STATE_BUCKET}.{skey}", raw.encode(), None),
            )
        return ops

    # --------------------------------------------------------------- reporting
    def _unreported(self) -> bool:
        return any(self._reported_by_run.get(r, 0) < n for r, n in self._dropped_by_run.items())

    def _maybe_report(self) -> None:
        if not self._unreported():
            return
        now = time.monotonic()
        if now - self._last_report < self.report_interval and not self._closing and self._buf:
            return
        self._last_report = now
        for run_id, total in list(self._dropped_by_run.items()):
            done = self._reported_by_run.get(run_id, 0)
            if total <= done:
                continue
            self._reported_by_run[run_id] = total
            reason = (
                f"NATS event sink buffer full ({self.max_buffer} events) while NATS was "
                f"unreachable or slow: {total - done} more events of run {run_id!r} were not "
                f"published ({total} in total); they remain in the run's local event log"
            )
            warnings.warn(reason, RuntimeWarning, stacklevel=2)
            run = self._runs.get(run_id)
            report = EventsDropped(dropped=total, new=total - done, reason=reason)
            if run is not None:
                # The report comes back through emit(): _bypass puts it ahead of the bound.
                self._bypass = True
                try:
                    run.add_event(report)
                finally:
                    self._bypass = False
                if run_id in self._pulled:  # a pulling sink: send the report ahead, once
                    self._urgent.append(report)
                    self._stats.accepted += 1
                    self._sent_urgently.setdefault(run_id, set()).add(report.seq)
            else:
                report.run_id = run_id
                report.ts = time.time()
                self._urgent.append(report)

    def __repr__(self) -> str:
        s = self.stats
        return (
            f"NatsEventSink(published={s.published}, pending={s.pending}, dropped={s.dropped}, "
            f"connected={s.connected})"
        )


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, _RETRYABLE):
        return True
    name = type(exc).__name__
    return name in {
        "NoRespondersError",
        "NoStreamResponseError",
        "ConnectionClosedError",
        "OutboundBufferLimitError",
        "StaleConnectionError",
        "TimeoutError",
    }
