"""RedisCheckpointStorage: checkpoints and run journals in Redis (redis-py asyncio)."""

from __future__ import annotations

import builtins
import json
import textwrap
from typing import Any

from agentic_nb._optional import require
from agentic_nb.workflow._checkpoint import Checkpoint, CheckpointInfo


class RedisCheckpointStorage:
    """Checkpoint storage on Redis, for runs that must survive the machine.

    Keys (``prefix`` defaults to ``agentic``)::

        <prefix>:cp:<checkpoint_id>            checkpoint JSON
        <prefix>:run:<run_id>:cps              sorted set of checkpoint ids, by save order
        <prefix>:run:<run_id>:info             hash checkpoint_id -> light metadata JSON
        <prefix>:run:<run_id>:journal          list of journal records (JSON), append-only
        <prefix>:run:<run_id>:seq              counter giving the save order
        <prefix>:runs                          sorted set of run ids by last write time

    Every key of a run gets a TTL of ``ttl_days`` (refreshed on each write) when set.
    Pass a URL (``redis://127.0.0.1:6379/0``) or an existing ``redis.asyncio.Redis``.

    Example::

        >>> store = RedisCheckpointStorage("redis://127.0.0.1:6379/0", ttl_days=7)
        >>> store.prefix
        'agentic'
    """

    # The key table of the docstring above, as text (documentation kept in one place).
    KEY_LAYOUT = (
        textwrap.dedent(__doc__.split("::")[1].split("\n\n    Every")[0]).strip("\n")
        if __doc__
        else ""
    )

    def __init__(
        self,
        url_or_client: Any = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "agentic",
        ttl_days: float | None = None,
    ) -> None:
        if ttl_days is not None and ttl_days <= 0:
            raise ValueError(f"ttl_days must be > 0 (or None for no expiry), got {ttl_days}")
        self.prefix = prefix
        self.ttl_seconds = int(ttl_days * 86400) if ttl_days is not None else None
        self._client = url_or_client if not isinstance(url_or_client, str) else None
        self._url = url_or_client if isinstance(url_or_client, str) else None

    @property
    def client(self) -> Any:
        if self._client is None:
            redis_asyncio = require("redis.asyncio", "redis")
            self._client = redis_asyncio.from_url(self._url, decode_responses=True)
        return self._client

    def __repr__(self) -> str:
        where = self._url or type(self._client).__name__
        return f"RedisCheckpointStorage({where!r}, prefix={self.prefix!r})"

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _k(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def _touch(self, pipe: Any, run_id: str) -> None:
        if self.ttl_seconds is None:
            return
        for suffix in ("cps", "info", "journal", "seq"):
            pipe.expire(self._k("run", run_id, suffix), self.ttl_seconds)

    async def save(self, checkpoint: Checkpoint) -> None:
        import time

        r = self.client
        run = checkpoint.run_id
        seq = await r.incr(self._k("run", run, "seq"))
        info = checkpoint.info()
        async with r.pipeline(transaction=True) as pipe:
            pipe.set(
                self._k("cp", checkpoint.checkpoint_id), checkpoint.to_json(), ex=self.ttl_seconds
            )
            pipe.zadd(self._k("run", run, "cps"), {checkpoint.checkpoint_id: seq})
            pipe.hset(
                self._k("run", run, "info"), checkpoint.checkpoint_id, json.dumps(info.__dict__)
            )
            pipe.zadd(self._k("runs"), {run: time.time()})
            await self._touch(pipe, run)
            await pipe.execute()

    async def get(self, checkpoint_id: str) -> Checkpoint | None:
        text = await self.client.get(self._k("cp", checkpoint_id))
        return Checkpoint.from_json(text) if text is not None else None

    async def latest(self, run_id: str) -> Checkpoint | None:
        ids = await self.client.zrange(self._k("run", run_id, "cps"), -1, -1)
        return await self.get(ids[0]) if ids else None

    async def list(
        self, run_id: str | None = None, *, workflow: str | None = None
    ) -> list[CheckpointInfo]:
        r = self.client
        runs = [run_id] if run_id is not None else await r.zrange(self._k("runs"), 0, -1)
        out: list[CheckpointInfo] = []
        for run in runs:
            ids = await r.zrange(self._k("run", run, "cps"), 0, -1)
            if not ids:
                continue
            raw = await r.hmget(self._k("run", run, "info"), ids)
            out.extend(CheckpointInfo(**json.loads(x)) for x in raw if x is not None)
        if workflow is not None:
            out = [i for i in out if i.workflow == workflow]
        return sorted(out, key=lambda i: (i.created_at, i.superstep))

    async def delete(self, run_id: str) -> int:
        r = self.client
        ids = await r.zrange(self._k("run", run_id, "cps"), 0, -1)
        async with r.pipeline(transaction=True) as pipe:
            for cid in ids:
                pipe.delete(self._k("cp", cid))
            for suffix in ("cps", "info", "journal", "seq"):
                pipe.delete(self._k("run", run_id, suffix))
            pipe.zrem(self._k("runs"), run_id)
            await pipe.execute()
        return len(ids)

    async def keep_last(self, run_id: str, n: int) -> int:
        if n < 0:
            raise ValueError(f"keep_last needs n >= 0, got {n}")
        r = self.client
        key = self._k("run", run_id, "cps")
        ids = await r.zrange(key, 0, -1)
        drop = ids[: max(0, len(ids) - n)]
        if not drop:
            return 0
        async with r.pipeline(transaction=True) as pipe:
            for cid in drop:
                pipe.delete(self._k("cp", cid))
            pipe.zrem(key, *drop)
            pipe.hdel(self._k("run", run_id, "info"), *drop)
            await pipe.execute()
        return len(drop)

    async def append(self, run_id: str, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), allow_nan=False)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.rpush(self._k("run", run_id, "journal"), line)
            await self._touch(pipe, run_id)
            await pipe.execute()

    async def journal(self, run_id: str) -> builtins.list[dict[str, Any]]:
        lines = await self.client.lrange(self._k("run", run_id, "journal"), 0, -1)
        return [json.loads(x) for x in lines]
