"""OpenTelemetry GenAI spans: workflow, supersteps, executors, agents, chats, tools (issue 14.4)."""

from __future__ import annotations

import asyncio
import json

from opentelemetry.trace import StatusCode

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.agents import ChatAgent, tool
from agentic_nb.llm import ScriptedChatClient
from agentic_nb.otel import is_instrumented, uninstrument
from agentic_nb.patterns import SequentialBuilder

from ._tree import all_named, by_name, parent_of, tree


def build_plain():  # type: ignore[no-untyped-def]
    @executor(id="upper")
    async def upper(text: str, ctx: WorkflowContext[str]) -> None:
        await ctx.send_message(text.upper())

    @executor(id="left")
    async def left(text: str, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output("L" + text)

    @executor(id="right")
    def right(text: str, ctx: WorkflowContext[None, str]) -> None:  # a sync handler
        ctx.yield_output("R" + text)

    return WorkflowBuilder(name="plain", start=upper).add_fan_out(upper, [left, right]).build()


async def test_a_plain_workflow_gives_workflow_superstep_and_executor_spans(exporter) -> None:
    result = await build_plain().run("hi")
    assert result.status == "completed"
    spans = exporter.get_finished_spans()
    assert tree(spans) == [
        "invoke_workflow plain",
        "  superstep 0",
        "    executor upper",
        "  superstep 1",
        "    executor left",
        "    executor right",
    ] or tree(spans) == [
        "invoke_workflow plain",
        "  superstep 0",
        "    executor upper",
        "  superstep 1",
        "    executor right",
        "    executor left",
    ]
    root = by_name(spans, "invoke_workflow plain")
    assert root.parent is None
    assert root.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert root.attributes["agentic_nb.run_id"] == result.run_id
    assert root.attributes["agentic_nb.status"] == "completed"
    assert root.status.status_code == StatusCode.OK
    step1 = by_name(spans, "superstep 1")
    assert step1.attributes["agentic_nb.superstep"] == 1
    assert parent_of(spans, step1) is root
    for ex in ("left", "right"):
        span = by_name(spans, f"executor {ex}")
        assert parent_of(spans, span) is step1
        assert span.attributes["agentic_nb.executor.id"] == ex
        assert span.attributes["agentic_nb.superstep"] == 1
        assert span.attributes["agentic_nb.run_id"] == result.run_id
    # all spans of a run share its trace
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}


async def test_errors_set_span_status_on_the_executor_and_the_workflow(exporter) -> None:
    @executor(id="boom")
    async def boom(text: str, ctx: WorkflowContext[None, str]) -> None:
        raise ValueError("bad input " + text)

    result = await WorkflowBuilder(name="failing", start=boom).build().run("x")
    assert result.status == "failed"
    spans = exporter.get_finished_spans()
    ex = by_name(spans, "executor boom")
    assert ex.status.status_code == StatusCode.ERROR
    assert "bad input x" in (ex.status.description or "")
    assert ex.attributes["error.type"] == "ValueError"
    assert by_name(spans, "superstep 0").status.status_code == StatusCode.ERROR
    root = by_name(spans, "invoke_workflow failing")
    assert root.status.status_code == StatusCode.ERROR
    assert root.attributes["agentic_nb.status"] == "failed"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def calc_agent() -> ChatAgent:
    # ScriptedChatClient is a test double: it replays the scripted answers.
    client = ScriptedChatClient([ScriptedChatClient.calls(("add", {"a": 2, "b": 3})), "5"])
    return ChatAgent(client, instructions="Use tools.", name="calc", tools=[add])


