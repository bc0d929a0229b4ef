"""One conformance suite for every CheckpointStorage.

Subclass :class:`StorageConformance` in a test module and provide an async
``storage`` fixture yielding a fresh, empty storage; every test below then runs
against it. Used for the in-memory, file, Redis and NATS KV storages.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import Checkpoint, CheckpointInfo, CheckpointStorage


def make_cp(run_id: str, superstep: int, workflow: str = "wf", **kw: Any) -> Checkpoint:
    return Checkpoint(
        checkpoint_id=uuid.uuid4().hex,
        run_id=run_id,
        workflow=workflow,
        graph_hash="h" * 16,
        superstep=superstep,
        **kw,
    )


def _hitl_workflow(storage: Any) -> Any:
    @executor(id="prepare")
    def prepare(n: int, ctx: WorkflowContext[int]) -> None:
        ctx.set_state("seen", n)
        ctx.send_message(n * 2)

    @executor(id="approve")
    async def approve(n: int, ctx: WorkflowContext[None, str]) -> None:
        ok = await ctx.request_info({"amount": n}, response_type=bool)
        await ctx.yield_output(f"{n}:{'approved' if ok else 'rejected'}:{ctx.get_state('seen')}")

    return (
        WorkflowBuilder(name="conformance", start=prepare, checkpoint_storage=storage)
        .add_edge(prepare, approve)
        .build()
    )


class StorageConformance:
    """Behaviour every checkpoint storage must have."""

    async def test_is_a_checkpoint_storage(self, storage: Any) -> None:
        assert isinstance(storage, CheckpointStorage)

    async def test_save_then_get_round_trips_every_field(self, storage: Any) -> None:
        cp = make_cp(
            "run-a",
            3,
            parent_id="p1",
            queued=[{"target": "x", "source": "y", "edge": "y->x", "message": {"a": [1, 2]}}],
            fan_in={"fan_in[a|b]->c": {"a": [1], "b": []}},
            state={"k": "v", "n": 1.5},
            executor_states={"x": {"count": 2}},
            pending_requests=[
                {
                    "request_id": "r1",
                    "executor_id": "x",
                    "request": "ok?",
                    "response_type": "bool",
                    "superstep": 3,
                }
            ],
            outputs_count=4,
            event_seq=99,
        )
        await storage.save(cp)
        got = await storage.get(cp.checkpoint_id)
        assert got == cp

    async def test_get_unknown_is_none(self, storage: Any) -> None:
        assert await storage.get(uuid.uuid4().hex) is None
        assert await storage.latest("no-such-run") is None
        assert await storage.list("no-such-run") == []
        assert await storage.journal("no-such-run") == []

    async def test_latest_is_the_last_saved(self, storage: Any) -> None:
        cps = [make_cp("run-b", i) for i in range(5)]
        for cp in cps:
            await storage.save(cp)
        latest = await storage.latest("run-b")
        assert latest is not None and latest.checkpoint_id == cps[-1].checkpoint_id

    async def test_list_is_light_and_oldest_first(self, storage: Any) -> None:
        for i in range(3):
            await storage.save(
                make_cp(
                    "run-c", i, queued=[{"target": "t", "source": None, "edge": None, "message": i}]
                )
            )
            await asyncio.sleep(0.002)
        infos = await storage.list("run-c")
        assert [i.superstep for i in infos] == [0, 1, 2]
        assert all(isinstance(i, CheckpointInfo) for i in infos)
        assert all(i.queued == 1 and i.run_id == "run-c" for i in infos)

    async def test_list_filters_by_workflow_across_runs(self, storage: Any) -> None:
        await storage.save(make_cp("run-d1", 0, workflow="alpha"))
        await storage.save(make_cp("run-d2", 0, workflow="beta"))
        await storage.save(make_cp("run-d3", 1, workflow="alpha"))
        alpha = await storage.list(workflow="alpha")
        assert sorted(i.run_id for i in alpha) == ["run-d1", "run-d3"]
        every = await storage.list()
        assert {"run-d1", "run-d2", "run-d3"} <= {i.run_id for i in every}

    async def test_keep_last_drops_oldest_only(self, storage: Any) -> None:
        cps = [make_cp("run-e", i) for i in range(6)]
        for cp in cps:
            await storage.save(cp)
        await storage.append("run-e", {"k": "answer", "id": "r", "v": 1})
        dropped = await storage.keep_last("run-e", 2)
        assert dropped == 4
        assert [i.checkpoint_id for i in await storage.list("run-e")] == [
            c.checkpoint_id for c in cps[-2:]
        ]
        assert await storage.get(cps[0].checkpoint_id) is None
        latest = await storage.latest("run-e")
        assert latest is not None and latest.checkpoint_id == cps[-1].checkpoint_id
        assert await storage.journal("run-e") == [{"k": "answer", "id": "r", "v": 1}]
        assert await storage.keep_last("run-e", 5) == 0
        with pytest.raises(ValueError):
            await storage.keep_last("run-e", -1)

    async def test_delete_removes_run_and_journal_only(self, storage: Any) -> None:
        for i in range(3):
            await storage.save(make_cp("run-f", i))
        keep = make_cp("run-g", 0)
        await storage.save(keep)
        await storage.append("run-f", {"k": "x"})
        await storage.append("run-g", {"k": "y"})
        assert await storage.delete("run-f") == 3
        assert await storage.list("run-f") == []
        assert await storage.latest("run-f") is None
        assert await storage.journal("run-f") == []
        assert await storage.get(keep.checkpoint_id) == keep
        assert await storage.journal("run-g") == [{"k": "y"}]

    async def test_journal_keeps_order_and_content(self, storage: Any) -> None:
        records = [{"k": "write", "s": i, "o": [{"__t": "tuple", "v": [i]}]} for i in range(50)]
        for r in records:
            await storage.append("run-h", r)
        assert await storage.journal("run-h") == records

    async def test_a_waiting_run_resumes_from_this_storage(self, storage: Any) -> None:
        first = await _hitl_workflow(storage).run(21)
        assert first.status == "waiting"
        (req,) = first.pending_requests
        # A new Workflow object stands for a new process that rebuilt the same graph.
        again = await _hitl_workflow(storage).resume(first.run_id)
        assert [r.request_id for r in again.pending_requests] == [req.request_id]
        assert again.pending_requests[0].request == {"amount": 42}
        result = await again.respond(req.request_id, True)
        assert result.status == "completed"
        assert result.outputs == ["42:approved:21"]
        history = await again.history()
        assert history[-1].status == "completed"
        assert [h.superstep for h in history] == sorted(h.superstep for h in history)

    async def test_many_checkpoints_of_one_run(self, storage: Any) -> None:
        cps = [make_cp("run-i", i) for i in range(200)]
        for cp in cps:
            await storage.save(cp)
        infos = await storage.list("run-i")
        assert [i.superstep for i in infos] == list(range(200))
        latest = await storage.latest("run-i")
        assert latest is not None and latest.checkpoint_id == cps[-1].checkpoint_id
