"""Typed events: fields run_id/seq/ts/superstep/executor_id on every event, the event
kinds of DESIGN.md point 11, and EventLog.to_records()."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from agentic_nb import RetryPolicy, WorkflowBuilder, WorkflowContext, WorkflowEvent, executor
from agentic_nb.workflow import (
    Custom,
    EventLog,
    ExecutorCompleted,
    ExecutorFailed,
    ExecutorInvoked,
    Log,
    MessageSent,
    Output,
    SuperstepCompleted,
    SuperstepStarted,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowStarted,
)

RUN_LEVEL = (WorkflowStarted, SuperstepStarted, SuperstepCompleted, WorkflowCompleted)


@dataclass(kw_only=True, eq=False)
class Progress(WorkflowEvent):
    percent: int = 0


def pipeline() -> Any:
    @executor(id="a")
    async def a(n: int, ctx: WorkflowContext[int, str]) -> None:
        await ctx.log("INFO", f"a got {n}")
        await ctx.add_event(Progress(percent=50))
        await ctx.add_event({"plain": "object"})
        await ctx.send_message(n + 1)

    @executor(id="b")
    def b(n: int, ctx: WorkflowContext[None, str]) -> None:
        ctx.add_event(Progress(percent=100))
        ctx.yield_output(f"b:{n}")

    return WorkflowBuilder(name="events", start=a).add_edge(a, b).build()


async def test_event_sequence_of_a_simple_run() -> None:
    result = await pipeline().run(1)
    types = [e.type for e in result.events if e.type not in ("Log", "Progress", "Custom")]
    assert types == [
        "WorkflowStarted",
        "SuperstepStarted",
        "ExecutorInvoked",
        "ExecutorCompleted",
        "MessageSent",
        "SuperstepCompleted",
        "SuperstepStarted",
        "ExecutorInvoked",
        "Output",
        "ExecutorCompleted",
        "SuperstepCompleted",
        "WorkflowCompleted",
    ]


async def test_every_event_carries_run_id_seq_ts_superstep_and_executor_id() -> None:
    before = time.time()
    result = await pipeline().run(1, run_id="run-ev")
    after = time.time()
    events = list(result.events)
    assert [e.seq for e in events] == list(range(len(events)))
    assert all(e.run_id == "run-ev" for e in events)
    ts = [e.ts for e in events]
    assert ts == sorted(ts) and before - 1 <= ts[0] and ts[-1] <= after + 1
    for e in events:
        assert isinstance(e.superstep, int) and e.superstep >= 0
        if isinstance(e, RUN_LEVEL):
            assert e.executor_id is None, e
        else:
            assert e.executor_id in ("a", "b"), e
    for e in events:
        if isinstance(e, (ExecutorInvoked, ExecutorCompleted, Log, Custom, Progress)):
            assert e.superstep == (0 if e.executor_id == "a" else 1)


async def test_user_events_and_logs_are_typed_and_attributed() -> None:
    result = await pipeline().run(1)
    progress = result.events.of_type(Progress)
    assert [(p.executor_id, p.percent, p.type) for p in progress] == [
        ("a", 50, "Progress"),
        ("b", 100, "Progress"),
    ]
    [custom] = result.events.of_type(Custom)
    assert custom.data == {"plain": "object"} and custom.name == "dict"
    [log] = result.events.of_type(Log)
    assert (log.level, log.message, log.executor_id) == ("info", "a got 1", "a")


async def test_workflow_started_describes_the_graph() -> None:
    wf = pipeline()
    result = await wf.run(1)
    [started] = result.events.of_type(WorkflowStarted)
    assert started.workflow == "events"
    assert started.start_executor == "a"
    assert started.input_type == "int"
    assert started.graph_hash == wf.graph_hash and len(wf.graph_hash) >= 8
    assert started.graph is not None
    assert [x["id"] for x in started.graph["executors"]] == ["a", "b"]


async def test_superstep_events() -> None:
    result = await pipeline().run(1)
    starts = result.events.of_type(SuperstepStarted)
    assert [(s.superstep, s.executors, s.deliveries) for s in starts] == [
        (0, ["a"], 1),
        (1, ["b"], 1),
    ]
    ends = result.events.of_type(SuperstepCompleted)
    assert [(s.superstep, s.messages_sent) for s in ends] == [(0, 1), (1, 0)]
    assert all(s.duration_ms >= 0 for s in ends)
    [done] = result.events.of_type(WorkflowCompleted)
    assert done.status == "completed" and done.supersteps == 2 and done.duration_ms > 0


async def test_executor_events() -> None:
    result = await pipeline().run(1)
    inv = result.events.of_type(ExecutorInvoked)
    assert [(e.executor_id, e.attempt, e.message_type, e.source_id) for e in inv] == [
        ("a", 1, "int", None),
        ("b", 1, "int", "a"),
    ]
    comp = result.events.of_type(ExecutorCompleted)
    assert [c.executor_id for c in comp] == ["a", "b"]
    assert all(c.duration_ms >= 0 and c.attempt == 1 for c in comp)


async def test_executor_failed_and_workflow_failed_events() -> None:
    @executor(id="bad", retry=RetryPolicy(max_attempts=2))
    async def bad(n: int, ctx: WorkflowContext[None, int]) -> None:
        raise LookupError(f"missing {n}")

    result = await WorkflowBuilder(start=bad).build().run(9)
    failed = result.events.of_type(ExecutorFailed)
    assert [(f.attempt, f.will_retry, f.error_type, f.error_message) for f in failed] == [
        (1, True, "LookupError", "missing 9"),
        (2, False, "LookupError", "missing 9"),
    ]
    assert all(f.executor_id == "bad" and f.duration_ms >= 0 for f in failed)
    [wf_failed] = result.events.of_type(WorkflowFailed)
    assert wf_failed.status == "failed" and wf_failed.error_type == "LookupError"
    assert "missing 9" in wf_failed.error_message
    assert result.events[-1] is wf_failed


async def test_message_sent_names_source_target_edge_type_and_hash() -> None:
    wf = pipeline()
    result = await wf.run(1)
    [m] = result.events.of_type(MessageSent)
    assert (m.source_id, m.target_id, m.payload_type, m.payload) == ("a", "b", "int", 2)
    assert m.edge == wf.edges[0].id
    assert m.executor_id == "a" and m.superstep == 0
    assert re.fullmatch(r"[0-9a-f]{64}", m.sha256)
    again = (await wf.run(1)).events.of_type(MessageSent)[0]
    other = (await wf.run(2)).events.of_type(MessageSent)[0]
    assert again.sha256 == m.sha256 != other.sha256


async def test_one_output_event_per_yield_output() -> None:
    @executor(id="multi")
    async def multi(n: int, ctx: WorkflowContext[None, int]) -> None:
        for i in range(3):
            await ctx.yield_output(i)

    @executor(id="multi_sync")
    def multi_sync(n: int, ctx: WorkflowContext[None, int]) -> None:
        ctx.yield_output(n)

    for ex in (multi, multi_sync):
        result = await WorkflowBuilder(start=ex).build().run(7)
        outputs = result.events.of_type(Output)
        assert [o.data for o in outputs] == result.outputs, f"{ex.id}: {outputs}"
        assert all(o.executor_id == ex.id for o in outputs)


async def test_to_records_gives_plain_json_ready_dicts() -> None:
    result = await pipeline().run(1)
    records = result.events.to_records()
    assert len(records) == len(result.events)
    for rec, ev in zip(records, result.events):
        assert isinstance(rec, dict)
        assert rec["type"] == ev.type
        for key in ("run_id", "seq", "ts", "superstep", "executor_id"):
            assert key in rec and rec[key] == getattr(ev, key)
    json.dumps(records)  # plain values only
    sent = next(r for r in records if r["type"] == "MessageSent")
    assert sent["source_id"] == "a" and sent["target_id"] == "b"
    assert len(sent["sha256"]) == 64


async def test_records_preview_big_payloads_and_by_seq_returns_the_full_event() -> None:
    big = "x" * 5000

    @executor(id="a")
    async def a(n: int, ctx: WorkflowContext[str]) -> None:
        await ctx.send_message(big)

    @executor(id="b")
    async def b(s: str, ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(len(s))

    result = await WorkflowBuilder(start=a).add_edge(a, b).build().run(0)
    rec = next(r for r in result.events.to_records() if r["type"] == "MessageSent")
    assert len(str(rec["payload"])) < 1000
    full = result.events.by_seq(rec["seq"])
    assert isinstance(full, MessageSent) and full.payload == big


def test_event_log_basics() -> None:
    log = EventLog()
    assert len(log) == 0 and log.to_records() == []
    ev = Progress(percent=1)
    log.append(ev)
    assert list(log) == [ev] and log[0] is ev and log.of_type(Progress) == [ev]


def test_custom_event_type_defaults_to_class_name() -> None:
    assert Progress().type == "Progress"
    rec = Progress(percent=3).to_record()
    assert rec["type"] == "Progress" and rec["percent"] == 3


async def test_subscribers_and_sinks_see_every_event_live_and_a_broken_one_is_isolated() -> None:
    import warnings

    seen_by_sink: list[int] = []

    class Sink:
        def emit(self, event: WorkflowEvent) -> None:
            seen_by_sink.append(event.seq)

    def broken(event: WorkflowEvent) -> None:
        raise RuntimeError("sink down")

    wf = pipeline()
    live: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = wf.start(1, event_sinks=[Sink(), broken])
        unsubscribe = run.subscribe(lambda e: live.append(e.type))
        result = await run.until_idle()
    assert result.status == "completed"
    assert seen_by_sink == [e.seq for e in result.events]
    assert live == [e.type for e in result.events][1:]  # subscribed after WorkflowStarted
    assert any("sink down" in str(w.message) for w in caught)
    unsubscribe()


# ---------------------------------------------- MessageSent records what was sent
def _mutating_workflow(make: Any) -> Any:

    @executor(id="src")
    async def src(n: int, ctx: WorkflowContext[Any]) -> None:
        await ctx.send_message(make(n))

    @executor(id="dst")
    async def dst(msg: Any, ctx: WorkflowContext[None, str]) -> None:
        msg["items"].append("added by the receiver")  # mutates what it received
        await ctx.yield_output("ok")

    return WorkflowBuilder(start=src).add_edge(src, dst).build()


async def test_message_sent_keeps_the_payload_as_sent_when_the_receiver_mutates_it() -> None:
    from agentic_nb.workflow._events import payload_sha256

    wf = _mutating_workflow(lambda n: {"items": [n]})
    result = await wf.run(1)
    (sent,) = result.events.of_type(MessageSent)
    assert sent.payload == {"items": [1]}
    assert sent.sha256 == payload_sha256({"items": [1]})


async def test_message_sent_hash_does_not_depend_on_when_it_is_read() -> None:

    shared: dict[str, Any] = {"items": [0]}

    @executor(id="src")
    async def src(n: int, ctx: WorkflowContext[Any]) -> None:
        await ctx.send_message(shared)

    @executor(id="dst")
    async def dst(msg: dict[str, Any], ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(len(msg["items"]))

    wf = WorkflowBuilder(start=src).add_edge(src, dst).build()
    seen: list[str] = []
    run = wf.start(1)
    await run.step()
    (sent,) = run.events.of_type(MessageSent)
    shared["items"].append(99)  # the sender keeps and changes its object later
    seen.append(sent.sha256)
    await run.until_idle()
    (again,) = run.events.of_type(MessageSent)
    assert again.payload == {"items": [0]} and seen == [again.sha256]


async def test_message_sent_of_an_uncopyable_payload_is_hashed_at_send_time() -> None:
    import threading

    from agentic_nb.workflow._events import payload_sha256

    class Holder(dict[str, Any]):
        def __init__(self) -> None:
            super().__init__(items=[1])
            self.lock = threading.Lock()  # neither encodable nor deep-copyable

    wf = _mutating_workflow(lambda n: Holder())
    result = await wf.run(1)
    (sent,) = result.events.of_type(MessageSent)
    assert sent.sha256 == payload_sha256({"items": [1]})