async def test_an_agent_with_a_tool_nests_chat_and_tool_spans_under_its_executor(
    exporter,
) -> None:
    wf = WorkflowBuilder(name="calc-flow", start=calc_agent()).build()
    result = await wf.run("2+3?")
    assert result.status == "completed", result.error
    spans = exporter.get_finished_spans()
    assert tree(spans) == [
        "invoke_workflow calc-flow",
        "  superstep 0",
        "    executor calc",
        "      invoke_agent calc",
        "        chat scripted",
        "        execute_tool add",
        "        chat scripted",
    ]
    agent_span = by_name(spans, "invoke_agent calc")
    assert parent_of(spans, agent_span) is by_name(spans, "executor calc")
    a = agent_span.attributes
    assert a["gen_ai.operation.name"] == "invoke_agent"
    assert a["gen_ai.agent.name"] == "calc"
    assert a["gen_ai.provider.name"] == "scripted"
    assert a["gen_ai.request.model"] == "scripted"
    assert a["gen_ai.conversation.id"]
    chats = all_named(spans, "chat scripted")
    assert all(parent_of(spans, c) is agent_span for c in chats)
    for c in chats:
        assert c.attributes["gen_ai.operation.name"] == "chat"
        assert c.attributes["gen_ai.provider.name"] == "scripted"
        assert c.attributes["gen_ai.request.model"] == "scripted"
        assert c.attributes["gen_ai.usage.input_tokens"] > 0
        assert c.attributes["gen_ai.usage.output_tokens"] > 0
    # the agent span sums its model calls
    assert a["gen_ai.usage.input_tokens"] == sum(
        c.attributes["gen_ai.usage.input_tokens"] for c in chats
    )
    assert a["gen_ai.usage.output_tokens"] == sum(
        c.attributes["gen_ai.usage.output_tokens"] for c in chats
    )
    t = by_name(spans, "execute_tool add")
    assert parent_of(spans, t) is agent_span
    assert t.attributes["gen_ai.operation.name"] == "execute_tool"
    assert t.attributes["gen_ai.tool.name"] == "add"
    assert t.status.status_code != StatusCode.ERROR
    # no content without opting in
    for s in spans:
        assert not any(k.startswith(("gen_ai.input", "gen_ai.output")) for k in s.attributes)
        assert "gen_ai.tool.call.arguments" not in s.attributes


async def test_message_content_only_when_opted_in(content_exporter) -> None:
    response = await calc_agent().run("2+3?")
    assert response.text == "5"
    spans = content_exporter.get_finished_spans()
    agent_span = by_name(spans, "invoke_agent calc")
    assert "2+3?" in agent_span.attributes["gen_ai.input.messages"]
    assert "5" in agent_span.attributes["gen_ai.output.messages"]
    t = by_name(spans, "execute_tool add")
    assert json.loads(t.attributes["gen_ai.tool.call.arguments"]) == {"a": 2, "b": 3}
    assert t.attributes["gen_ai.tool.call.result"] == "5"
    first_chat = all_named(spans, "chat scripted")[0]
    assert "Use tools." in first_chat.attributes["gen_ai.input.messages"]


async def test_a_failing_tool_marks_its_span_as_an_error(exporter) -> None:
    @tool
    def explode(x: int) -> int:
        """Always fails."""
        raise RuntimeError("no fuel")

    client = ScriptedChatClient([ScriptedChatClient.calls(("explode", {"x": 1})), "sorry"])
    agent = ChatAgent(client, name="fragile", tools=[explode])
    assert (await agent.run("go")).text == "sorry"
    t = by_name(exporter.get_finished_spans(), "execute_tool explode")
    assert t.status.status_code == StatusCode.ERROR
    assert "no fuel" in (t.status.description or "")


async def test_streamed_agent_runs_trace_streamed_chats(exporter) -> None:
    agent = calc_agent()
    updates = [u async for u in agent.run_stream("2+3?")]
    assert updates[-1].done
    spans = exporter.get_finished_spans()
    assert tree(spans) == [
        "invoke_agent calc",
        "  chat scripted",
        "  execute_tool add",
        "  chat scripted",
    ]
    assert all_named(spans, "chat scripted")[0].attributes["gen_ai.usage.output_tokens"] > 0


async def test_a_sequential_pattern_run_has_one_agent_span_per_participant(exporter) -> None:
    def agent(name: str, answer: str) -> ChatAgent:
        return ChatAgent(ScriptedChatClient([answer], chunk_size=3), name=name)

    wf = SequentialBuilder([agent("writer", "Ride far."), agent("reviewer", "Fine.")]).build()
    result = await wf.run("Tagline")
    assert result.status == "completed", result.error
    spans = exporter.get_finished_spans()
    root = [s for s in spans if s.parent is None]
    assert len(root) == 1 and root[0].name.startswith("invoke_workflow ")
    assert root[0].attributes["gen_ai.operation.name"] == "invoke_workflow"
    for name in ("writer", "reviewer"):
        a = by_name(spans, f"invoke_agent {name}")
        ex = parent_of(spans, a)
        assert ex.name.startswith("executor "), ex.name
        step = parent_of(spans, ex)
        assert step.name.startswith("superstep ")
        assert parent_of(spans, step) is root[0]
        chat = all_named(spans, "chat scripted")
        assert any(parent_of(spans, c) is a for c in chat)
    w = parent_of(spans, by_name(spans, "invoke_agent writer"))
    r = parent_of(spans, by_name(spans, "invoke_agent reviewer"))
    assert (
        parent_of(spans, w).attributes["agentic_nb.superstep"]
        < parent_of(spans, r).attributes["agentic_nb.superstep"]
    )


