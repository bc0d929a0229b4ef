"""The Run handle and the ways to drive a workflow: start/step/until_idle,
queued_messages, StepReport, run_stream, run_sync, concurrent isolated runs, and
in-memory request_info (waiting, respond type-checked, any order, no double answer)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from agentic_nb import Run, StepReport, WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import (
    ExecutorCompleted,
    MessageSent,
    RequestAnswered,
    RequestError,
    RequestInfo,
    WorkflowCompleted,
    WorkflowEvent,
    WorkflowStarted,
)

REPO = Path(__file__).resolve().parents[2]


def two_step_workflow() -> Any:
    @executor(id="double")
    async def double(n: int, ctx: WorkflowContext[int, str]) -> None:
        await ctx.yield_output(f"doubled {n}")
        await ctx.send_message(n * 2)
        await ctx.send_message(n * 2 + 1)

    @executor(id="show")
    async def show(n: int, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output(f"show {n}")

    return WorkflowBuilder(name="two", start=double).add_edge(double, show).build()


# ------------------------------------------------------------ start / step


async def test_start_runs_nothing_and_queues_the_input() -> None:
    wf = two_step_workflow()
    run = wf.start(4)
    assert isinstance(run, Run)
    assert run.status == "created"
    assert run.outputs == []
    assert [(q.target_id, q.source_id, q.payload) for q in run.queued_messages()] == [
        ("double", None, 4)
    ]
    assert run.queued_messages()[0].payload_type == "int"
    assert [type(e) for e in run.events] == [WorkflowStarted]
    assert run.run_id and isinstance(run.run_id, str)


async def test_step_runs_exactly_one_superstep_and_reports_it() -> None:
    wf = two_step_workflow()
    run = wf.start(4)
    r0 = await run.step()
    assert isinstance(r0, StepReport)
    assert r0.superstep == 0
    assert r0.executors == ["double"]
    assert r0.delivered == 1
    assert [(m.source_id, m.target_id, m.payload) for m in r0.messages] == [
        ("double", "show", 8),
        ("double", "show", 9),
    ]
    assert r0.events and all(isinstance(e, WorkflowEvent) for e in r0.events)
    assert {e.superstep for e in r0.events} == {0}
    assert run.status not in ("completed", "failed")
    assert run.outputs == ["doubled 4"]
    assert [(q.target_id, q.source_id, q.payload) for q in run.queued_messages()] == [
        ("show", "double", 8),
        ("show", "double", 9),
    ]

    r1 = await run.step()
    assert r1.superstep == 1
    assert r1.executors == ["show"]
    assert r1.delivered == 2
    assert r1.messages == []
    assert run.queued_messages() == []
    assert run.outputs == ["doubled 4", "show 8", "show 9"]
    # the reports' events are exactly the events the steps added to the run
    stepped = [e.seq for e in r0.events + r1.events]
    assert stepped == [e.seq for e in run.events][1 : 1 + len(stepped)]


async def test_step_report_lists_each_output_once() -> None:
    run = two_step_workflow().start(4)
    r0 = await run.step()
    assert r0.outputs == ["doubled 4"]
    r1 = await run.step()
    assert r1.outputs == ["show 8", "show 9"]


async def test_until_idle_finishes_and_step_after_the_end_does_nothing() -> None:
    run = two_step_workflow().start(1)
    await run.step()
    result = await run.until_idle()
    assert result.status == "completed" and run.status == "completed"
    assert result.outputs == ["doubled 1", "show 2", "show 3"]
    n_events = len(run.events)
    report = await run.step()
    assert report.executors == [] and report.delivered == 0
    assert run.status == "completed"
    assert len(run.events) == n_events
    assert isinstance(run.events[-1], WorkflowCompleted)


async def test_result_fields() -> None:
    result = await two_step_workflow().run(2)
    assert result.status == "completed"
    assert result.supersteps == 2
    assert result.duration > 0
    assert result.get_output(str) == "doubled 2"
    assert result.get_output() == "doubled 2"
    assert len(result.events) > 5
    assert result.error is None
    assert result.diagnostics == []


# ------------------------------------------------------------------ streams


async def test_run_stream_yields_events_as_they_happen() -> None:
    @executor(id="first")
    async def first(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n)

    @executor(id="slow")
    async def slow(n: int, ctx: WorkflowContext[None, int]) -> None:
        await asyncio.sleep(0.2)
        await ctx.yield_output(n)

    wf = WorkflowBuilder(start=first).add_edge(first, slow).build()
    t0 = time.perf_counter()
    received: list[tuple[float, WorkflowEvent]] = []
    async for ev in wf.run_stream(3):
        received.append((time.perf_counter() - t0, ev))
    types = [e.type for _, e in received]
    assert types[0] == "WorkflowStarted" and types[-1] == "WorkflowCompleted"
    first_done = next(
        t for t, e in received if isinstance(e, ExecutorCompleted) and e.executor_id == "first"
    )
    end = received[-1][0]
    assert first_done < 0.1 <= end, "events must arrive while the run is still going"
    seqs = [e.seq for _, e in received]
    assert seqs == list(range(len(seqs)))


async def test_run_stream_delivers_the_same_events_as_the_run() -> None:
    wf = two_step_workflow()
    streamed = [e async for e in wf.run_stream(5)]
    result = await wf.run(5)
    assert [e.type for e in streamed] == [e.type for e in result.events]


async def test_leaving_run_stream_early_stops_the_run() -> None:
    @executor(id="loop")
    async def loop(n: int, ctx: WorkflowContext[int]) -> None:
        await asyncio.sleep(0.001)
        await ctx.send_message(n + 1)

    wf = WorkflowBuilder(start=loop, max_supersteps=10_000).add_edge(loop, loop).build()
    count = 0
    stream = wf.run_stream(0)
    async for _ev in stream:
        count += 1
        if count > 20:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    await asyncio.sleep(0.05)
    # No stray task keeps driving the run once the consumer left.
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    assert leftovers == []


# ---------------------------------------------------------------- run_sync


def test_run_sync_in_a_plain_script() -> None:
    script = textwrap.dedent(
        """
        from agentic_nb import WorkflowBuilder, WorkflowContext, executor

        @executor
        def upper(text: str, ctx: WorkflowContext[None, str]) -> None:
            ctx.yield_output(text.upper())

        result = WorkflowBuilder(start=upper).build().run_sync("script")
        print(result.status, result.outputs)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "completed ['SCRIPT']"


