"""The conformance suite against the in-memory, file and Redis storages, and what is
particular to each (torn journal lines, file names, Redis expiry)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.redis import RedisCheckpointStorage
from agentic_nb.workflow import (
    DEFAULT_KEEP_LAST,
    Checkpoint,
    CheckpointError,
    FileCheckpointStorage,
    InMemoryCheckpointStorage,
)
from agentic_nb.workflow.storage import dump_record
from tests.checkpoint_conformance import StorageConformance, make_cp


class TestInMemoryStorage(StorageConformance):
    @pytest.fixture
    def factory(self) -> Callable[..., Any]:
        return InMemoryCheckpointStorage

    async def raw_records(self, storage: Any, run_id: str) -> list[str]:
        return list(storage._journals[run_id])

    async def set_record(self, storage: Any, run_id: str, index: int, text: str) -> None:
        storage._journals[run_id][index] = text

    async def set_checkpoint_text(self, storage: Any, cp: Checkpoint, text: str) -> None:
        storage._data[cp.checkpoint_id] = text


class TestFileStorage(StorageConformance):
    @pytest.fixture
    def factory(self, tmp_path: Path) -> Callable[..., Any]:
        return lambda **kw: FileCheckpointStorage(tmp_path / "checkpoints", **kw)

    async def raw_records(self, storage: Any, run_id: str) -> list[str]:
        return (storage.root / run_id / "journal.jsonl").read_text().splitlines()

    async def set_record(self, storage: Any, run_id: str, index: int, text: str) -> None:
        lines = await self.raw_records(storage, run_id)
        lines[index] = text
        (storage.root / run_id / "journal.jsonl").write_text("".join(x + "\n" for x in lines))

    async def set_checkpoint_text(self, storage: Any, cp: Checkpoint, text: str) -> None:
        (path,) = (storage.root / cp.run_id).glob(f"cp-*-{cp.checkpoint_id}.json")
        path.write_text(text)


class TestRedisStorage(StorageConformance):
    @pytest.fixture
    def factory(self, redis_url: str) -> Callable[..., Any]:
        prefix = f"t{uuid.uuid4().hex[:8]}"
        return lambda **kw: RedisCheckpointStorage(redis_url, prefix=prefix, ttl_days=1, **kw)

    async def raw_records(self, storage: Any, run_id: str) -> list[str]:
        return list(await storage.client.lrange(storage._k("run", run_id, "journal"), 0, -1))

    async def set_record(self, storage: Any, run_id: str, index: int, text: str) -> None:
        await storage.client.lset(storage._k("run", run_id, "journal"), index, text)

    async def set_checkpoint_text(self, storage: Any, cp: Checkpoint, text: str) -> None:
        await storage.client.set(storage._k("cp", cp.checkpoint_id), text)


# ------------------------------------------------------------------ file storage
async def test_file_storage_writes_atomically_and_ignores_a_torn_last_line(
    tmp_path: Path,
) -> None:
    store = FileCheckpointStorage(tmp_path)
    cp = make_cp("r1", 0)
    await store.save(cp)
    run_dir = tmp_path / "r1"
    assert [p.name for p in run_dir.iterdir() if p.name.startswith(".tmp-")] == []
    await store.append("r1", {"k": "a"})
    with open(run_dir / "journal.jsonl", "a") as fh:
        fh.write('{"k": "torn", "v": [1, 2')  # a crash cut this line short
    assert await store.journal("r1") == [{"k": "a"}]
    # The next process appends after cutting the torn tail, so nothing is glued onto it.
    later = FileCheckpointStorage(tmp_path)
    await later.append("r1", {"k": "b"})
    assert await later.journal("r1") == [{"k": "a"}, {"k": "b"}]


async def test_a_whole_last_line_missing_only_its_newline_is_kept(tmp_path: Path) -> None:
    store = FileCheckpointStorage(tmp_path)
    await store.append("r2", {"k": "a"})
    with open(tmp_path / "r2" / "journal.jsonl", "a") as fh:
        fh.write(dump_record({"k": "answer", "id": "q", "v": 1}))  # crash before "\n"
    assert await store.journal("r2") == [{"k": "a"}, {"k": "answer", "id": "q", "v": 1}]
    await FileCheckpointStorage(tmp_path).append("r2", {"k": "c"})
    assert [r["k"] for r in await store.journal("r2")] == ["a", "answer", "c"]


async def test_a_damaged_line_names_the_file_and_line(tmp_path: Path) -> None:
    store = FileCheckpointStorage(tmp_path)
    for i in range(3):
        await store.append("r3", {"k": "write", "s": i})
    path = tmp_path / "r3" / "journal.jsonl"
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace('"s":1', '"s":7')
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CheckpointError, match=r"line 2 of .*journal\.jsonl"):
        await store.journal("r3")


async def test_a_damaged_checkpoint_file_is_listed_as_corrupt(tmp_path: Path) -> None:
    store = FileCheckpointStorage(tmp_path)
    cps = [make_cp("r4", i) for i in range(2)]
    for cp in cps:
        await store.save(cp)
    (path,) = (tmp_path / "r4").glob(f"cp-*-{cps[1].checkpoint_id}.json")
    path.write_text(path.read_text()[:50])
    infos = await store.list("r4")
    assert [(i.checkpoint_id, i.status) for i in infos] == [
        (cps[0].checkpoint_id, "running"),
        (cps[1].checkpoint_id, "corrupt"),
    ]


async def test_file_storage_rejects_ids_that_escape_its_directory(tmp_path: Path) -> None:
    store = FileCheckpointStorage(tmp_path)
    with pytest.raises(CheckpointError, match="cannot be used as a file name"):
        await store.save(make_cp("../evil", 0))


@pytest.mark.parametrize("bad", ["run\n", "run\n\n", "", ".", "..", "a/b", "x\x00"])
async def test_file_storage_rejects_run_ids_with_a_trailing_newline(
    tmp_path: Path, bad: str
) -> None:
    store = FileCheckpointStorage(tmp_path)
    with pytest.raises(CheckpointError, match="cannot be used as a file name"):
        await store.append(bad, {"k": "x"})
    assert list(tmp_path.iterdir()) == []


async def test_a_long_loop_keeps_only_the_retained_checkpoint_files(tmp_path: Path) -> None:
    @executor(id="loop")
    def loop(n: int, ctx: WorkflowContext[int, int]) -> None:
        if n < 5000:
            ctx.send_message(n + 1)
        else:
            ctx.yield_output(n)

    store = FileCheckpointStorage(tmp_path)
    wf = (
        WorkflowBuilder(start=loop, checkpoint_storage=store, max_supersteps=6000)
        .add_edge(loop, loop)
        .build()
    )
    result = await wf.run(0)
    assert result.outputs == [5000]
    files = list((tmp_path / result.run_id).glob("cp-*.json"))
    assert len(files) == DEFAULT_KEEP_LAST
    latest = await store.latest(result.run_id)
    assert latest is not None and latest.status == "completed"


# ----------------------------------------------------------------- redis storage
async def test_redis_storage_sets_ttl_in_days(redis_url: str) -> None:
    store = RedisCheckpointStorage(redis_url, prefix="ttl", ttl_days=2)
    cp = make_cp("r-ttl", 0)
    await store.save(cp)
    await store.append("r-ttl", {"k": "x"})
    ttl_cp = await store.client.ttl(f"ttl:cp:{cp.checkpoint_id}")
    ttl_journal = await store.client.ttl("ttl:run:r-ttl:journal")
    assert 2 * 86400 - 60 < ttl_cp <= 2 * 86400
    assert 2 * 86400 - 60 < ttl_journal <= 2 * 86400
    await store.aclose()


async def test_redis_refreshes_every_key_of_a_run_together(redis_url: str) -> None:
    """A run answered late must not lose its checkpoints: a journal write refreshes them."""
    store = RedisCheckpointStorage(redis_url, prefix=f"e{uuid.uuid4().hex[:6]}", ttl_days=1)
    cps = [make_cp("r-late", i) for i in range(3)]
    for cp in cps:
        await store.save(cp)
    await store.record_answer_once("r-late", {"k": "answer", "id": "q", "v": 1})
    keys = [store._k("cp", c.checkpoint_id) for c in cps] + [
        store._k("run", "r-late", s) for s in ("cps", "info", "journal", "seq", "answers")
    ]
    for key in keys:
        await store.client.expire(key, 100)  # as if a day went by
    await store.append("r-late", {"k": "write", "s": 3})
    ttls = [await store.client.ttl(k) for k in keys]
    assert all(86400 - 60 < t <= 86400 for t in ttls), dict(zip(keys, ttls, strict=True))
    await store.aclose()


async def test_redis_metadata_damage_is_named(redis_url: str) -> None:
    store = RedisCheckpointStorage(redis_url, prefix=f"m{uuid.uuid4().hex[:6]}")
    cp = make_cp("r-meta", 0)
    await store.save(cp)
    await store.client.hset(store._k("run", "r-meta", "info"), cp.checkpoint_id, "{bad")
    with pytest.raises(CheckpointError, match="r-meta"):
        await store.list("r-meta")
    await store.aclose()
