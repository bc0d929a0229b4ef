"""NatsKvChatMessageStore: agent thread messages in the ``agentic_threads`` KV bucket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from agentic_nb.workflow.codec import decode, encode

from ._streams import THREADS_BUCKET, ensure_bucket, kv_get
from ._subjects import encode_token


class NatsKvChatMessageStore:
    """A ``ChatMessageStore`` (see ``agentic_nb.agents``) backed by NATS KV.

    Each thread is one key, ``thread.<id>.messages``, holding the codec-encoded
    message list. Appends use optimistic concurrency (``update`` on the last
    revision, retried on conflict), so two processes appending to one thread
    never lose each other's messages.

    Example::

        >>> import asyncio
        >>> from agentic_nb.llm import ChatMessage
        >>> from agentic_nb.nats import LocalNatsServer, connect
        >>> async def main(url):
        ...     nc = await connect(url)
        ...     store = NatsKvChatMessageStore(nc)
        ...     await store.add_messages("t.1", [ChatMessage.user("hi")])
        ...     msgs = await store.list_messages("t.1")
        ...     await nc.close()
        ...     return [m.text for m in msgs]
        >>> with LocalNatsServer() as server:
        ...     asyncio.run(main(server.url))
        ['hi']
    """

    def __init__(self, connection: Any, *, bucket: str = THREADS_BUCKET) -> None:
        self.nc = connection
        self.bucket = bucket
        self._kv: Any = None

    async def _store(self) -> Any:
        if self._kv is None:
            self._kv = await ensure_bucket(self.nc.jetstream(), self.bucket)
        return self._kv

    @staticmethod
    def _key(thread_id: str) -> str:
        return f"thread.{encode_token(thread_id)}.messages"

    async def _entry(self, thread_id: str) -> Any:
        return await kv_get(await self._store(), self._key(thread_id))

    async def list_messages(self, thread_id: str) -> list[Any]:
        entry = await self._entry(thread_id)
        if entry is None or not entry.value:
            return []
        return list(decode(json.loads(entry.value)))

    async def add_messages(self, thread_id: str, messages: Sequence[Any]) -> None:
        kv = await self._store()
        new = [encode(m) for m in messages]
        key = self._key(thread_id)
        for attempt in range(50):
            entry = await self._entry(thread_id)
            old = json.loads(entry.value) if entry is not None and entry.value else []
            body = json.dumps(old + new, separators=(",", ":")).encode()
            try:
                if entry is None:
                    await kv.create(key, body)
                else:
                    await kv.update(key, body, last=entry.revision)
                return
            except Exception as exc:  # wrong last sequence: someone appended meanwhile
                if "wrong last sequence" not in str(exc) and "key exists" not in str(exc):
                    raise
                await asyncio.sleep(0.005 * (attempt + 1))
        raise RuntimeError(f"could not append to thread {thread_id!r}: too much contention")

    async def clear(self, thread_id: str) -> None:
        kv = await self._store()
        await kv.purge(self._key(thread_id))
