"""Checkpoints, resume with journal replay, forks, and durable human-in-the-loop."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentic_nb import Executor, RetryPolicy, WorkflowBuilder, WorkflowContext, executor, handler
from agentic_nb.workflow import (
    CheckpointSaved,
    CodecError,
    ExecutorCompleted,
    FileCheckpointStorage,
    GraphMismatchError,
    InMemoryCheckpointStorage,
    Log,
    RequestError,
    RunStateError,
    WorkflowEvent,
    register_checkpoint_type,
)


@register_checkpoint_type
@dataclass
class Ticket:
    id: int
    title: str


def counting_chain(calls: Counter[str], storage: Any, n: int = 5) -> Any:
    def make(i: int) -> Any:
        @executor(id=f"s{i}")
        async def step(x: int, ctx: WorkflowContext[int, int]) -> None:
            calls[f"s{i}"] += 1
            if i == n - 1:
                await ctx.yield_output(x + 1)
            else:
                await ctx.send_message(x + 1)

        return step

    steps = [make(i) for i in range(n)]
    return (
        WorkflowBuilder(name="chain", start=steps[0], checkpoint_storage=storage)
        .add_chain(steps)
        .build()
    )


async def test_a_checkpoint_at_every_superstep_boundary() -> None:
    store = InMemoryCheckpointStorage()
    calls: Counter[str] = Counter()
    result = await counting_chain(calls, store).run(0)
    infos = await store.list(result.run_id)
    assert [i.superstep for i in infos] == [0, 1, 2, 3, 4, 5]
    assert infos[-1].status == "completed"
    assert len(result.events.of_type(CheckpointSaved)) == 6
    # Parent links form one chain.
    assert infos[0].parent_id is None
    assert [i.parent_id for i in infos[1:]] == [i.checkpoint_id for i in infos[:-1]]


async def test_checkpoint_every_n_and_off() -> None:
    store = InMemoryCheckpointStorage()

    @executor(id="loop")
    async def loop(x: int, ctx: WorkflowContext[int, int]) -> None:
        if x < 6:
            await ctx.send_message(x + 1)
        else:
            await ctx.yield_output(x)

    wf = (
        WorkflowBuilder(start=loop, checkpoint_storage=store, checkpoint_every=3)
        .add_edge(loop, loop)
        .build()
    )
    r = await wf.run(0)
    assert r.outputs == [6]
    assert [i.superstep for i in await store.list(r.run_id)] == [0, 3, 6, 7]

    off = WorkflowBuilder(start=loop, checkpoint_storage=store, checkpoint_every=None)
    r2 = await off.add_edge(loop, loop).build().run(0)
    assert [i.superstep for i in await store.list(r2.run_id)] == [0]


async def test_checkpoint_holds_queue_fan_in_state_and_executor_state() -> None:
    store = InMemoryCheckpointStorage()

    class Counter_(Executor):
        def __init__(self) -> None:
            super().__init__(id="counter")
            self.seen = 0

        @handler
        async def count(self, t: Ticket, ctx: WorkflowContext[Ticket]) -> None:
            self.seen += 1
            await ctx.set_state("last", t)
            await ctx.send_message(t)

        def on_checkpoint_save(self) -> dict[str, Any]:
            return {"seen": self.seen}

        def on_checkpoint_restore(self, state: dict[str, Any]) -> None:
            self.seen = state["seen"]

    @executor(id="fast")
    async def fast(t: Ticket, ctx: WorkflowContext[str]) -> None:
        await ctx.send_message(f"fast {t.id}")

    @executor(id="slow1")
    async def slow1(t: Ticket, ctx: WorkflowContext[Ticket]) -> None:
        await ctx.send_message(t)

    @executor(id="slow2")
    async def slow2(t: Ticket, ctx: WorkflowContext[str]) -> None:
        await ctx.send_message(f"slow {t.title}")

    @executor(id="join")
    async def join(items: list[str], ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output(" & ".join(items))

    counter = Counter_()
    wf = (
        WorkflowBuilder(name="ck", start=counter, checkpoint_storage=store)
        .add_fan_out(counter, [fast, slow1])
        .add_edge(slow1, slow2)
        .add_fan_in([fast, slow2], join)
        .build()
    )
    run = wf.start(Ticket(7, "seven"))
    await run.step()  # counter
    await run.step()  # fast + slow1: fast's message waits in the fan-in buffer
    cp = await store.latest(run.run_id)
    assert cp is not None and cp.superstep == 2
    assert cp.decoded_state() == {"last": Ticket(7, "seven")}
    assert cp.fan_in["fan_in[fast|slow2]->join"] == {"fast": ["fast 7"], "slow2": []}
    assert cp.decoded_queue() == [
        {
            "target": "slow2",
            "source": "slow1",
            "edge": "slow1->slow2",
            "message": Ticket(7, "seven"),
        }
    ]
    assert cp.executor_states == {"counter": {"seen": 1}}
    assert counter.seen == 0  # the run counts on its own copy
    counter.seen = 99
    resumed = await wf.resume(run.run_id)
    assert resumed.executor("counter").seen == 1  # restored from the checkpoint
    assert counter.seen == 99
    assert (await resumed.until_idle()).outputs == ["fast 7 & slow seven"]


async def test_unknown_type_fails_at_save_time_naming_the_path() -> None:
    class Opaque:
        pass

    @executor(id="make")
    async def make(x: int, ctx: WorkflowContext[Any]) -> None:
        await ctx.send_message({"payload": [Opaque()]})

    @executor(id="sink")
    async def sink(x: Any, ctx: WorkflowContext[None]) -> None:
        return None

    store = InMemoryCheckpointStorage()
    wf = WorkflowBuilder(start=make, checkpoint_storage=store).add_edge(make, sink).build()
    result = await wf.run(1)
    assert result.status == "failed"
    assert "Opaque" in (result.error or "")
    assert "register_checkpoint_type" in (result.error or "")
    with pytest.raises(CodecError, match=r"\$\.payload\[0\]"):
        from agentic_nb.workflow.codec import encode

        encode({"payload": [Opaque()]})


async def test_resume_after_interruption_never_reruns_finished_tasks(tmp_path: Path) -> None:
    store = FileCheckpointStorage(tmp_path)
    calls: Counter[str] = Counter()
    run = counting_chain(calls, store).start(0)
    await run.step()
    await run.step()
    # The process "dies" here: only the storage survives.
    calls_before = dict(calls)
    resumed = await counting_chain(calls, store).resume(run.run_id)
    result = await resumed.until_idle()
    assert result.status == "completed" and result.outputs == [5]
    assert calls_before == {"s0": 1, "s1": 1}
    assert calls == Counter({f"s{i}": 1 for i in range(5)})


async def test_finished_tasks_of_an_interrupted_superstep_are_replayed_not_rerun() -> None:
    store = InMemoryCheckpointStorage()
    calls: Counter[str] = Counter()
    block = asyncio.Event()

    def build(blocking: bool) -> Any:
        @executor(id="split")
        async def split(n: int, ctx: WorkflowContext[int]) -> None:
            calls["split"] += 1
            await ctx.send_message(n)

        def worker(name: str, hang: bool) -> Any:
            @executor(id=name)
            async def work(n: int, ctx: WorkflowContext[str]) -> None:
                if hang and blocking:
                    await block.wait()
                calls[name] += 1
                await ctx.set_state(name, n)
                await ctx.send_message(f"{name}:{n}")

            return work

        a, b, c = worker("a", False), worker("b", True), worker("c", False)

        @executor(id="join")
        async def join(parts: list[str], ctx: WorkflowContext[None, str]) -> None:
            calls["join"] += 1
            await ctx.yield_output(",".join(parts) + f" a={ctx.get_state('a')}")

        return (
            WorkflowBuilder(name="pw", start=split, checkpoint_storage=store)
            .add_fan_out(split, [a, b, c])
            .add_fan_in([a, b, c], join)
            .build()
        )

    run = build(True).start(3)
    await run.step()
    task = asyncio.ensure_future(run.step())  # a and c finish, b hangs
    for _ in range(100):
        await asyncio.sleep(0.01)
        if calls["a"] and calls["c"]:
            break
    run.cancel()  # stands for the crash: the superstep never reached its barrier
    await task
    assert run.status == "cancelled"
    # cancel() is stored: the run comes back only when reopened explicitly
    assert (await build(False).resume(run.run_id)).status == "cancelled"
    resumed = await build(False).resume(run.run_id, reopen=True)
    result = await resumed.until_idle()
    assert result.status == "completed"
    assert result.outputs == ["a:3,b:3,c:3 a=3"]
    assert calls == Counter({"split": 1, "a": 1, "b": 1, "c": 1, "join": 1})
    replayed = [e for e in result.events.of_type(ExecutorCompleted) if e.replayed]
    assert sorted(e.executor_id for e in replayed) == ["a", "c"]  # type: ignore[type-var]
    assert result.state == {"a": 3, "b": 3, "c": 3}


async def test_a_replayed_task_replays_its_own_events_too() -> None:
    store = InMemoryCheckpointStorage()
    calls: Counter[str] = Counter()
    gate = asyncio.Event()

    @dataclass
    class Progress(WorkflowEvent):
        percent: int = 0

    def build(blocking: bool) -> Any:
        @executor(id="src")
        async def src(n: int, ctx: WorkflowContext[int]) -> None:
            await ctx.send_message(n)

        @executor(id="quick")
        async def quick(n: int, ctx: WorkflowContext[None, int]) -> None:
            calls["quick"] += 1
            await ctx.log("info", f"quick saw {n}")
            await ctx.add_event(Progress(percent=100))
            await ctx.yield_output(n)

        @executor(id="stuck")
        async def stuck(n: int, ctx: WorkflowContext[None, int]) -> None:
            if blocking:
                await gate.wait()
            await ctx.yield_output(-n)

        return (
            WorkflowBuilder(start=src, checkpoint_storage=store)
            .add_fan_out(src, [quick, stuck])
            .build()
        )

    run = build(True).start(5)
    await run.step()
    task = asyncio.ensure_future(run.step())
    while not calls["quick"]:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.01)
    run.cancel()
    await task
    result = await (await build(False).resume(run.run_id, reopen=True)).until_idle()
    assert calls["quick"] == 1
    assert result.outputs == [5, -5]
    assert [e.message for e in result.events.of_type(Log)] == ["quick saw 5"]
    assert [e.percent for e in result.events.of_type(Progress)] == [100]


async def test_graph_change_is_a_clear_error_with_an_override() -> None:
    store = InMemoryCheckpointStorage()
    calls: Counter[str] = Counter()
    run = counting_chain(calls, store, n=3).start(0)
    await run.step()
    changed = counting_chain(calls, store, n=4)
    with pytest.raises(GraphMismatchError) as err:
        await changed.resume(run.run_id)
    text = str(err.value)
    assert "executors added: ['s3']" in text
    assert "allow_graph_change=True" in text
    forced = await changed.resume(run.run_id, allow_graph_change=True)
    assert (await forced.until_idle()).outputs == [4]


async def test_fork_from_any_checkpoint_with_edited_state() -> None:
    store = InMemoryCheckpointStorage()

    @executor(id="setup")
    def setup(n: int, ctx: WorkflowContext[int]) -> None:
        ctx.set_state("factor", 2)
        ctx.send_message(n)

    @executor(id="scale")
    def scale(n: int, ctx: WorkflowContext[int, int]) -> None:
        ctx.yield_output(n * ctx.get_state("factor"))
        ctx.send_message(n + 1)

    @executor(id="finish")
    def finish(n: int, ctx: WorkflowContext[None, str]) -> None:
        ctx.yield_output(f"done {n}")

    wf = (
        WorkflowBuilder(start=setup, checkpoint_storage=store)
        .add_chain([setup, scale, finish])
        .build()
    )
    original = await wf.run(5)
    assert original.outputs == [10, "done 6"]
    cps = await store.list(original.run_id)
    at1 = next(c for c in cps if c.superstep == 1)
    at2 = next(c for c in cps if c.superstep == 2)

    forked = wf.fork(at1.checkpoint_id, state={"factor": 10})
    result = await forked.until_idle()
    assert result.outputs == [50, "done 6"]
    assert forked.parent == (original.run_id, at1.checkpoint_id)
    assert forked.run_id != original.run_id
    history = await forked.history()
    assert history[0].parent_id == at1.checkpoint_id and history[0].superstep == 1

    # A fork after `scale` inherits the output already produced.
    late = await wf.fork(at2.checkpoint_id).until_idle()
    assert late.outputs == [10, "done 6"]
    # The original run is untouched.
    assert [c.checkpoint_id for c in await store.list(original.run_id)] == [
        c.checkpoint_id for c in cps
    ]
    # Resuming from a checkpoint that is not the latest is a fork too.
    again = await wf.resume(checkpoint_id=at1.checkpoint_id)
    assert again.run_id != original.run_id and again.parent is not None


async def test_lazily_restored_run_says_how_to_load() -> None:
    store = InMemoryCheckpointStorage()
    calls: Counter[str] = Counter()
    wf = counting_chain(calls, store)
    r = await wf.run(0)
    lazy = wf.resume(r.run_id)
    with pytest.raises(RunStateError, match=r"await run\.load"):
        _ = lazy.pending_requests
    await lazy.load()
    assert lazy.pending_requests == []
    assert lazy.status == "running" or lazy.status == "completed"


def approvals_workflow(store: Any, calls: Counter[str]) -> Any:
    @executor(id="fan")
    async def fan(n: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(n)

    def approver(name: str) -> Any:
        @executor(id=name)
        async def approve(n: int, ctx: WorkflowContext[None, str]) -> None:
            calls[f"{name}:before"] += 1
            first = await ctx.request_info(f"{name} ok for {n}?", response_type=bool)
            second = await ctx.request_info(f"{name} amount?", response_type=int)
            calls[f"{name}:after"] += 1
            await ctx.yield_output(f"{name}:{first}:{second}")

        return approve

    a, b = approver("legal"), approver("finance")
    return (
        WorkflowBuilder(name="approvals", start=fan, checkpoint_storage=store)
        .add_fan_out(fan, [a, b])
        .build()
    )


async def test_requests_from_several_executors_answered_in_any_order_across_restarts(
    tmp_path: Path,
) -> None:
    store = FileCheckpointStorage(tmp_path)
    calls: Counter[str] = Counter()
    first = await approvals_workflow(store, calls).run(1)
    assert first.status == "waiting"
    pending = {p.executor_id: p for p in first.pending_requests}
    assert set(pending) == {"legal", "finance"}

    # Process 2: answers finance's first question, then dies before the superstep ends.
    run2 = await approvals_workflow(store, calls).resume(first.run_id)
    with pytest.raises(RequestError, match="expects a response of type bool"):
        await run2.respond(pending["finance"].request_id, "yes")
    assert {p.executor_id for p in run2.pending_requests} == {"legal", "finance"}
    await run2.respond(pending["finance"].request_id, True)
    asks = {p.executor_id: p for p in run2.pending_requests}
    assert asks["finance"].request == "finance amount?"

    # Process 3: only the unanswered questions are asked again.
    run3 = await approvals_workflow(store, calls).resume(first.run_id)
    again = {p.request_id for p in run3.pending_requests}
    assert again == {pending["legal"].request_id, asks["finance"].request_id}
    await run3.respond(asks["finance"].request_id, 300)
    with pytest.raises(RequestError, match="already answered"):
        await run3.respond(asks["finance"].request_id, 301)
    await run3.respond(pending["legal"].request_id, False)
    legal_amount = next(p for p in run3.pending_requests if p.executor_id == "legal")
    result = await run3.respond(legal_amount.request_id, 7)
    assert result.status == "completed"
    assert sorted(result.outputs) == ["finance:True:300", "legal:False:7"]
    assert calls["finance:after"] == 1 and calls["legal:after"] == 1


async def test_resume_with_responses_answers_on_load() -> None:
    store = InMemoryCheckpointStorage()
    calls: Counter[str] = Counter()
    wf = approvals_workflow(store, calls)
    first = await wf.run(2)
    answers = {p.request_id: True for p in first.pending_requests}
    run = await wf.resume(first.run_id, responses=answers)
    result = await run.until_idle()
    assert result.status == "waiting"
    assert sorted(p.request for p in result.pending_requests) == [
        "finance amount?",
        "legal amount?",
    ]


async def test_previous_errors_survive_a_restart() -> None:
    store = InMemoryCheckpointStorage()
    seen: list[list[str]] = []
    gate = asyncio.Event()

    def build() -> Any:
        @executor(id="flaky", retry=RetryPolicy(max_attempts=3, backoff=0.2))
        async def flaky(n: int, ctx: WorkflowContext[None, str]) -> None:
            seen.append([str(e) for e in ctx.previous_errors])
            if len(ctx.previous_errors) < 1:
                gate.set()
                raise ValueError("compiler said no")
            await ctx.yield_output("fixed")

        return WorkflowBuilder(start=flaky, checkpoint_storage=store).build()

    run = build().start(1)
    task = asyncio.ensure_future(run.until_idle())
    await gate.wait()
    await asyncio.sleep(0.05)  # inside the retry backoff
    run.cancel()
    await task
    result = await (await build().resume(run.run_id, reopen=True)).until_idle()
    assert result.outputs == ["fixed"]
    assert seen == [[], ["ValueError: compiler said no"]]


async def test_checkpoint_size_follows_live_state_not_run_length() -> None:
    store = InMemoryCheckpointStorage(keep_last=None)  # every checkpoint: sizes compared

    @executor(id="tick")
    async def tick(n: int, ctx: WorkflowContext[int, int]) -> None:
        await ctx.yield_output(n)
        await ctx.set_state("n", n)
        if n < 600:
            await ctx.send_message(n + 1)

    wf = (
        WorkflowBuilder(start=tick, checkpoint_storage=store, max_supersteps=1000)
        .add_edge(tick, tick)
        .build()
    )
    result = await wf.run(0)
    assert len(result.outputs) == 601
    infos = await store.list(result.run_id)
    sizes = {}
    for i in infos:
        if i.superstep in (10, 300, 590):
            cp = await store.get(i.checkpoint_id)
            assert cp is not None
            sizes[i.superstep] = len(cp.to_json())
    # 600 outputs later a checkpoint is no bigger than early on (±digits of numbers).
    assert max(sizes.values()) - min(sizes.values()) < 40
    # ... and resuming still rebuilds every output from the journal.
    mid = next(i for i in infos if i.superstep == 300)
    forked = await wf.fork(mid.checkpoint_id).until_idle()
    assert forked.outputs == list(range(601))


class _Tally(Executor):
    """Counts the messages it handled, in executor-local state."""

    def __init__(self) -> None:
        super().__init__(id="tally")
        self.seen = 0

    @handler
    async def add(self, n: int, ctx: WorkflowContext[int, int]) -> None:
        self.seen += 1
        await asyncio.sleep(0)  # let the other run interleave
        if n > 1:
            await ctx.send_message(n - 1)
        else:
            await ctx.yield_output(self.seen)

    def on_checkpoint_save(self) -> dict[str, Any]:
        return {"seen": self.seen}

    def on_checkpoint_restore(self, state: dict[str, Any]) -> None:
        self.seen = state["seen"]


@pytest.mark.parametrize("durable", [False, True])
async def test_executor_state_belongs_to_one_run(durable: bool) -> None:
    store = InMemoryCheckpointStorage() if durable else None
    tally = _Tally()
    wf = WorkflowBuilder(start=tally, checkpoint_storage=store).add_edge(tally, tally).build()
    alone = await wf.run(5)
    assert alone.outputs == [5]
    one, two = await asyncio.gather(wf.run(5), wf.run(5))
    assert (one.outputs, two.outputs) == ([5], [5])  # were [10], [10]: one shared count
    assert tally.seen == 0  # the workflow's instance is only the starting point
    if durable:
        assert store is not None
        for result in (one, two):
            cp = await store.latest(result.run_id)
            assert cp is not None and cp.executor_states == {"tally": {"seen": 5}}
