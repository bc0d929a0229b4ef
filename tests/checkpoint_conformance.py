"""One conformance suite for every CheckpointStorage.

Subclass :class:`StorageConformance` in a test module and provide a ``factory``
fixture: a callable taking storage keyword arguments (``keep_last=``) and returning
a fresh, empty storage of one shared namespace; and the two damage hooks
``raw_records`` / ``set_record`` (a run's stored journal texts) and
``set_checkpoint_text`` (replace a stored checkpoint's text). Every test below then
runs against it. Used for the in-memory, file, Redis and NATS KV storages.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from typing import Any

import pytest

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import (
    DEFAULT_KEEP_LAST,
    AnswerConflictError,
    Checkpoint,
    CheckpointCorruptError,
    CheckpointInfo,
    CheckpointStorage,
    LeaseLostError,
    RequestError,
    RunLockedError,
    RunSummary,
)
from agentic_nb.workflow.storage import unseal


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


def answer(rid: str, value: Any) -> dict[str, Any]:
    return {"k": "answer", "id": rid, "v": value}


def legacy_checkpoint_text(cp: Checkpoint) -> str:
    """What agentic_nb wrote before checksums (schema version 1)."""
    data = {k: getattr(cp, k) for k in _STORED}
    data["schema_version"] = 1
    return json.dumps(data, separators=(",", ":"))


_STORED = (
    "checkpoint_id run_id workflow graph_hash superstep parent_id created_at queued fan_in "
    "state executor_states pending_requests outputs_count event_seq status"
).split()


def flip(text: str) -> str:
    """Damage a stored record while keeping it valid JSON: change one digit of a value."""
    i = next(i for i, ch in enumerate(text) if ch.isdigit())
    return text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1 :]


class StorageConformance:
    """Behaviour every checkpoint storage must have."""

    @pytest.fixture
    async def storage(self, factory: Any) -> Any:
        return factory()

    # Damage hooks, implemented per storage by the test module.
    async def raw_records(self, storage: Any, run_id: str) -> list[str]:
        raise NotImplementedError

    async def set_record(self, storage: Any, run_id: str, index: int, text: str) -> None:
        raise NotImplementedError

    async def set_checkpoint_text(self, storage: Any, cp: Checkpoint, text: str) -> None:
        raise NotImplementedError

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

    async def test_many_checkpoints_of_one_run(self, factory: Any) -> None:
        storage = factory(keep_last=None)
        cps = [make_cp("run-i", i) for i in range(200)]
        for cp in cps:
            await storage.save(cp)
        infos = await storage.list("run-i")
        assert [i.superstep for i in infos] == list(range(200))
        latest = await storage.latest("run-i")
        assert latest is not None and latest.checkpoint_id == cps[-1].checkpoint_id

    # ------------------------------------------------------------ retention
    async def test_keep_last_is_applied_after_every_save(self, factory: Any) -> None:
        storage = factory(keep_last=3)
        cps = [make_cp("run-k", i) for i in range(10)]
        for cp in cps:
            await storage.save(cp)
            assert len(await storage.list("run-k")) <= 3
        assert [i.checkpoint_id for i in await storage.list("run-k")] == [
            c.checkpoint_id for c in cps[-3:]
        ]
        assert await storage.get(cps[0].checkpoint_id) is None

    async def test_default_retention_bounds_a_long_loop(self, storage: Any) -> None:
        for i in range(DEFAULT_KEEP_LAST + 5):
            await storage.save(make_cp("run-loop", i))
        infos = await storage.list("run-loop")
        assert len(infos) == DEFAULT_KEEP_LAST
        assert infos[-1].superstep == DEFAULT_KEEP_LAST + 4

    async def test_bad_keep_last_is_refused(self, factory: Any) -> None:
        with pytest.raises(ValueError, match="keep_last"):
            factory(keep_last=0)

    # ------------------------------------------------------------ integrity
    async def test_records_and_checkpoints_carry_checksums(self, storage: Any) -> None:
        await storage.save(make_cp("run-sum", 0))
        await storage.append("run-sum", {"k": "write", "s": 0})
        (raw,) = await self.raw_records(storage, "run-sum")
        assert unseal(raw) == ({"k": "write", "s": 0}, True)

    async def test_damage_in_the_middle_of_a_journal_raises_naming_run_and_place(
        self, storage: Any
    ) -> None:
        for i in range(3):
            await storage.append("run-dmg", answer(f"req-{i}", i + 10))
        raw = await self.raw_records(storage, "run-dmg")
        await self.set_record(storage, "run-dmg", 1, flip(raw[1]))
        with pytest.raises(CheckpointCorruptError, match="run-dmg") as info:
            await storage.journal("run-dmg")
        assert "checksum mismatch" in str(info.value)
        assert info.value.run_id == "run-dmg" and info.value.line == 2

    async def test_a_journal_record_cut_short_in_the_middle_raises(self, storage: Any) -> None:
        for i in range(3):
            await storage.append("run-cut", {"k": "write", "s": i})
        raw = await self.raw_records(storage, "run-cut")
        await self.set_record(storage, "run-cut", 0, raw[0][:10])
        with pytest.raises(CheckpointCorruptError, match="run-cut"):
            await storage.journal("run-cut")

    async def test_a_damaged_checkpoint_raises_naming_it(self, storage: Any) -> None:
        cp = make_cp("run-cpd", 0, state={"n": 12345})
        await storage.save(cp)
        await self.set_checkpoint_text(storage, cp, flip(cp.to_json()))
        with pytest.raises(CheckpointCorruptError, match=cp.checkpoint_id) as info:
            await storage.get(cp.checkpoint_id)
        assert "checksum mismatch" in str(info.value)

    async def test_a_truncated_checkpoint_is_a_named_error_not_a_json_error(
        self, storage: Any
    ) -> None:
        cp = make_cp("run-trunc", 0)
        await storage.save(cp)
        await self.set_checkpoint_text(storage, cp, cp.to_json()[:40])
        with pytest.raises(CheckpointCorruptError, match=cp.checkpoint_id):
            await storage.get(cp.checkpoint_id)

    async def test_latest_falls_back_to_the_previous_checkpoint_and_says_so(
        self, storage: Any
    ) -> None:
        cps = [make_cp("run-fb", i) for i in range(3)]
        for cp in cps:
            await storage.save(cp)
        await self.set_checkpoint_text(storage, cps[-1], cps[-1].to_json()[:-30])
        latest = await storage.latest("run-fb")
        assert latest is not None and latest.checkpoint_id == cps[1].checkpoint_id
        assert latest.fallback_from == [cps[2].checkpoint_id]
        assert cps[2].checkpoint_id in latest.load_warnings[0]

    async def test_latest_raises_when_no_checkpoint_can_be_read(self, storage: Any) -> None:
        cp = make_cp("run-bad", 0)
        await storage.save(cp)
        await self.set_checkpoint_text(storage, cp, "{}")
        with pytest.raises(CheckpointCorruptError, match="run-bad"):
            await storage.latest("run-bad")

    async def test_a_checksummed_version_without_its_checksum_is_damage(self, storage: Any) -> None:
        cp = make_cp("run-nosum", 0)
        await storage.save(cp)
        data = json.loads(cp.to_json())
        del data["_sum"]
        await self.set_checkpoint_text(storage, cp, json.dumps(data))
        with pytest.raises(CheckpointCorruptError, match="checksum missing"):
            await storage.get(cp.checkpoint_id)

    async def test_data_written_before_checksums_still_loads(self, storage: Any) -> None:
        cp = make_cp("run-old", 2, state={"k": "v"})
        await storage.save(cp)
        await self.set_checkpoint_text(storage, cp, legacy_checkpoint_text(cp))
        await storage.append("run-old", {"k": "write", "s": 0})
        await storage.append("run-old", {"k": "write", "s": 1})
        await self.set_record(storage, "run-old", 0, '{"k":"write","s":0}')
        await self.set_record(storage, "run-old", 1, '{"k":"write","s":1}')
        got = await storage.get(cp.checkpoint_id)
        assert got is not None and got.state == {"k": "v"} and got.schema_version == 1
        assert await storage.journal("run-old") == [{"k": "write", "s": 0}, {"k": "write", "s": 1}]
        await storage.append("run-old", {"k": "write", "s": 2})  # new records get checksums
        assert len(await storage.journal("run-old")) == 3

    # ---------------------------------------------------------------- runs()
    async def test_runs_shows_a_waiting_run_as_waiting_with_its_request_ids(
        self, storage: Any
    ) -> None:
        first = await _hitl_workflow(storage).run(21)
        (req,) = first.pending_requests
        (summary,) = [s for s in await storage.runs() if s.run_id == first.run_id]
        assert isinstance(summary, RunSummary)
        assert summary.workflow == "conformance"
        assert summary.status == "waiting"
        assert summary.pending_requests == [req.request_id]
        assert summary.superstep == req.superstep
        assert abs(summary.updated_at - time.time()) < 60
        again = await _hitl_workflow(storage).resume(first.run_id)
        await again.respond(req.request_id, True)
        (done,) = [s for s in await storage.runs() if s.run_id == first.run_id]
        assert (done.status, done.pending_requests) == ("completed", [])

    async def test_runs_filters_by_workflow_newest_first(self, storage: Any) -> None:
        await storage.save(make_cp("run-w1", 0, workflow="alpha"))
        await asyncio.sleep(0.01)
        await storage.save(make_cp("run-w2", 0, workflow="beta"))
        await asyncio.sleep(0.01)
        await storage.save(make_cp("run-w3", 4, workflow="alpha", status="completed"))
        alpha = await storage.runs(workflow="alpha")
        assert [(s.run_id, s.status, s.superstep) for s in alpha] == [
            ("run-w3", "completed", 4),
            ("run-w1", "running", 0),
        ]
        assert {"run-w1", "run-w2", "run-w3"} <= {s.run_id for s in await storage.runs()}

    # ---------------------------------------------------------------- leases
    async def test_a_second_owner_is_refused_with_the_holder_named(self, storage: Any) -> None:
        lease = await storage.acquire_lease("run-l", "kernel-a", ttl=30)
        assert lease.token >= 1 and lease.owner == "kernel-a"
        with pytest.raises(RunLockedError, match="kernel-a") as info:
            await storage.acquire_lease("run-l", "kernel-b", ttl=30)
        holder = info.value.holder
        assert holder["owner"] == "kernel-a" and holder["pid"] == os.getpid()
        assert holder["host"] and holder["since"] <= time.time()
        assert "take_over=True" in str(info.value) or "kill" in str(info.value)
        again = await storage.acquire_lease("run-l", "kernel-a", ttl=30)
        assert again.token == lease.token

    async def test_take_over_fences_the_old_holder(self, storage: Any) -> None:
        old = await storage.acquire_lease("run-t", "kernel-a", ttl=30)
        await storage.append("run-t", {"k": "write", "s": 0}, lease=old)
        new = await storage.acquire_lease("run-t", "kernel-b", ttl=30, take_over=True)
        assert new.token > old.token
        with pytest.raises(LeaseLostError, match="run-t"):
            await storage.append("run-t", {"k": "write", "s": 1}, lease=old)
        with pytest.raises(LeaseLostError):
            await storage.save(make_cp("run-t", 1), lease=old)
        with pytest.raises(LeaseLostError):
            await storage.renew_lease(old)
        await storage.append("run-t", {"k": "write", "s": 2}, lease=new)
        await storage.save(make_cp("run-t", 2), lease=new)
        assert [r["s"] for r in await storage.journal("run-t")] == [0, 2]
        assert [i.superstep for i in await storage.list("run-t")] == [2]

    async def test_release_and_expiry_free_the_run(self, storage: Any) -> None:
        a = await storage.acquire_lease("run-r", "kernel-a", ttl=30)
        await storage.release_lease(a)
        b = await storage.acquire_lease("run-r", "kernel-b", ttl=0.3)
        assert b.token == a.token + 1
        renewed = await storage.renew_lease(b)
        assert renewed.expires_at >= b.expires_at and renewed.token == b.token
        await asyncio.sleep(0.5)  # b stops renewing: its lease goes stale
        c = await storage.acquire_lease("run-r", "kernel-c", ttl=30)
        assert c.token == b.token + 1
        with pytest.raises(LeaseLostError):
            await storage.append("run-r", {"k": "x"}, lease=b)

    async def test_an_answer_is_recorded_exactly_once(self, storage: Any) -> None:
        await storage.record_answer_once("run-a1", answer("req", "first"))
        await storage.record_answer_once("run-a1", answer("req", "first"))  # retry: no-op
        with pytest.raises(AnswerConflictError, match="already answered") as info:
            await storage.record_answer_once("run-a1", answer("req", "second"))
        assert isinstance(info.value, RequestError) and "first" in str(info.value)
        with pytest.raises(AnswerConflictError):
            await storage.append("run-a1", answer("req", "third"))
        await storage.append("run-a1", answer("other", 1))
        answers = [r for r in await storage.journal("run-a1") if r["k"] == "answer"]
        assert answers == [answer("req", "first"), answer("other", 1)]

    async def test_an_answer_without_the_lease_is_refused_while_a_driver_holds_it(
        self, storage: Any
    ) -> None:
        lease = await storage.acquire_lease("run-a2", "driver", ttl=30)
        with pytest.raises(RunLockedError, match="driver"):
            await storage.record_answer_once("run-a2", answer("req", 1))
        await storage.record_answer_once("run-a2", answer("req", 1), lease=lease)
        assert await storage.journal("run-a2") == [answer("req", 1)]