async def test_concurrent_runs_keep_their_spans_apart(exporter) -> None:
    wf = build_plain()
    a, b = await asyncio.gather(wf.run("a"), wf.run("b"))
    spans = exporter.get_finished_spans()
    roots = all_named(spans, "invoke_workflow plain")
    assert len(roots) == 2
    for root, result in zip(
        sorted(roots, key=lambda s: s.attributes["agentic_nb.run_id"]),
        sorted([a, b], key=lambda r: r.run_id),
    ):
        mine = [s for s in spans if s.context.trace_id == root.context.trace_id]
        assert len(mine) == 6
        assert {s.attributes["agentic_nb.run_id"] for s in mine} == {result.run_id}


async def test_a_waiting_run_ends_its_span_and_a_resumed_drive_links_to_it(exporter) -> None:
    @executor(id="ask")
    async def ask(n: int, ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(n + await ctx.request_info("more?", response_type=int))

    run = WorkflowBuilder(name="asking", start=ask).build().start(40)
    first = await run.until_idle()
    assert first.status == "waiting"
    spans = exporter.get_finished_spans()
    w1 = by_name(spans, "invoke_workflow asking")
    assert w1.attributes["agentic_nb.status"] == "waiting"
    assert by_name(spans, "executor ask").attributes["agentic_nb.status"] == "waiting"
    done = await run.respond(first.pending_requests[0].request_id, 2)
    assert done.outputs == [42]
    roots = all_named(exporter.get_finished_spans(), "invoke_workflow asking")
    assert len(roots) == 2
    w2 = next(s for s in roots if s is not w1 and s.context.span_id != w1.context.span_id)
    assert w2.attributes["agentic_nb.status"] == "completed"
    assert [link.context.span_id for link in w2.links] == [w1.context.span_id]


async def test_uninstrument_stops_tracing_and_instrument_is_idempotent(exporter) -> None:
    assert is_instrumented()
    uninstrument()
    assert not is_instrumented()
    await build_plain().run("quiet")
    assert exporter.get_finished_spans() == ()
    run = build_plain().start("x")
    assert run._tracer is None


async def test_a_sub_workflow_run_nests_under_the_parent_executor(exporter) -> None:
    from agentic_nb import WorkflowExecutor

    @executor(id="inner_step")
    async def inner_step(text: str, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output(text + "!")

    child = WorkflowBuilder(name="child", start=inner_step).build()
    parent = WorkflowBuilder(name="parent", start=WorkflowExecutor(child, id="sub")).build()
    result = await parent.run("hey")
    assert result.status == "completed", result.error
    spans = exporter.get_finished_spans()
    child_root = by_name(spans, "invoke_workflow child")
    assert parent_of(spans, child_root) is by_name(spans, "executor sub")
    assert parent_of(spans, by_name(spans, "executor inner_step")).name == "superstep 0"


async def test_a_stepped_run_keeps_one_workflow_span_until_it_ends(exporter) -> None:
    run = build_plain().start("x")
    await run.step()
    assert all_named(exporter.get_finished_spans(), "invoke_workflow plain") == []
    await run.step()
    spans = exporter.get_finished_spans()
    root = by_name(spans, "invoke_workflow plain")
    assert [parent_of(spans, by_name(spans, f"superstep {n}")) for n in (0, 1)] == [root, root]


async def test_a_drive_cancelled_from_outside_ends_the_workflow_span_as_an_error(
    exporter,
) -> None:
    started = asyncio.Event()

    @executor(id="slow")
    async def slow(x: int, ctx: WorkflowContext[None, int]) -> None:
        started.set()
        await asyncio.sleep(30)

    run = WorkflowBuilder(name="slow", start=slow).build().start(1)
    task = asyncio.ensure_future(run.until_idle())
    await started.wait()
    task.cancel()  # the caller goes away (not run.cancel())
    try:
        await task
    except asyncio.CancelledError:
        pass
    root = by_name(exporter.get_finished_spans(), "invoke_workflow slow")
    assert root.status.status_code == StatusCode.ERROR
    assert root.attributes["error.type"] == "CancelledError"
