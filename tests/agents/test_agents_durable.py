"""Agent messages in checkpoints (JSON on disk) and a resumed run after a 'restart';
agents used as tools of other agents."""

from __future__ import annotations

from pathlib import Path

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.agents import AgentExecutorResponse, AgentResponse, ChatAgent
from agentic_nb.llm import ScriptedChatClient
from agentic_nb.workflow import FileCheckpointStorage


def build(store: FileCheckpointStorage, writer_script: list, reviewer_script: list):  # type: ignore[no-untyped-def]
    writer = ChatAgent(ScriptedChatClient(writer_script), "Write.", name="writer")
    reviewer = ChatAgent(ScriptedChatClient(reviewer_script), "Review.", name="reviewer")

    @executor(id="editor")
    async def editor(
        draft: AgentExecutorResponse, ctx: WorkflowContext[AgentExecutorResponse]
    ) -> None:
        ok = await ctx.request_info(f"publish this draft? {draft.text}", response_type=bool)
        if ok:
            await ctx.send_message(draft)

    wf = (
        WorkflowBuilder(name="durable_review", start=writer, checkpoint_storage=store)
        .add_edge(writer, editor)
        .add_edge(editor, reviewer)
        .build()
    )
    return wf, writer, reviewer


async def test_agent_run_survives_a_restart_through_file_checkpoints(tmp_path: Path) -> None:
    store = FileCheckpointStorage(str(tmp_path))
    wf, _writer, _ = build(store, ["A quiet harbour at dawn."], [])
    first = await wf.run("Write about a harbour")
    assert first.status == "waiting"
    [req] = first.pending_requests
    assert "A quiet harbour at dawn." in req.request
    assert any(p.suffix == ".json" for p in tmp_path.rglob("*")), "checkpoints are JSON files"

    # "Restart": new agents, new workflow object; the writer must not be asked again.
    wf2, writer2, reviewer2 = build(store, [], ["Calm and precise."])
    run = await wf2.resume(first.run_id)
    done = await run.respond(req.request_id, True)
    assert done.status == "completed"
    [out] = done.outputs
    assert isinstance(out, AgentResponse) and out.text == "Calm and precise."
    assert writer2.client.requests == []  # type: ignore[attr-defined]
    seen = reviewer2.client.requests[0].messages  # type: ignore[attr-defined]
    assert [(m.role, m.author_name, m.text) for m in seen][-1] == (
        "user",
        "writer",
        "A quiet harbour at dawn.",
    )


async def test_an_agent_can_be_the_tool_of_another_agent() -> None:
    translator = ChatAgent(
        ScriptedChatClient(["Bonjour le monde"]), "Translate to French.", name="translator"
    )
    boss = ChatAgent(
        ScriptedChatClient(
            [
                ScriptedChatClient.calls(("translator", {"task": "Hello world"})),
                "Done: Bonjour le monde",
            ]
        ),
        name="boss",
        tools=[translator.as_tool(description="Translate text to French.")],
    )
    r = await boss.run("Translate 'Hello world'")
    assert r.tool_results[0].result == "Bonjour le monde"
    spec = boss.client.requests[0].tools[0]  # type: ignore[attr-defined]
    assert spec.name == "translator" and spec.parameters["required"] == ["task"]
    assert translator.client.requests[0].messages[-1].text == "Hello world"  # type: ignore[attr-defined]
