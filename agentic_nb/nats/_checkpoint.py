"""NatsKvCheckpointStorage: checkpoints, run journals and leases in a JetStream KV bucket."""

from __future__ import annotations

import builtins
import json
import uuid
from typing import Any

from agentic_nb._optional import require
from agentic_nb.workflow import (
    Checkpoint,
    CheckpointCorruptError,
    CheckpointError,
    CheckpointInfo,
    Lease,
    RunSummary,
)
from agentic_nb.workflow.codec import decode
from agentic_nb.workflow.storage import (
    DEFAULT_KEEP_LAST,
    DEFAULT_LEASE_TTL,
    answer_conflict,
    answer_id,
    check_n,
    check_retention,
    corrupt_summary,
    dump_record,
    is_stale,
    latest_readable,
    locked_error,
    lost_error,
    new_lease,
    read_journal,
    renewed,
    run_summaries,
    summarize_run,
    unseal,
    validate_ttl,
)

from ._streams import CHECKPOINTS_BUCKET, ensure_bucket, kv_get, kv_keys
from ._subjects import encode_token


class NatsKvCheckpointStorage:
    """Checkpoint storage in the KV bucket ``agentic_checkpoints`` (one bucket, many runs).

    Keys (run and checkpoint ids encoded as single tokens):
    ``cp.<run>.<checkpoint>`` the checkpoint JSON, ``meta.<run>.<checkpoint>`` its
    light :class:`~agentic_nb.workflow.CheckpointInfo`, ``idx.<checkpoint>`` the run
    it belongs to, ``jr.<run>.<uuid>`` journal records (ordered by KV revision),
    ``jr.<run>.a-<request>`` an answer (created once: a second, different answer is
    refused by the server), ``lease.<run>`` the lease owner record with its fencing
    token (taken with create / update-with-expected-revision). Checkpoints and
    records carry checksums; damage raises
    :class:`~agentic_nb.workflow.CheckpointCorruptError`.
    Every write waits for the JetStream acknowledgement; a failed write raises
    :class:`~agentic_nb.workflow.CheckpointError` naming the bucket and key, so the
    superstep fails instead of losing a checkpoint. A write with ``lease=`` first
    checks that the lease's token is still the newest (a take-over landing between
    that check and the write is caught at the next write). ``keep_last`` (default
    ``DEFAULT_KEEP_LAST``, ``None`` for all) checkpoints are kept per run. A
    checkpoint must fit in the server's ``max_payload`` (1 MiB by default). In
    ``runs()``, ``updated_at`` is the time of the run's latest checkpoint.

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

    def __init__(
        self,
        connection: Any,
        *,
        bucket: str = CHECKPOINTS_BUCKET,
        keep_last: int | None = DEFAULT_KEEP_LAST,
    ) -> None:
        self.nc = connection
        self.bucket = bucket
        self.keep_last_n = check_retention(keep_last)
        self._kv: Any = None
        self._order: dict[str, list[str]] = {}

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

    async def _create(self, key: str, value: bytes) -> bool:
        """Create ``key``; False when it exists already (with our value or another).

        A create whose acknowledgement timed out may still have been stored: the key
        is read back before trying again, so a retry never reports a false conflict.
        """
        errors = require("nats.js.errors", "nats")
        nats_errors = require("nats.errors", "nats")
        kv = await self._store()
        for attempt in range(3):
            try:
                await kv.create(key, value)
                return True
            except errors.KeyWrongLastSequenceError:
                return False
            except (nats_errors.TimeoutError, TimeoutError) as exc:
                entry = await self._get(key)
                if entry is not None:
                    return bytes(entry.value) == value
                if attempt == 2:
                    raise CheckpointError(
                        f"writing {key!r} to NATS KV bucket {self.bucket!r} timed out 3 "
                        f"times; nothing was recorded"
                    ) from exc
            except Exception as exc:
                raise CheckpointError(
                    f"writing {key!r} to NATS KV bucket {self.bucket!r} failed "
                    f"({type(exc).__name__}: {exc}); nothing was recorded"
                ) from exc
        raise AssertionError("unreachable")

    async def _update(self, key: str, value: bytes, last: int) -> bool:
        """Update ``key`` if its revision is still ``last``; False when it changed."""
        errors = require("nats.js.errors", "nats")
        kv = await self._store()
        try:
            await kv.update(key, value, last=last)
            return True
        except errors.KeyWrongLastSequenceError:
            return False

    async def _keys(self, pattern: str) -> builtins.list[str]:
        return await kv_keys(await self._store(), pattern)

    async def _get(self, key: str) -> Any:
        return await kv_get(await self._store(), key)

    async def _delete(self, key: str) -> None:
        kv = await self._store()
        await kv.purge(key)

    # ------------------------------------------------------------- writes
    async def _check_fence(self, run_id: str, lease: Lease | None) -> None:
        if lease is None:
            return
        entry = await self._get(f"lease.{encode_token(run_id)}")
        token = json.loads(entry.value).get("token") if entry is not None else None
        if token != lease.token:
            raise lost_error(self, lease, token)

    async def save(self, checkpoint: Checkpoint, *, lease: Lease | None = None) -> None:
        await self._check_fence(checkpoint.run_id, lease)
        run = encode_token(checkpoint.run_id)
        cid = encode_token(checkpoint.checkpoint_id)
        info = checkpoint.info()
        await self._put(f"cp.{run}.{cid}", checkpoint.to_json().encode())
        existing = await self._get(f"meta.{run}.{cid}")
        order = json.loads(existing.value)["_order"] if existing is not None else None
        rev = await self._put(f"idx.{cid}", run.encode())
        body = {**info.__dict__, "_order": order if order is not None else rev}
        await self._put(f"meta.{run}.{cid}", json.dumps(body, separators=(",", ":")).encode())
        if self.keep_last_n is None:
            return
        ids = self._order.get(checkpoint.run_id)
        if ids is None:
            metas = await self._metas(checkpoint.run_id)
            ids = self._order[checkpoint.run_id] = [m["checkpoint_id"] for m in metas]
        if checkpoint.checkpoint_id not in ids:
            ids.append(checkpoint.checkpoint_id)
        if len(ids) > self.keep_last_n:
            drop = ids[: len(ids) - self.keep_last_n]
            del ids[: len(drop)]
            await self._drop(run, [{"checkpoint_id": c} for c in drop])

    async def append(
        self, run_id: str, record: dict[str, Any], *, lease: Lease | None = None
    ) -> None:
        if record.get("k") == "answer":
            await self.record_answer_once(run_id, record, lease=lease)
            return
        await self._check_fence(run_id, lease)
        body = dump_record(record).encode()
        await self._put(f"jr.{encode_token(run_id)}.{uuid.uuid4().hex}", body)

    async def record_answer_once(
        self, run_id: str, record: dict[str, Any], *, lease: Lease | None = None
    ) -> None:
        rid = answer_id(record)
        if lease is not None:
            await self._check_fence(run_id, lease)
        else:
            holder = await self._lease_record(run_id)
            if holder is not None and not is_stale(holder[0]):
                raise locked_error(self, run_id, holder[0])
        body = dump_record(record)
        key = f"jr.{encode_token(run_id)}.a-{encode_token(rid)}"
        if await self._create(key, body.encode()):
            return
        entry = await self._get(key)
        if entry is not None and entry.value.decode() == body:
            return
        existing = unseal(entry.value)[0].get("v") if entry is not None else None
        raise answer_conflict(self, run_id, rid, decode(existing))

    # -------------------------------------------------------------- reads
    async def get(self, checkpoint_id: str) -> Checkpoint | None:
        cid = encode_token(checkpoint_id)
        idx = await self._get(f"idx.{cid}")
        if idx is None:
            return None
        key = f"cp.{idx.value.decode()}.{cid}"
        entry = await self._get(key)
        if entry is None:
            return None
        return Checkpoint.from_json(
            entry.value, storage=self, file=f"key {key}", checkpoint_id=checkpoint_id
        )

    async def _metas(self, run_id: str | None) -> builtins.list[dict[str, Any]]:
        pattern = f"meta.{encode_token(run_id)}.*" if run_id is not None else "meta.>"
        out = []
        for key in await self._keys(pattern):
            entry = await self._get(key)
            if entry is None:
                continue
            try:
                out.append(json.loads(entry.value))
            except ValueError as exc:
                raise CheckpointCorruptError(
                    f"checkpoint metadata {key!r} in {self!r} is damaged ({exc})",
                    storage=repr(self),
                    run_id=run_id,
                    file=f"key {key}",
                ) from None
        out.sort(key=lambda m: m["_order"])
        return out

    async def latest(self, run_id: str) -> Checkpoint | None:
        metas = await self._metas(run_id)
        return await latest_readable(
            self, run_id, [m["checkpoint_id"] for m in reversed(metas)], self.get
        )

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

    async def _journal_entries(self, run_id: str) -> builtins.list[Any]:
        entries = []
        for key in await self._keys(f"jr.{encode_token(run_id)}.*"):
            entry = await self._get(key)
            if entry is not None:
                entries.append(entry)
        entries.sort(key=lambda e: e.revision)
        return entries

    async def journal(self, run_id: str) -> builtins.list[dict[str, Any]]:
        entries = await self._journal_entries(run_id)
        return read_journal(
            [e.value for e in entries],
            storage=self,
            run_id=run_id,
            where=lambda i: f"key {entries[i].key!r}",
        )

    async def runs(self, workflow: str | None = None) -> builtins.list[RunSummary]:
        updated: dict[str, float] = {}
        for m in await self._metas(None):
            updated[m["run_id"]] = max(updated.get(m["run_id"], 0.0), m["created_at"])

        async def one(run_id: str) -> RunSummary | None:
            try:
                cp = await self.latest(run_id)
                if cp is None:
                    return None
                return summarize_run(cp, await self.journal(run_id), updated[run_id])
            except CheckpointCorruptError:
                entries = await self._journal_entries(run_id)
                return corrupt_summary(run_id, [e.value for e in entries[:1]], updated[run_id])

        return await run_summaries(list(updated), one, workflow)

    # ---------------------------------------------------------- retention
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
        self._order.pop(run_id, None)
        return len(metas)

    async def keep_last(self, run_id: str, n: int) -> int:
        check_n(n)
        metas = await self._metas(run_id)
        drop = metas[: max(0, len(metas) - n)]
        await self._drop(encode_token(run_id), drop)
        self._order.pop(run_id, None)
        return len(drop)

    # ------------------------------------------------------------- leases
    async def _lease_record(self, run_id: str) -> tuple[dict[str, Any], int] | None:
        entry = await self._get(f"lease.{encode_token(run_id)}")
        if entry is None:
            return None
        return json.loads(entry.value), int(entry.revision)

    async def acquire_lease(
        self, run_id: str, owner: str, ttl: float = DEFAULT_LEASE_TTL, take_over: bool = False
    ) -> Lease:
        ttl = validate_ttl(ttl)
        key = f"lease.{encode_token(run_id)}"
        for _ in range(20):
            current = await self._lease_record(run_id)
            if current is None:
                lease = new_lease(run_id, owner, 1, ttl)
                if await self._create(key, json.dumps(lease.holder()).encode()):
                    return lease
                continue
            holder, revision = current
            if holder.get("owner") == owner and not holder.get("released"):
                lease = renewed(Lease(**holder))
            elif take_over or is_stale(holder):
                lease = new_lease(run_id, owner, int(holder.get("token", 0)) + 1, ttl)
            else:
                raise locked_error(self, run_id, holder)
            if await self._update(key, json.dumps(lease.holder()).encode(), revision):
                return lease
        raise CheckpointError(f"the lease of run {run_id!r} in {self!r} keeps changing hands")

    async def renew_lease(self, lease: Lease) -> Lease:
        current = await self._lease_record(lease.run_id)
        if current is None or current[0].get("token") != lease.token:
            raise lost_error(self, lease, current[0].get("token") if current else None)
        fresh = renewed(lease)
        key = f"lease.{encode_token(lease.run_id)}"
        if not await self._update(key, json.dumps(fresh.holder()).encode(), current[1]):
            return await self.renew_lease(lease)
        return fresh

    async def release_lease(self, lease: Lease) -> None:
        current = await self._lease_record(lease.run_id)
        if current is None or current[0].get("token") != lease.token:
            return
        body = json.dumps({**lease.holder(), "released": True}).encode()
        await self._update(f"lease.{encode_token(lease.run_id)}", body, current[1])

    def __repr__(self) -> str:
        return f"NatsKvCheckpointStorage(bucket={self.bucket!r})"
