"""Agents as executors, workflows as agents, composition, requests, WorkflowAgent routing."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.agents import (
    Agent,
    AgentExecutor,
    AgentExecutorResponse,
    AgentResponse,
    AgentRunUpdate,
    AgentUsage,
    ChatAgent,
    WorkflowAgent,
    tool,
)
from agentic_nb.llm import ChatClientError, ChatMessage, ScriptedChatClient
from agentic_nb.workflow import (
    ExecutorCompleted,
    RequestInfo,
    WorkflowEvent,
    register_checkpoint_type,
)
from agentic_nb.workflow.codec import dumps, loads


def writer_reviewer() -> tuple[ChatAgent, ChatAgent]:
    writer = ChatAgent(
        ScriptedChatClient(["Waves fold on grey stone."], chunk_size=5),
        "Write one line.",
        name="writer",
    )
    reviewer = ChatAgent(
        ScriptedChatClient(["Vivid. 8/10."], chunk_size=4), "Review it.", name="reviewer"
    )
    return writer, reviewer


async def test_agents_given_to_the_builder_become_executors() -> None:
    writer, reviewer = writer_reviewer()
    wf = WorkflowBuilder(name="wr", start=writer).add_edge(writer, reviewer).build()
    assert [type(e).__name__ for e in wf.executors] == ["AgentExecutor", "AgentExecutor"]
    assert [e.id for e in wf.executors] == ["writer", "reviewer"]
    result = await wf.run("Write about the sea")
    assert result.status == "completed"
    [out] = result.outputs
    assert isinstance(out, AgentResponse) and out.text == "Vivid. 8/10."
    # The reviewer saw the task and the writer's line (as a user message from 'writer').
    seen = reviewer.client.requests[0].messages  # type: ignore[attr-defined]
    assert [(m.role, m.author_name, m.text) for m in seen] == [
        ("system", None, "Review it."),
        ("user", None, "Write about the sea"),
        ("user", "writer", "Waves fold on grey stone."),
    ]


async def test_tokens_stream_into_the_workflow_event_stream_live() -> None:
    writer, reviewer = writer_reviewer()
    wf = WorkflowBuilder(name="wr", start=writer).add_edge(writer, reviewer).build()
    events: list[WorkflowEvent] = [ev async for ev in wf.run_stream("sea")]
    updates = [e for e in events if isinstance(e, AgentRunUpdate)]
    by_exec: dict[str, str] = {}
    for u in updates:
        if not u.done:
            by_exec[u.executor_id or ""] = by_exec.get(u.executor_id or "", "") + u.text
    assert by_exec == {"writer": "Waves fold on grey stone.", "reviewer": "Vivid. 8/10."}
    assert len([u for u in updates if u.executor_id == "writer" and u.text]) >= 4
    # Chunks arrive before the writer's executor completes (they are not batched at the end).
    first_chunk = next(i for i, e in enumerate(events) if isinstance(e, AgentRunUpdate))
    writer_done = next(
        i
        for i, e in enumerate(events)
        if isinstance(e, ExecutorCompleted) and e.executor_id == "writer"
    )
    assert first_chunk < writer_done
    usage = [e for e in events if isinstance(e, AgentUsage)]
    assert [u.agent_id for u in usage] == ["writer", "reviewer"]
    assert all(u.total_tokens > 0 for u in usage)
    assert updates[-1].type == "AgentRunUpdate" and updates[-1].done


async def test_executor_inputs_and_output_modes() -> None:
    echo = ChatAgent(ScriptedChatClient(["a", "b", "c"]), name="echo")
    ex = AgentExecutor(echo, id="e1", output_response=True)
    wf = WorkflowBuilder(start=ex).build()
    assert (await wf.run("text")).outputs[0].text == "a"
    assert (await wf.run(ChatMessage.user("msg"))).outputs[0].text == "b"
    r = await wf.run([ChatMessage.system("s"), ChatMessage.user("list")])
    assert r.outputs[0].text == "c"
    assert [m.text for m in echo.client.requests[2].messages] == ["s", "list"]  # type: ignore[attr-defined]

    collected: list[AgentExecutorResponse] = []

    @executor
    def sink(resp: AgentExecutorResponse, ctx: WorkflowContext[None, str]) -> None:
        collected.append(resp)
        ctx.yield_output(resp.text)

    talker = ChatAgent(ScriptedChatClient(["hello"]), name="talker")
    wf2 = WorkflowBuilder(start=talker).add_edge(talker, sink).build()
    assert (await wf2.run("hi")).outputs == ["hello"]
    [resp] = collected
    assert resp.executor_id == "talker"
    assert [m.text for m in resp.full_conversation] == ["hi", "hello"]


async def test_agent_messages_survive_the_checkpoint_codec() -> None:
    @tool
    def f(x: int) -> int:
        """Identity."""
        return x

    agent = ChatAgent(
        ScriptedChatClient([ScriptedChatClient.calls(("f", {"x": 1})), "ok"]), name="a", tools=[f]
    )
    resp = await agent.run("go")
    msg = AgentExecutorResponse("a", resp, [ChatMessage.user("go"), *resp.messages])
    back = loads(dumps(msg))
    assert back == msg
    upd = AgentRunUpdate(text="x", agent_id="a", done=True, response=resp)
    assert loads(dumps(upd)).response == resp


async def test_a_failing_model_fails_the_executor_with_a_clear_error() -> None:
    bad = ChatAgent(
        ScriptedChatClient([ChatClientError("scripted", "m", "boom", hint="fix it")]), name="bad"
    )
    result = await WorkflowBuilder(start=bad).build().run("hi")
    assert result.status == "failed"
    assert "scripted model 'm': boom; fix it" in (result.error or "")


# ------------------------------------------------------------ workflow as agent


@executor
def shout(text: str, ctx: WorkflowContext[None, str]) -> None:
    ctx.yield_output(text.upper() + "!")


async def test_workflow_as_agent_run_and_stream() -> None:
    writer, reviewer = writer_reviewer()
    wf = WorkflowBuilder(name="content", start=writer).add_edge(writer, reviewer).build()
    agent = wf.as_agent("Content Pipeline")
    assert isinstance(agent, Agent) and agent.name == "Content Pipeline"
    thread = agent.new_thread()
    r = await agent.run("Write about the sea", thread=thread)
    assert r.text == "Vivid. 8/10." and r.status == "completed"
    assert r.usage.total_tokens > 0
    assert [m.text for m in thread.messages] == ["Write about the sea", "Vivid. 8/10."]

    writer2, reviewer2 = writer_reviewer()
    wf2 = WorkflowBuilder(name="content", start=writer2).add_edge(writer2, reviewer2).build()
    updates = [u async for u in wf2.as_agent("cp").run_stream("sea")]
    authors = {u.author_name for u in updates if u.text}
    assert authors == {"writer", "reviewer"}
    assert updates[-1].done and updates[-1].response is not None
    assert updates[-1].response.text == "Vivid. 8/10."


async def test_workflow_as_agent_with_non_text_outputs() -> None:
    @executor
    def measure(text: str, ctx: WorkflowContext[None, int]) -> None:
        ctx.yield_output(len(text))

    agent = WorkflowBuilder(name="len", start=measure).build().as_agent()
    r = await agent.run([ChatMessage.system("ignored"), ChatMessage.user("four")])
    assert r.value == 4 and r.text == "4"


@register_checkpoint_type
@dataclass
class Approval:
    draft: str


@executor(id="gate")
async def gate(text: str, ctx: WorkflowContext[None, str]) -> None:
    ok = await ctx.request_info(Approval(draft=text), response_type=bool)
    await ctx.yield_output(f"published: {text}" if ok else "rejected")


async def test_pending_requests_surface_in_the_agent_response() -> None:
    agent = WorkflowBuilder(name="publish", start=gate).build().as_agent("Publisher")
    r = await agent.run("my post")
    assert r.status == "waiting" and r.text == ""
    [req] = r.pending_requests
    assert req.request == Approval(draft="my post") and req.response_type_name == "bool"
    assert "agent.respond" in r.status_detail
    done = await agent.respond(req.request_id, True)
    assert done.status == "completed" and done.text == "published: my post"
    with pytest.raises(KeyError, match="no pending request"):
        await agent.respond(req.request_id, True)


async def test_composition_workflow_of_workflow_agents_is_an_agent() -> None:
    writer, reviewer = writer_reviewer()
    writing = WorkflowBuilder(name="writing", start=writer).add_edge(writer, reviewer).build()

    @executor(id="stamp")
    def stamp(resp: AgentExecutorResponse, ctx: WorkflowContext[None, str]) -> None:
        ctx.yield_output(f"[{resp.executor_id}] {resp.text}")

    upper = WorkflowBuilder(name="upper", start=shout).build()
    writing_agent = writing.as_agent("Writing")
    upper_agent = upper.as_agent("Upper")
    meta = (
        WorkflowBuilder(name="meta", start=writing_agent)
        .add_edge(writing_agent, upper_agent)
        .add_edge(upper_agent, stamp)
        .build()
    )
    super_agent = meta.as_agent("Super Pipeline")
    r = await super_agent.run("sea")
    assert r.text == "[Upper] VIVID. 8/10.!"
    # The inner agents' chunks reach the outermost stream, tagged with their authors.
    writer2, reviewer2 = writer_reviewer()
    writing2 = WorkflowBuilder(name="writing", start=writer2).add_edge(writer2, reviewer2).build()
    w2 = writing2.as_agent("Writing")
    meta2 = WorkflowBuilder(name="meta2", start=w2).build()
    events = [ev async for ev in meta2.run_stream("sea")]
    inner = [e for e in events if isinstance(e, AgentRunUpdate) and e.text and not e.done]
    assert {e.author_name for e in inner} >= {"writer", "reviewer"}


async def test_requests_inside_a_workflow_agent_surface_on_the_enclosing_run() -> None:
    publisher = WorkflowBuilder(name="publish", start=gate).build().as_agent("Publisher")

    @executor(id="after")
    def after(resp: AgentExecutorResponse, ctx: WorkflowContext[None, str]) -> None:
        ctx.yield_output(resp.text)

    outer = WorkflowBuilder(name="outer", start=publisher).add_edge(publisher, after).build()
    run = outer.start("draft 1")
    result = await run.until_idle()
    assert result.status == "waiting"
    [pending] = run.pending_requests
    assert pending.executor_id == "Publisher" and pending.request == Approval(draft="draft 1")
    assert any(isinstance(e, RequestInfo) for e in run.events)
    final = await run.respond(pending.request_id, True)
    assert final.status == "completed" and final.outputs == ["published: draft 1"]


# ---------------------------------------------------------------- WorkflowAgent


def builder_workflow() -> object:
    @executor(id="build")
    def build(text: str, ctx: WorkflowContext[None, str]) -> None:
        ctx.yield_output(f"built<{text}>")

    return WorkflowBuilder(name="builder", start=build, description="builds software").build()


async def test_workflow_agent_routes_with_a_function() -> None:
    decisions: list[str] = []

    async def needs_build(conversation: list[ChatMessage]) -> bool:
        decisions.append(conversation[-1].text)
        return conversation[-1].text.startswith("/build")

    agent = WorkflowAgent(
        ScriptedChatClient(["Hello there."]),
        builder_workflow(),
        name="dev",
        decide=needs_build,  # type: ignore[arg-type]
    )
    thread = agent.new_thread()
    a = await agent.run("hi", thread=thread)
    b = await agent.run("/build a parser", thread=thread)
    assert (a.text, a.metadata["route"]) == ("Hello there.", "self")
    assert (b.text, b.metadata["route"]) == ("built</build a parser>", "workflow")
    assert a.agent_id == b.agent_id == "dev"
    assert [m.text for m in thread.messages] == [
        "hi",
        "Hello there.",
        "/build a parser",
        "built</build a parser>",
    ]
    assert decisions == ["hi", "/build a parser"]


async def test_workflow_agent_routes_by_model_structured_output() -> None:
    client = ScriptedChatClient(
        [
            '{"delegate": false, "reason": "small talk"}',
            "Hi! How can I help?",
            '{"delegate": true, "reason": "asks for software"}',
        ]
    )
    agent = WorkflowAgent(client, builder_workflow(), name="dev")  # type: ignore[arg-type]
    a = await agent.run("hello")
    b = await agent.run("Create a CSV parser")
    assert (a.text, a.metadata) == ("Hi! How can I help?", a.metadata)
    assert a.metadata["route"] == "self" and a.metadata["reason"] == "small talk"
    assert b.metadata["route"] == "workflow" and b.text == "built<Create a CSV parser>"
    routing = client.requests[0]
    assert routing.response_format is not None
    assert routing.response_format.schema["required"] == ["delegate", "reason"]
    assert "builds software" in routing.messages[0].text


async def test_fan_out_to_agents_and_fan_in_to_a_judge() -> None:
    poet = ChatAgent(ScriptedChatClient(["Roses."]), name="poet")
    critic = ChatAgent(ScriptedChatClient(["Too short."]), name="critic")
    judge = ChatAgent(ScriptedChatClient(["The critic is right."]), "Judge.", name="judge")

    @executor(id="start")
    def start(task: str, ctx: WorkflowContext[str]) -> None:
        ctx.send_message(task)

    wf = (
        WorkflowBuilder(name="panel", start=start)
        .add_fan_out(start, [poet, critic])
        .add_fan_in([poet, critic], judge)
        .build()
    )
    result = await wf.run("A poem about roses")
    assert result.status == "completed" and result.outputs[0].text == "The critic is right."
    seen = judge.client.requests[0].messages  # type: ignore[attr-defined]
    assert [(m.role, m.author_name, m.text) for m in seen] == [
        ("system", None, "Judge."),
        ("user", None, "A poem about roses"),
        ("user", "poet", "Roses."),
        ("user", "critic", "Too short."),
    ]


async def test_a_thread_of_another_agent_is_refused() -> None:
    a = ChatAgent(ScriptedChatClient(["x"]), name="a")
    b = ChatAgent(ScriptedChatClient(["y"]), name="b")
    with pytest.raises(ValueError, match="belongs to agent 'a', not 'b'"):
        await b.run("hi", thread=a.new_thread())


async def test_executor_options_reach_the_engine() -> None:
    from agentic_nb.workflow import RetryPolicy

    flaky = ChatAgent(
        ScriptedChatClient([ChatClientError("scripted", "m", "blip"), "recovered"]), name="flaky"
    )
    ex = flaky.as_executor("flaky_retry", retry=RetryPolicy(max_attempts=2))
    result = await WorkflowBuilder(start=ex).build().run("go")
    assert result.status == "completed" and result.outputs[0].text == "recovered"
