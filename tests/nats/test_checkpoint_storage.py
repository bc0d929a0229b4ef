"""NatsKvCheckpointStorage passes the shared checkpoint conformance suite on a real server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from agentic_nb.nats import LocalNatsServer, NatsKvCheckpointStorage, connect
from agentic_nb.nats._subjects import encode_token
from agentic_nb.workflow import Checkpoint, CheckpointError
from tests.checkpoint_conformance import StorageConformance, make_cp


class TestNatsKvConformance(StorageConformance):
    @pytest.fixture
    def factory(self, nc: Any) -> Callable[..., Any]:
        return lambda **kw: NatsKvCheckpointStorage(nc, **kw)

    async def _entries(self, storage: Any, run_id: str) -> list[Any]:
        kv = await storage._store()
        entries = [await kv.get(k) for k in await storage._keys(f"jr.{encode_token(run_id)}.*")]
        return sorted(entries, key=lambda e: e.revision)

    async def raw_records(self, storage: Any, run_id: str) -> list[str]:
        return [e.value.decode() for e in await self._entries(storage, run_id)]

    async def set_record(self, storage: Any, run_id: str, index: int, text: str) -> None:
        # A put moves a key to the end: rewrite the records after it too, keeping the order.
        kv = await storage._store()
        for i, entry in enumerate(await self._entries(storage, run_id)):
            if i >= index:
                await kv.put(entry.key, text.encode() if i == index else entry.value)

    async def set_checkpoint_text(self, storage: Any, cp: Checkpoint, text: str) -> None:
        kv = await storage._store()
        key = f"cp.{encode_token(cp.run_id)}.{encode_token(cp.checkpoint_id)}"
        await kv.put(key, text.encode())


async def test_a_failed_write_is_an_error_never_a_silent_drop() -> None:
    with LocalNatsServer() as server:
        nc = await connect(server.url, max_reconnect_attempts=0)
        store = NatsKvCheckpointStorage(nc)
        await store.save(make_cp("r", 0))
        server.stop(kill=True)
        with pytest.raises(CheckpointError, match="agentic_checkpoints"):
            await store.save(make_cp("r", 1))
        await nc.close()
