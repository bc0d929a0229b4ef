"""NatsKvCheckpointStorage passes the shared checkpoint conformance suite on a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentic_nb.nats import LocalNatsServer, NatsKvCheckpointStorage, connect
from agentic_nb.workflow import CheckpointError
from tests.checkpoint_conformance import StorageConformance, make_cp


class TestNatsKvConformance(StorageConformance):
    @pytest.fixture
    async def storage(self, nc: Any) -> AsyncIterator[NatsKvCheckpointStorage]:
        yield NatsKvCheckpointStorage(nc)


async def test_a_failed_write_is_an_error_never_a_silent_drop() -> None:
    with LocalNatsServer() as server:
        nc = await connect(server.url, max_reconnect_attempts=0)
        store = NatsKvCheckpointStorage(nc)
        await store.save(make_cp("r", 0))
        server.stop(kill=True)
        with pytest.raises(CheckpointError, match="agentic_checkpoints"):
            await store.save(make_cp("r", 1))
        await nc.close()
