"""SequentialBuilder: order, shared history, transform, early exit, failures, workflow traits."""

from __future__ import annotations

import asyncio

import pytest

from agentic_nb.agents import AgentResponse
from agentic_nb.llm import ChatMessage
from agentic_nb.patterns import SequentialBuilder
from agentic_nb.workflow import InMemoryCheckpointStorage, Workflow

from ._helpers import (
    agent,
    check_as_agent,
    failed_executors,
    only_output,
    requests,
    said,
    streamed_by,
)


def trio() -> tuple:
    return (
        agent("writer", ["Ride far."], "Write."),
        agent("reviewer", ["Add emotion."], "Review."),
        agent("polisher", ["Ride far, feel free."], "Polish."),
    )


async def test_each_agent_sees_the_whole_conversation_so_far() -> None:
    writer, reviewer, polisher = trio()
    wf = SequentialBuilder([writer, reviewer, polisher], name="tagline").build()
    out = only_output(await wf.run("Tagline for an eBike"))
    assert isinstance(out, AgentResponse)
    assert said(out) == [
        ("writer", "Ride far."),
        ("reviewer", "Add emotion."),
        ("polisher", "Ride far, feel free."),
    ]
    assert out.text == "Ride far, feel free."
    assert out.metadata["stop_reason"] == "done" and out.metadata["rounds"] == 3
    assert out.usage.total_tokens > 0
    assert requests(writer) == [
        [("system", None, "Write."), ("user", None, "Tagline for an eBike")]
    ]
    assert requests(polisher) == [
        [
            ("system", None, "Polish."),
            ("user", None, "Tagline for an eBike"),
            ("user", "writer", "Ride far."),
            ("user", "reviewer", "Add emotion."),
        ]
    ]


async def test_accepts_messages_and_a_single_participant() -> None:
    solo = agent("solo", ["ok"])
    wf = SequentialBuilder([solo]).build()
    out = only_output(await wf.run([ChatMessage.user("a"), ChatMessage.user("b")]))
    assert out.text == "ok"
    assert [t for _, _, t in requests(solo)[0]] == ["a", "b"]


async def test_transform_rewrites_what_the_next_agent_sees() -> None:
    a, b = agent("a", ["first"]), agent("b", ["second"])

    async def summarise(convo: list[ChatMessage]) -> list[ChatMessage]:
        return [*convo, ChatMessage.assistant(f"Summary: {len(convo)} messages", author_name="sum")]

    wf = SequentialBuilder([a, b]).with_transform(summarise).build()
    out = only_output(await wf.run("go"))
    assert said(out) == [("a", "first"), ("sum", "Summary: 2 messages"), ("b", "second")]
    assert requests(b)[0][-1] == ("user", "sum", "Summary: 2 messages")


async def test_transform_returning_the_wrong_type_fails_with_a_clear_error() -> None:
    wf = SequentialBuilder([agent("a", ["x"]), agent("b", ["y"])]).with_transform(len).build()
    result = await wf.run("go")
    assert result.status == "failed"
    assert "transform after 'a' returned int" in (result.error or "")


async def test_early_exit_skips_the_rest_of_the_chain() -> None:
    writer, reviewer, polisher = (
        agent("writer", ["draft"]),
        agent("reviewer", ["approved"]),
        agent("polisher", ["never"]),
    )
    wf = (
        SequentialBuilder([writer, reviewer, polisher])
        .with_early_exit(lambda msgs: "approved" in msgs[-1].text)
        .build()
    )
    out = only_output(await wf.run("go"))
    assert out.metadata["stop_reason"] == "early_exit"
    assert out.metadata["exited_after"] == "reviewer"
    assert said(out) == [("writer", "draft"), ("reviewer", "approved")]
    assert requests(polisher) == []


