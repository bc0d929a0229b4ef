"""Fixtures for remote tests: a real nats-server per test (never skipped)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from agentic_nb.nats import LocalNatsServer, connect


@pytest.fixture
def nats_server() -> Iterator[LocalNatsServer]:
    server = LocalNatsServer()
    server.start()  # fails loudly if no nats-server binary works
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def nc(nats_server: LocalNatsServer) -> AsyncIterator[Any]:
    conn = await connect(nats_server.url)
    try:
        yield conn
    finally:
        if not conn.is_closed:
            await conn.close()
