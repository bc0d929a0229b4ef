"""NatsKvCheckpointStorage: checkpoints and run journals in a JetStream KV bucket."""

from __future__ import annotations

import builtins
import json
import uuid
from typing import Any

from agentic_nb.workflow._checkpoint import Checkpoint, CheckpointError, CheckpointInfo

from ._streams import CHECKPOINTS_BUCKET, ensure_bucket, kv_get, kv_keys
from ._subjects import encode_token


class NatsKvCheckpointStorage:
    """Checkpoint storage in the KV bucket ``agentic_checkpoints`` (one bucket, many runs).

    Keys (run and checkpoint ids encoded as single tokens):
    ``cp.<run>.<checkpoint>`` the checkpoint JSON, ``meta.<run>.<checkpoint>`` its
    light :class:`~agentic_nb.workflow.CheckpointInfo`, ``idx.<checkpoint>`` the run
    it belongs to, ``jr.<run>.<uuid>`` journal records (ordered by KV revision).
    Every write waits for the JetStream acknowledgement; a failed write raises
    :class:`~agentic_nb.workflow.CheckpointError` naming the bucket and key, so the
    superstep fails instead of losing a checkpoint. A checkpoint must fit in the
    server's ``max_payload`` (1 MiB by default).

    Example::

        >>> import asyncio
        >>> from agentic_nb.nats import LocalNatsServer, connect
        >>> from agentic_nb.workflow import Checkpoint
        >>> async def main(url):
        ...     nc = await connect(url)
        ...     store = NatsKvCheckpointStorage(nc)
        ...     await store.save(Checkpoint(checkpoint_id="c1", run_id="r", workflow="w",
        ...                                 graph_hash="h", superstep=0))
        ...     cp = await store.latest("r")
        ...     await nc.close()
        ...     return cp.checkpoint_id
        >>> with LocalNatsServer() as server:
        ...     asyncio.run(main(server.url))
        'c1'
    """

    def __init__(self, connection: Any, *, bucket: str = CHECKPOINTS_BUCKET) -> None:
        self.nc = connection
        self.bucket = bucket
        self._kv: Any = None

    async def _store(self) -> Any:
        if self._kv is None:
            try:
                self._kv = await ensure_bucket(self.nc.jetstream(), self.bucket, history=1)
            except Exception as exc:
                raise CheckpointError(
                    f"cannot open NATS KV bucket {self.bucket!r}: {type(exc).__name__}: {exc}"
                ) from exc
        return self._kv

    async def _put(self, key: str, value: bytes) -> int:
        kv = await self._store()
        try:
            return int(await kv.put(key, value))
        except Exception as exc:
            raise CheckpointError(
                f"writing {key!r} to NATS KV bucket {self.bucket!r} failed "
                f"({type(exc).__name__}: {exc}); the checkpoint was NOT saved"
            ) from exc

    async def _keys(self, pattern: str) -> builtins.list[str]:
        return await kv_keys(await self._store(), pattern)

    async def _get(self, key: str) -> Any:
        return await kv_get(await self._store(), key)

    async def _delete(self, key: str) -> None:
        kv = await self._store()
        await kv.purge(key)

    # -------------------------------------------------------------- protocol
    async def save(self, checkpoint: Checkpoint) -> None:
        run = encode_token(checkpoint.run_id)
        cid = encode_token(checkpoint.checkpoint_id)
        info = checkpoint.info()
        await self._put(f"cp.{run}.{cid}", checkpoint.to_json().encode())
        existing = await self._get(f"meta.{run}.{cid}")
        order = json.loads(existing.value)["_order"] if existing is not None else None
        rev = await self._put(f"idx.{cid}", run.encode())
        body = {**info.__dict__, "_order": order if order is not None else rev}
        await self._put(f"meta.{run}.{cid}", json.dumps(body, separators=(",", ":")).encode())

    async def get(self, checkpoint_id: str) -> Checkpoint | None:
        cid = encode_token(checkpoint_id)
        idx = await self._get(f"idx.{cid}")
        if idx is None:
            return None
        entry = await self._get(f"cp.{idx.value.decode()}.{cid}")
        return Checkpoint.from_json(entry.value) if entry is not None else None

    async def _metas(self, run_id: str | None) -> builtins.list[dict[str, Any]]:
        pattern = f"meta.{encode_token(run_id)}.*" if run_id is not None else "meta.>"
        out = []
        for key in await self._keys(pattern):
            entry = await self._get(key)
            if entry is not None:
                out.append(json.loads(entry.value))
        out.sort(key=lambda m: m["_order"])
        return out

    async def latest(self, run_id: str) -> Checkpoint | None:
        metas = await self._metas(run_id)
        return await self.get(metas[-1]["checkpoint_id"]) if metas else None

    async def list(
        self, run_id: str | None = None, *, workflow: str | None = None
    ) -> builtins.list[CheckpointInfo]:
        infos = [
            CheckpointInfo(**{k: v for k, v in m.items() if k != "_order"})
            for m in await self._metas(run_id)
        ]
        if workflow is not None:
            infos = [i for i in infos if i.workflow == workflow]
        return sorted(infos, key=lambda i: (i.created_at, i.superstep))

    async def _drop(self, run: str, metas: builtins.list[dict[str, Any]]) -> None:
        for m in metas:
            cid = encode_token(m["checkpoint_id"])
            await self._delete(f"cp.{run}.{cid}")
            await self._delete(f"meta.{run}.{cid}")
            await self._delete(f"idx.{cid}")

    async def delete(self, run_id: str) -> int:
        run = encode_token(run_id)
        metas = await self._metas(run_id)
        await self._drop(run, metas)
        for key in await self._keys(f"jr.{run}.*"):
            await self._delete(key)
        return len(metas)

    async def keep_last(self, run_id: str, n: int) -> int:
        if n < 0:
            raise ValueError(f"keep_last needs n >= 0, got {n}")
        metas = await self._metas(run_id)
        drop = metas[: max(0, len(metas) - n)]
        await self._drop(encode_token(run_id), drop)
        return len(drop)

    async def append(self, run_id: str, record: dict[str, Any]) -> None:
        body = json.dumps(record, separators=(",", ":"), allow_nan=False).encode()
        await self._put(f"jr.{encode_token(run_id)}.{uuid.uuid4().hex}", body)

    async def journal(self, run_id: str) -> builtins.list[dict[str, Any]]:
        entries = []
        for key in await self._keys(f"jr.{encode_token(run_id)}.*"):
            entry = await self._get(key)
            if entry is not None:
                entries.append(entry)
        entries.sort(key=lambda e: e.revision)
        return [json.loads(e.value) for e in entries]

    def __repr__(self) -> str:
        return f"NatsKvCheckpointStorage(bucket={self.bucket!r})"
