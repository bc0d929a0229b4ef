"""The conformance suite against the in-memory, file and Redis storages."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agentic_nb.redis import RedisCheckpointStorage
from agentic_nb.workflow import (
    CheckpointError,
    FileCheckpointStorage,
    InMemoryCheckpointStorage,
)
from tests.checkpoint_conformance import StorageConformance, make_cp


class TestInMemoryStorage(StorageConformance):
    @pytest.fixture
    async def storage(self) -> AsyncIterator[Any]:
        yield InMemoryCheckpointStorage()


class TestFileStorage(StorageConformance):
    @pytest.fixture
    async def storage(self, tmp_path: Path) -> AsyncIterator[Any]:
        yield FileCheckpointStorage(tmp_path / "checkpoints")


class TestRedisStorage(StorageConformance):
    @pytest.fixture
    async def storage(self, redis_url: str) -> AsyncIterator[Any]:
        store = RedisCheckpointStorage(redis_url, prefix=f"t{uuid.uuid4().hex[:8]}", ttl_days=1)
        yield store
        await store.aclose()


async def test_file_storage_writes_atomically_and_ignores_torn_journal_lines(
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


async def test_file_storage_rejects_ids_that_escape_its_directory(tmp_path: Path) -> None:
    store = FileCheckpointStorage(tmp_path)
    with pytest.raises(CheckpointError, match="cannot be used as a file name"):
        await store.save(make_cp("../evil", 0))


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