async def test_run_sync_inside_a_running_loop_uses_a_private_thread() -> None:
    loop = asyncio.get_running_loop()
    result = two_step_workflow().run_sync(3)
    assert result.status == "completed"
    assert result.outputs == ["doubled 3", "show 6", "show 7"]
    assert asyncio.get_running_loop() is loop
    assert "nest_asyncio" not in sys.modules


# ------------------------------------------------------ concurrent isolation


async def test_concurrent_runs_of_one_workflow_stay_isolated() -> None:
    @executor(id="a")
    async def a(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.set_state("input", n)
        await asyncio.sleep(0.001 * (n % 7))
        await ctx.send_message(n * 10)

    @executor(id="b")
    async def b(n: int, ctx: WorkflowContext[None, str]) -> None:
        await asyncio.sleep(0.001 * (n % 5))
        await ctx.yield_output(f"{ctx.get_state('input')}->{n}")
        await ctx.set_state("seen_by_b", n)

    wf = WorkflowBuilder(start=a).add_edge(a, b).build()
    results = await asyncio.gather(*(wf.run(i) for i in range(25)))
    assert len({r.run_id for r in results}) == 25
    for i, r in enumerate(results):
        assert r.status == "completed"
        assert r.outputs == [f"{i}->{i * 10}"]
        assert r.state == {"input": i, "seen_by_b": i * 10}
        assert {e.run_id for e in r.events} == {r.run_id}
        assert [e.seq for e in r.events] == list(range(len(r.events)))
        assert [m.payload for m in r.events.of_type(MessageSent)] == [i * 10]


async def test_stepping_two_runs_of_one_workflow_independently() -> None:
    wf = two_step_workflow()
    r1, r2 = wf.start(1), wf.start(100)
    await r1.step()
    assert r2.status == "created" and r2.outputs == []
    await r2.until_idle()
    assert r2.outputs == ["doubled 100", "show 200", "show 201"]
    assert r1.outputs == ["doubled 1"]
    await r1.until_idle()
    assert r1.outputs == ["doubled 1", "show 2", "show 3"]


# ---------------------------------------------------------- request_info


def asking_workflow() -> Any:
    @executor(id="ask")
    async def ask(topic: str, ctx: WorkflowContext[str, str]) -> None:
        approved = await ctx.request_info({"approve": topic}, response_type=bool)
        count = await ctx.request_info(f"how many {topic}?", response_type=int)
        await ctx.yield_output(f"{topic}: approved={approved} count={count}")

    return WorkflowBuilder(name="asking", start=ask).build()


async def test_request_info_makes_the_run_wait_and_respond_resumes_it() -> None:
    run = asking_workflow().start("apples")
    result = await run.until_idle()
    assert result.status == "waiting" and run.status == "waiting"
    [req] = run.pending_requests
    assert req.executor_id == "ask" and req.request == {"approve": "apples"}
    assert req.response_type is bool
    assert [p.request_id for p in result.pending_requests] == [req.request_id]
    [info] = result.events.of_type(RequestInfo)
    assert info.request_id == req.request_id and info.executor_id == "ask"

    result = await run.respond(req.request_id, True)
    assert result.status == "waiting"
    [req2] = run.pending_requests
    assert req2.request == "how many apples?" and req2.request_id != req.request_id
    result = await run.respond(req2.request_id, 3)
    assert result.status == "completed"
    assert result.outputs == ["apples: approved=True count=3"]
    answered = result.events.of_type(RequestAnswered)
    assert [(a.request_id, a.response) for a in answered] == [
        (req.request_id, True),
        (req2.request_id, 3),
    ]


async def test_respond_with_the_wrong_type_raises_and_the_request_stays_pending() -> None:
    run = asking_workflow().start("pears")
    await run.until_idle()
    [req] = run.pending_requests
    with pytest.raises(RequestError) as err:
        await run.respond(req.request_id, "yes")
    assert "bool" in str(err.value)
    assert [p.request_id for p in run.pending_requests] == [req.request_id]
    assert run.status == "waiting"
    await run.respond(req.request_id, False)
    assert run.pending_requests[0].request == "how many pears?"


async def test_several_requests_answered_in_any_order() -> None:
    def asker(id: str) -> Any:
        @executor(id=id)
        async def _ask(n: int, ctx: WorkflowContext[None, str]) -> None:
            answer = await ctx.request_info(f"{id}?", response_type=str)
            await ctx.yield_output(f"{id}={answer}")

        return _ask

    @executor(id="start")
    async def start(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n)

    askers = [asker("q1"), asker("q2"), asker("q3")]
    wf = WorkflowBuilder(start=start).add_fan_out(start, askers).build()
    run = wf.start(0)
    result = await run.until_idle()
    assert result.status == "waiting"
    by_question = {r.request: r.request_id for r in run.pending_requests}
    assert sorted(by_question) == ["q1?", "q2?", "q3?"]
    await run.respond(by_question["q3?"], "three", resume=False)
    assert run.status == "waiting"
    result = await run.respond(by_question["q1?"], "one")
    assert result.status == "waiting"
    assert [r.request for r in run.pending_requests] == ["q2?"]
    result = await run.respond(by_question["q2?"], "two")
    assert result.status == "completed"
    # outputs are committed in registration order whatever the answer order
    assert result.outputs == ["q1=one", "q2=two", "q3=three"]


async def test_answering_twice_or_an_unknown_request_is_rejected() -> None:
    run = asking_workflow().start("plums")
    await run.until_idle()
    [req] = run.pending_requests
    await run.respond(req.request_id, True)
    with pytest.raises(RequestError, match="already answered"):
        await run.respond(req.request_id, False)
    with pytest.raises(RequestError, match="no-such-id"):
        await run.respond("no-such-id", 1)
    [req2] = run.pending_requests
    result = await run.respond(req2.request_id, 2)
    assert result.outputs == ["plums: approved=True count=2"]


async def test_code_before_request_info_runs_again_on_resume() -> None:
    """Documented replay semantics: the handler restarts and gets the recorded answer."""
    calls: list[str] = []

    @executor(id="ask")
    async def ask(n: int, ctx: WorkflowContext[None, int]) -> None:
        calls.append("before")
        value = await ctx.request_info("value?", response_type=int)
        calls.append(f"after {value}")
        await ctx.yield_output(value + n)

    run = WorkflowBuilder(start=ask).build().start(1)
    await run.until_idle()
    [req] = run.pending_requests
    result = await run.respond(req.request_id, 41)
    assert result.outputs == [42]
    assert calls == ["before", "before", "after 41"]


async def test_sync_handler_request_info_works_without_await() -> None:
    @executor(id="ask")
    def ask(n: int, ctx: WorkflowContext[None, int]) -> None:
        # In a sync handler request_info returns the answer itself (typed as Awaitable).
        value: Any = ctx.request_info("value?", response_type=int)
        ctx.yield_output(value * n)

    run = WorkflowBuilder(start=ask).build().start(2)
    await run.until_idle()
    [req] = run.pending_requests
    result = await run.respond(req.request_id, 21)
    assert result.status == "completed"
    assert result.outputs == [42]


async def test_step_report_of_a_step_that_ends_waiting() -> None:
    run = asking_workflow().start("figs")
    report = await run.step()
    assert report.status == "waiting"
    assert report.executors == ["ask"]
    assert report.delivered == 0
    assert any(isinstance(e, RequestInfo) for e in report.events)
    # the suspended delivery is still what the run will (re)deliver
    assert [(q.target_id, q.payload) for q in run.queued_messages()] == [("ask", "figs")]
    assert not run.can_progress()
