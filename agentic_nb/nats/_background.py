"""Background agent tasks in NATS KV: a token taken in one process is polled from any other.

Bucket ``agentic_background``: key ``<id>.record`` holds the task's record (status,
owner, response), keys ``<id>.c.<seq>`` its streamed chunks in order. Use it with
``agentic_nb.agents.set_default_background_store(NatsBackgroundStore(nc))`` or per call
``agent.run(..., background=True, background_store=store)``; pollers pass the same kind
of store: ``poll(token, store=NatsBackgroundStore(nc))``.

Example::

    >>> import asyncio
    >>> from agentic_nb.agents import ChatAgent, wait
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> from agentic_nb.nats import LocalNatsServer, connect
    >>> async def main(url):
    ...     nc = await connect(url)
    ...     store = NatsBackgroundStore(nc)
    ...     agent = ChatAgent(ScriptedChatClient(["42"]), name="oracle")
    ...     token = await agent.run("?", background=True, background_store=store)
    ...     status = await wait(str(token), store=NatsBackgroundStore(nc))
    ...     await nc.close()
    ...     return status.status, status.response.text
    >>> with LocalNatsServer() as server:
    ...     asyncio.run(main(server.url))
    ('completed', '42')
"""

from __future__ import annotations

import json
from typing import Any

from ._streams import ensure_bucket, kv_get

BACKGROUND_BUCKET = "agentic_background"


class NatsBackgroundStore:
    """Background task records and chunks in the KV bucket ``agentic_background``."""

    def __init__(self, connection: Any, *, bucket: str = BACKGROUND_BUCKET) -> None:
        self._nc = connection
        self.bucket = bucket
        self._kv: Any = None

    @property
    def location(self) -> str:
        return f"nats:{self.bucket}"

    async def _bucket(self) -> Any:
        if self._kv is None:
            self._kv = await ensure_bucket(self._nc.jetstream(), self.bucket)
        return self._kv

    @staticmethod
    def _check(token_id: str) -> str:
        if not token_id.isalnum():
            raise ValueError(f"invalid background task id {token_id!r}")
        return token_id

    async def put_record(self, token_id: str, record: dict[str, Any]) -> None:
        kv = await self._bucket()
        await kv.put(f"{self._check(token_id)}.record", json.dumps(record).encode())

    async def get_record(self, token_id: str) -> dict[str, Any] | None:
        entry = await kv_get(await self._bucket(), f"{self._check(token_id)}.record")
        if entry is None or entry.value is None:
            return None
        data = json.loads(entry.value)
        return data if isinstance(data, dict) else None

    async def add_chunk(self, token_id: str, seq: int, chunk: dict[str, Any]) -> None:
        kv = await self._bucket()
        body = json.dumps({"seq": seq, **chunk}).encode()
        await kv.put(f"{self._check(token_id)}.c.{seq}", body)

    async def get_chunks(self, token_id: str, after: int) -> list[dict[str, Any]]:
        kv = await self._bucket()
        out: list[dict[str, Any]] = []
        seq = after + 1
        while True:
            entry = await kv_get(kv, f"{self._check(token_id)}.c.{seq}")
            if entry is None or entry.value is None:
                return out
            out.append(json.loads(entry.value))
            seq += 1
