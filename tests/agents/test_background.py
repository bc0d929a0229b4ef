"""Background responses: tokens, polling, resumable streams, across a real process exit."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.agents import (
    AgentResponse,
    AgentRunUpdate,
    AgentThread,
    BaseAgent,
    ChatAgent,
    ContinuationToken,
    FileBackgroundStore,
    TokenError,
    poll,
    resume_stream,
    wait,
)
from agentic_nb.agents._background import start_background
from agentic_nb.llm import ChatMessage, ScriptedChatClient

WORKER = str(Path(__file__).with_name("background_worker.py"))


class Gate(BaseAgent):
    """Streams `n` chunks, waiting for `release` before the final answer."""

    def __init__(self, n: int = 3, fail: bool = False) -> None:
        super().__init__(name="gate")
        self.n, self.fail = n, fail
        self.release = asyncio.Event()

    async def _updates(
        self, messages: Any, *, thread: AgentThread | None, stream: bool, **options: Any
    ) -> AsyncIterator[AgentRunUpdate]:
        for i in range(1, self.n + 1):
            yield AgentRunUpdate(agent_id=self.id, text=f"c{i}")
        await self.release.wait()
        if self.fail:
            raise ValueError("model quota exceeded")
        response = AgentResponse([ChatMessage("assistant", "final")], agent_id=self.id)
        yield AgentRunUpdate(agent_id=self.id, done=True, response=response)


@pytest.fixture
def store(tmp_path: Path) -> FileBackgroundStore:
    return FileBackgroundStore(tmp_path / "bg")


async def test_background_run_returns_a_token_and_polls_to_completion(
    store: FileBackgroundStore,
) -> None:
    agent = Gate()
    token = await agent.run("go", background=True, background_store=store)
    assert isinstance(token, ContinuationToken) and token.agent == "gate"
    await asyncio.sleep(0.05)
    running = await poll(token)
    assert running.status == "running" and running.response is None
    agent.release.set()
    done = await wait(token, timeout=10)
    assert done.status == "completed"
    assert done.response is not None and done.response.text == "final"


async def test_token_is_printable_and_parses_back(store: FileBackgroundStore) -> None:
    agent = ChatAgent(ScriptedChatClient(["ok"]), name="w")
    token = await agent.run("x", background=True, background_store=store)
    text = str(token)
    assert text.startswith("agnb-bg1.") and " " not in text
    assert ContinuationToken.parse(text) == token
    assert (await wait(text, timeout=10)).response.text == "ok"  # type: ignore[union-attr]


async def test_resume_stream_after_a_chunk_follows_live_and_ends_done(
    store: FileBackgroundStore,
) -> None:
    agent = Gate(n=5)
    token = await agent.run("go", background=True, background_store=store)
    await asyncio.sleep(0.1)
    got: list[str] = []

    async def read() -> None:
        async for u in resume_stream(token, after=2):
            got.append("DONE:" + u.response.text if u.done and u.response else u.text)

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.2)
    assert got == ["c3", "c4", "c5"]  # what was missed, then it waits live
    agent.release.set()
    await asyncio.wait_for(reader, 10)
    assert got == ["c3", "c4", "c5", "DONE:final"]


async def test_a_failing_agent_is_reported_failed_with_its_reason(
    store: FileBackgroundStore,
) -> None:
    agent = Gate(fail=True)
    token = await agent.run("go", background=True, background_store=store)
    agent.release.set()
    status = await wait(token, timeout=10)
    assert status.status == "failed" and "model quota exceeded" in (status.error or "")
    with pytest.raises(RuntimeError, match="model quota exceeded"):
        async for _ in resume_stream(token):
            pass


async def test_unknown_malformed_and_expired_tokens_are_clear_errors(
    store: FileBackgroundStore,
) -> None:
    ghost = ContinuationToken("deadbeef", agent="nobody", store=store.location)
    with pytest.raises(TokenError, match="no background task 'deadbeef' of agent 'nobody'"):
        await poll(ghost)
    with pytest.raises(TokenError, match="not a continuation token"):
        await poll("hello")
    with pytest.raises(TokenError, match="damaged"):
        await poll("agnb-bg1.!!!")
    agent = ChatAgent(ScriptedChatClient(["ok"]), name="w")
    token = await agent.run("x", background=True, background_store=store)
    await wait(token, timeout=10)
    record = json.loads((store.root / token.token_id / "record.json").read_text())
    record["expires_at"] = 1.0
    (store.root / token.token_id / "record.json").write_text(json.dumps(record))
    with pytest.raises(TokenError, match="expired"):
        await poll(token)


async def test_token_from_a_process_that_finished_is_polled_after_it_exits(
    tmp_path: Path,
) -> None:
    out = subprocess.run(
        [sys.executable, WORKER, str(tmp_path / "bg"), "finish"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    token = out.stdout.strip().splitlines()[0]
    status = await poll(token)  # this process never ran it; the other one is gone
    assert status.status == "completed"
    assert status.response is not None and status.response.text == "counted to 5"
    chunks = [u.text async for u in resume_stream(token) if not u.done]
    assert chunks == ["1 ", "2 ", "3 ", "4 ", "5 "]


async def test_a_task_whose_process_died_is_failed_not_running_forever(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, WORKER, str(tmp_path / "bg"), "die"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 9
    token = proc.stdout.strip().splitlines()[0]
    status = await poll(token)
    assert status.status == "failed"
    assert "ended before it finished" in (status.error or "")


async def test_many_background_tasks_complete(store: FileBackgroundStore) -> None:
    agents = [ChatAgent(ScriptedChatClient([f"answer {i}"]), name=f"a{i}") for i in range(30)]
    tokens = [await a.run("q", background=True, background_store=store) for a in agents]
    results = await asyncio.gather(*(wait(t, timeout=30) for t in tokens))
    assert [r.response.text for r in results] == [f"answer {i}" for i in range(30)]  # type: ignore[union-attr]


async def test_a_workflow_runs_in_the_background_with_the_same_token(
    store: FileBackgroundStore,
) -> None:

    writer = ChatAgent(ScriptedChatClient(["a fine draft"]), name="writer")

    @executor(id="shout")
    async def shout(text: str, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output(text.upper())

    @executor(id="boom")
    async def boom(text: str, ctx: WorkflowContext[None, str]) -> None:
        raise RuntimeError("disk full")

    wf = WorkflowBuilder(name="drafting", start=writer).build()
    token = await wf.run("write", background=True, background_store=store)  # the same token
    status = await wait(str(token), timeout=30)
    assert status.status == "completed" and status.run_status == "completed"
    assert status.response is not None and "a fine draft" in status.response.text
    assert status.run_id and len(status.outputs) == 1
    chunks = [u.text async for u in resume_stream(token) if not u.done]
    assert "".join(chunks) == "a fine draft"

    plain = await start_background(
        WorkflowBuilder(name="shouter", start=shout).build(), "hi", store=store
    )
    done = await wait(plain, timeout=30)
    assert done.outputs == ["HI"] and done.response is not None and done.response.text == "HI"

    failing = await start_background(
        WorkflowBuilder(name="broken", start=boom).build(), "x", store=store
    )
    failed = await wait(failing, timeout=30)
    assert failed.status == "failed" and "disk full" in (failed.error or "")
