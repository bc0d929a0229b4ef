"""The specification's map: agent subjects, token metrics, executor KV keys (item 6)."""

from __future__ import annotations

import json
from typing import Any

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.agents import ChatAgent, tool
from agentic_nb.llm import ScriptedChatClient
from agentic_nb.nats import NatsEventSink
from agentic_nb.nats._mapping import event_subject
from agentic_nb.nats._streams import EVENTS_STREAM, METRICS_STREAM
from agentic_nb.nats._subjects import run_filter
from agentic_nb.workflow import RetryPolicy, WorkflowCompleted, WorkflowStarted

from .helpers import stream_count


@tool
def weather(city: str) -> str:
    """Current weather of a city."""
    return f"sunny in {city}"


async def _subjects(js: Any, stream: str, filt: str, n: int) -> list[Any]:
    sub = await js.subscribe(filt, stream=stream, ordered_consumer=True)
    msgs = [await sub.next_msg(2) for _ in range(n)]
    await sub.unsubscribe()
    return msgs


async def test_agent_events_use_the_agent_family_and_tokens_reach_metrics(nc: Any) -> None:
    client = ScriptedChatClient(
        [ScriptedChatClient.calls(("weather", {"city": "Oslo"})), "It is sunny in Oslo."]
    )
    agent = ChatAgent(client, "Answer with the tools.", name="meteo", tools=[weather])
    wf = WorkflowBuilder(name="agentic", start=agent).build()
    sink = await NatsEventSink(nc).start()
    result = await wf.run("Weather in Oslo?", event_sinks=[sink])
    await sink.flush()
    assert result.status == "completed"
    js = nc.jetstream()
    run = result.run_id
    msgs = await _subjects(js, EVENTS_STREAM, run_filter(run), len(result.events))
    subjects = [m.subject for m in msgs]
    agent_subjects = {s for s in subjects if s.startswith("agentic.agent.")}
    assert f"agentic.agent.{run}.meteo.tool_call" in agent_subjects, subjects
    assert f"agentic.agent.{run}.meteo.response" in agent_subjects, subjects
    assert not [s for s in subjects if s.endswith(".event.AgentRunUpdate")]
    assert await stream_count(js, run) == len(result.events)
    info = await js.stream_info(METRICS_STREAM, subjects_filter=f"agentic.metrics.{run}.tokens.>")
    assert sum((info.state.subjects or {}).values()) == 1
    tokens = await _subjects(js, METRICS_STREAM, f"agentic.metrics.{run}.tokens.>", 1)
    body = json.loads(tokens[0].data)
    assert body["agent"] and body["total_tokens"] > 0
    assert body["total_tokens"] == body["input_tokens"] + body["output_tokens"]
    durations = await js.stream_info(
        METRICS_STREAM, subjects_filter=f"agentic.metrics.{run}.executor.>"
    )
    assert sum((durations.state.subjects or {}).values()) >= 1
    await sink.aclose()


async def test_executor_state_attempts_and_errors_in_kv(nc: Any) -> None:
    calls = {"n": 0}

    @executor(id="flaky", retry=RetryPolicy(max_attempts=3, backoff=0.0))
    async def flaky(x: int, ctx: WorkflowContext[None, int]) -> None:
        calls["n"] += 1
        if calls["n"] < 3:
            raise RuntimeError(f"boom {calls['n']}")
        await ctx.yield_output(x)

    sink = await NatsEventSink(nc).start()
    result = await WorkflowBuilder(start=flaky).build().run(7, event_sinks=[sink])
    await sink.aclose()
    assert result.outputs == [7]
    kv = await nc.jetstream().key_value("agentic_executors")
    run = result.run_id

    async def get(leaf: str) -> Any:
        return json.loads((await kv.get(f"executor.{run}.flaky.{leaf}")).value)

    assert (await get("state"))["status"] == "completed"
    attempts = (await get("attempts"))["attempts"]
    assert [a["status"] for a in attempts] == ["retrying", "retrying", "completed"]
    errors = (await get("errors"))["errors"]
    assert [e["error"] for e in errors] == ["boom 1", "boom 2"]
    assert all(e["error_type"] == "RuntimeError" for e in errors)


def test_a_child_workflow_under_an_agent_uses_agent_workflow_subjects() -> None:
    own, agents = {"planner", "fin"}, {"planner"}
    started = WorkflowStarted(run_id="r", executor_id="planner")
    done = WorkflowCompleted(run_id="r", executor_id="planner")
    assert event_subject(started, own, agents) == "agentic.agent.r.planner.workflow.started"
    assert event_subject(done, own, agents) == "agentic.agent.r.planner.workflow.completed"
    assert event_subject(done, own) == "agentic.executor.r.planner.workflow.completed"
    assert (
        event_subject(WorkflowCompleted(run_id="r"), own, agents) == "agentic.workflow.r.completed"
    )