async def test_a_failing_participant_fails_the_run_and_is_named() -> None:
    a, b, c = agent("a", ["fine"]), agent("b", [RuntimeError("model down")]), agent("c", ["x"])
    result = await SequentialBuilder([a, b, c]).build().run("go")
    assert result.status == "failed"
    assert failed_executors(result) == ["b"]
    assert "model down" in (result.error or "")
    assert requests(c) == []


async def test_is_a_normal_workflow_that_streams_and_acts_as_an_agent() -> None:
    writer, reviewer, polisher = trio()
    wf = SequentialBuilder([writer, reviewer, polisher], name="chain").build()
    assert isinstance(wf, Workflow)
    assert [e.id for e in wf.executors] == ["writer", "reviewer", "polisher"]
    assert wf.start_executor_id == "writer"
    assert "writer" in wf.to_dot() and "polisher" in wf.to_dot()
    result = await wf.run("go")
    assert streamed_by(result) == {"writer", "reviewer", "polisher"}
    writer2, reviewer2, polisher2 = trio()
    await check_as_agent(
        SequentialBuilder([writer2, reviewer2, polisher2]).build(), "go", "Ride far, feel free."
    )


async def test_the_conversation_is_in_checkpoints_so_a_fork_continues_it() -> None:
    storage = InMemoryCheckpointStorage()
    writer = agent("writer", ["Ride far."])
    reviewer = agent("reviewer", ["v1 review", "v2 review"])
    wf = SequentialBuilder([writer, reviewer]).build(checkpoint_storage=storage)
    done = await wf.run("go")
    assert only_output(done).text == "v1 review"
    [info] = [c for c in await storage.list(done.run_id) if c.superstep == 1]
    before_review = await storage.get(info.checkpoint_id)
    assert before_review is not None
    [queued] = before_review.decoded_queue()
    assert queued["target"] == "reviewer"
    assert [m.text for m in queued["message"].conversation] == ["go", "Ride far."]
    forked = await wf.fork(before_review.checkpoint_id).until_idle()
    assert said(only_output(forked)) == [("writer", "Ride far."), ("reviewer", "v2 review")]
    assert len(requests(writer)) == 1  # the writer did not run again


async def test_one_workflow_serves_concurrent_runs() -> None:
    a = agent("a", ["a1", "a2"])
    b = agent("b", [lambda req: f"seen {req.messages[-1].text}"] * 2)
    wf = SequentialBuilder([a, b]).build()
    r1, r2 = await asyncio.gather(wf.run("one"), wf.run("two"))
    assert sorted([only_output(r1).text, only_output(r2).text]) == ["seen a1", "seen a2"]
    # Each run kept its own conversation: each answer follows its own input.
    for r in (r1, r2):
        out = only_output(r)
        assert out.messages[1].text == f"seen {out.messages[0].text}"


def test_bad_participants_are_rejected_with_clear_errors() -> None:
    with pytest.raises(ValueError, match="at least 1 participant"):
        SequentialBuilder([])
    with pytest.raises(TypeError, match="participant 0 is 'x', not an agent"):
        SequentialBuilder(["x"])
    with pytest.raises(ValueError, match=r"two participants are named \['a'\]"):
        SequentialBuilder([agent("a", []), agent("a", [])])
    with pytest.raises(TypeError, match="with_early_exit needs a callable"):
        SequentialBuilder([agent("a", [])]).with_early_exit("yes")  # type: ignore[arg-type]


async def test_run_stream_yields_token_chunks_live_before_the_output() -> None:
    writer, reviewer, polisher = trio()
    wf = SequentialBuilder([writer, reviewer, polisher]).build()
    kinds = [
        (type(ev).__name__, ev.executor_id)
        async for ev in wf.run_stream("go")
        if type(ev).__name__ in ("AgentRunUpdate", "Output")
    ]
    first_chunk = kinds.index(("AgentRunUpdate", "writer"))
    assert (
        first_chunk
        < kinds.index(("AgentRunUpdate", "polisher"))
        < kinds.index(("Output", "polisher"))
    )
    assert kinds[-1] == ("Output", "polisher")
