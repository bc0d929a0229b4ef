"""RedisCheckpointStorage: checkpoints, run journals and leases in Redis (redis-py asyncio)."""

from __future__ import annotations

import builtins
import json
import textwrap
import time
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
    holder_gone,
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

# Refresh the expiry of every key of a run, its checkpoints included, together.
_TOUCH = """
local function touch(prefix, run, ttl)
  if ttl <= 0 then return end
  local base = prefix .. ':run:' .. run .. ':'
  for _, s in ipairs({'cps', 'info', 'journal', 'seq', 'fence', 'answers'}) do
    redis.call('EXPIRE', base .. s, ttl)
  end
  for _, id in ipairs(redis.call('ZRANGE', base .. 'cps', 0, -1)) do
    redis.call('EXPIRE', prefix .. ':cp:' .. id, ttl)
  end
end
local function fenced(prefix, run, token)
  if token == '' then return false end
  local cur = redis.call('GET', prefix .. ':run:' .. run .. ':fence')
  if cur ~= token then return tostring(cur) end
  return false
end
"""

# ARGV: prefix, run, cid, cp_json, info_json, now, ttl, keep, token
_SAVE = (
    _TOUCH
    + """
local prefix, run, cid = ARGV[1], ARGV[2], ARGV[3]
local lost = fenced(prefix, run, ARGV[9])
if lost then return {'lost', lost} end
local base = prefix .. ':run:' .. run .. ':'
local seq = redis.call('INCR', base .. 'seq')
redis.call('SET', prefix .. ':cp:' .. cid, ARGV[4])
redis.call('ZADD', base .. 'cps', seq, cid)
redis.call('HSET', base .. 'info', cid, ARGV[5])
redis.call('ZADD', prefix .. ':runs', ARGV[6], run)
local keep = tonumber(ARGV[8])
if keep > 0 then
  local n = redis.call('ZCARD', base .. 'cps')
  if n > keep then
    local old = redis.call('ZRANGE', base .. 'cps', 0, n - keep - 1)
    for _, id in ipairs(old) do redis.call('DEL', prefix .. ':cp:' .. id) end
    redis.call('ZREM', base .. 'cps', unpack(old))
    redis.call('HDEL', base .. 'info', unpack(old))
  end
end
touch(prefix, run, tonumber(ARGV[7]))
return {'ok'}
"""
)

# ARGV: prefix, run, line, now, ttl, token, answer_id ('' for other records), need_free
_APPEND = (
    _TOUCH
    + """
local prefix, run = ARGV[1], ARGV[2]
local base = prefix .. ':run:' .. run .. ':'
local lost = fenced(prefix, run, ARGV[6])
if lost then return {'lost', lost} end
if ARGV[8] == '1' and redis.call('EXISTS', base .. 'lease') == 1 then
  return {'locked'}
end
if ARGV[7] ~= '' then
  local prev = redis.call('HGET', base .. 'answers', ARGV[7])
  if prev then
    if prev == ARGV[3] then return {'ok'} end
    return {'answered', prev}
  end
  redis.call('HSET', base .. 'answers', ARGV[7], ARGV[3])
end
redis.call('RPUSH', base .. 'journal', ARGV[3])
redis.call('ZADD', prefix .. ':runs', ARGV[4], run)
touch(prefix, run, tonumber(ARGV[5]))
return {'ok'}
"""
)

# ARGV: prefix, run, owner, ttl_ms, record_json, take_token ('' = only if free)
_ACQUIRE = """
local base = ARGV[1] .. ':run:' .. ARGV[2] .. ':'
local cur = redis.call('GET', base .. 'lease')
if cur then
  local h = cjson.decode(cur)
  local same = h['owner'] == ARGV[3] and tostring(h['token']) == redis.call('GET', base .. 'fence')
  if not same and ARGV[6] ~= tostring(h['token']) then return {'held', cur} end
  if same then
    redis.call('PEXPIRE', base .. 'lease', ARGV[4])
    return {'same', cur}
  end
end
local t = redis.call('INCR', base .. 'fence')
local rec = cjson.decode(ARGV[5])
rec['token'] = t
local text = cjson.encode(rec)
redis.call('SET', base .. 'lease', text, 'PX', ARGV[4])
return {'new', text}
"""

# ARGV: prefix, run, token, ttl_ms, record_json
_RENEW = """
local base = ARGV[1] .. ':run:' .. ARGV[2] .. ':'
local fence = redis.call('GET', base .. 'fence')
if fence ~= ARGV[3] then return {'lost', tostring(fence)} end
redis.call('SET', base .. 'lease', ARGV[5], 'PX', ARGV[4])
return {'ok'}
"""

# ARGV: prefix, run, token
_RELEASE = """
local base = ARGV[1] .. ':run:' .. ARGV[2] .. ':'
local cur = redis.call('GET', base .. 'lease')
if cur and tostring(cjson.decode(cur)['token']) == ARGV[3] then
  redis.call('DEL', base .. 'lease')
end
return {'ok'}
"""


class RedisCheckpointStorage:
    """Checkpoint storage on Redis, for runs that must survive the machine.

    Keys (``prefix`` defaults to ``agentic``)::

        <prefix>:cp:<checkpoint_id>            checkpoint JSON (with checksum)
        <prefix>:run:<run_id>:cps              sorted set of checkpoint ids, by save order
        <prefix>:run:<run_id>:info             hash checkpoint_id -> light metadata JSON
        <prefix>:run:<run_id>:journal          list of journal records (JSON), append-only
        <prefix>:run:<run_id>:answers          hash request_id -> its answer record (set once)
        <prefix>:run:<run_id>:seq              counter giving the save order
        <prefix>:run:<run_id>:fence            fencing token of the newest lease
        <prefix>:run:<run_id>:lease            owner record of the live lease (expires)
        <prefix>:runs                          sorted set of run ids by last write time

    Every key of a run, its checkpoints included, gets a TTL of ``ttl_days``,
    refreshed together on each write (one Lua script), when set. Each write is one
    Lua script too: the fencing token of a ``lease=`` is checked atomically with the
    write, an answer is recorded at most once per request, and the ``keep_last``
    newest checkpoints (default ``DEFAULT_KEEP_LAST``, ``None`` for all) are kept.
    Pass a URL (``redis://127.0.0.1:6379/0``) or an existing ``redis.asyncio.Redis``
    (created with ``decode_responses=True``).

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
        keep_last: int | None = DEFAULT_KEEP_LAST,
    ) -> None:
        if ttl_days is not None and ttl_days <= 0:
            raise ValueError(f"ttl_days must be > 0 (or None for no expiry), got {ttl_days}")
        self.prefix = prefix
        self.ttl_seconds = int(ttl_days * 86400) if ttl_days is not None else None
        self.keep_last_n = check_retention(keep_last)
        self._client = url_or_client if not isinstance(url_or_client, str) else None
        self._url = url_or_client if isinstance(url_or_client, str) else None
        self._scripts: dict[str, Any] = {}

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
            self._scripts = {}

    def _k(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def _run(self, name: str, source: str, *args: Any) -> list[Any]:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.client.register_script(source)
        result: list[Any] = await script(keys=[], args=[self.prefix, *args])
        return result

    def _lost(self, run_id: str, lease: Lease | None, result: list[Any]) -> None:
        if result[0] == "lost":
            assert lease is not None
            raise lost_error(self, lease, result[1])

    # ------------------------------------------------------------- writes
    async def save(self, checkpoint: Checkpoint, *, lease: Lease | None = None) -> None:
        info = json.dumps(checkpoint.info().__dict__)
        result = await self._run(
            "save",
            _SAVE,
            checkpoint.run_id,
            checkpoint.checkpoint_id,
            checkpoint.to_json(),
            info,
            time.time(),
            self.ttl_seconds or 0,
            self.keep_last_n or 0,
            str(lease.token) if lease is not None else "",
        )
        self._lost(checkpoint.run_id, lease, result)

    async def append(
        self, run_id: str, record: dict[str, Any], *, lease: Lease | None = None
    ) -> None:
        if record.get("k") == "answer":
            await self.record_answer_once(run_id, record, lease=lease)
            return
        await self._append(run_id, dump_record(record), lease, "", False)

    async def record_answer_once(
        self, run_id: str, record: dict[str, Any], *, lease: Lease | None = None
    ) -> None:
        rid = answer_id(record)
        await self._append(run_id, dump_record(record), lease, rid, lease is None)

    async def _append(
        self, run_id: str, line: str, lease: Lease | None, rid: str, need_free: bool
    ) -> None:
        result = await self._run(
            "append",
            _APPEND,
            run_id,
            line,
            time.time(),
            self.ttl_seconds or 0,
            str(lease.token) if lease is not None else "",
            rid,
            "1" if need_free else "0",
        )
        self._lost(run_id, lease, result)
        if result[0] == "locked":
            holder = await self._holder(run_id)
            if holder is not None and holder_gone(holder):
                await self.client.delete(self._k("run", run_id, "lease"))
                await self._append(run_id, line, lease, rid, need_free)
                return
            raise locked_error(self, run_id, holder or {})
        if result[0] == "answered":
            raise answer_conflict(self, run_id, rid, decode(unseal(result[1])[0].get("v")))

    # -------------------------------------------------------------- reads
    async def get(self, checkpoint_id: str) -> Checkpoint | None:
        text = await self.client.get(self._k("cp", checkpoint_id))
        if text is None:
            return None
        return Checkpoint.from_json(text, storage=self, checkpoint_id=checkpoint_id)

    async def latest(self, run_id: str) -> Checkpoint | None:
        ids = await self.client.zrange(self._k("run", run_id, "cps"), 0, -1)
        return await latest_readable(self, run_id, reversed(ids), self.get)

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
            for cid, x in zip(ids, raw, strict=True):
                if x is None:
                    continue
                try:
                    out.append(CheckpointInfo(**json.loads(x)))
                except (ValueError, TypeError) as exc:
                    raise CheckpointCorruptError(
                        f"the metadata of checkpoint {cid!r} of run {run!r} in {self!r} is "
                        f"damaged ({exc})",
                        storage=repr(self),
                        run_id=run,
                        checkpoint_id=cid,
                    ) from None
        if workflow is not None:
            out = [i for i in out if i.workflow == workflow]
        return sorted(out, key=lambda i: (i.created_at, i.superstep))

    async def journal(self, run_id: str) -> builtins.list[dict[str, Any]]:
        lines = await self.client.lrange(self._k("run", run_id, "journal"), 0, -1)
        return read_journal(lines, storage=self, run_id=run_id)

    async def runs(self, workflow: str | None = None) -> builtins.list[RunSummary]:
        r = self.client
        scored = dict(await r.zrange(self._k("runs"), 0, -1, withscores=True))

        async def one(run_id: str) -> RunSummary | None:
            updated = float(scored[run_id])
            try:
                cp = await self.latest(run_id)
                if cp is None:
                    if not await r.exists(self._k("run", run_id, "journal")):
                        await r.zrem(self._k("runs"), run_id)  # expired with its TTL
                    return None
                return summarize_run(cp, await self.journal(run_id), updated)
            except CheckpointCorruptError:
                first = await r.lrange(self._k("run", run_id, "journal"), 0, 0)
                return corrupt_summary(run_id, first, updated)

        return await run_summaries(list(scored), one, workflow)

    # ---------------------------------------------------------- retention
    async def delete(self, run_id: str) -> int:
        r = self.client
        ids = await r.zrange(self._k("run", run_id, "cps"), 0, -1)
        async with r.pipeline(transaction=True) as pipe:
            for cid in ids:
                pipe.delete(self._k("cp", cid))
            for suffix in ("cps", "info", "journal", "seq", "answers", "lease"):
                pipe.delete(self._k("run", run_id, suffix))
            pipe.zrem(self._k("runs"), run_id)
            await pipe.execute()
        return len(ids)

    async def keep_last(self, run_id: str, n: int) -> int:
        check_n(n)
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

    # ------------------------------------------------------------- leases
    async def _holder(self, run_id: str) -> dict[str, Any] | None:
        text = await self.client.get(self._k("run", run_id, "lease"))
        if text is None:
            return None
        data = json.loads(text)
        return data if isinstance(data, dict) else None

    async def acquire_lease(
        self, run_id: str, owner: str, ttl: float = DEFAULT_LEASE_TTL, take_over: bool = False
    ) -> Lease:
        ttl = validate_ttl(ttl)
        if not isinstance(run_id, str) or not run_id:
            raise CheckpointError(f"a run id must be a non-empty str, got {run_id!r}")
        take = ""
        for _ in range(5):
            proto = new_lease(run_id, owner, 0, ttl)
            kind, text = await self._run(
                "acquire",
                _ACQUIRE,
                run_id,
                owner,
                int(ttl * 1000),
                json.dumps(proto.holder()),
                take,
            )
            data = json.loads(text)
            if kind in ("new", "same"):
                lease = Lease(**{**data, "token": int(data["token"])})
                return renewed(lease) if kind == "same" else lease
            if take_over or holder_gone(data):
                take = str(data["token"])  # take exactly the lease we saw
                continue
            raise locked_error(self, run_id, data)
        raise CheckpointError(f"the lease of run {run_id!r} in {self!r} keeps changing hands")

    async def renew_lease(self, lease: Lease) -> Lease:
        fresh = renewed(lease)
        result = await self._run(
            "renew",
            _RENEW,
            lease.run_id,
            str(lease.token),
            int(lease.ttl * 1000),
            json.dumps(fresh.holder()),
        )
        self._lost(lease.run_id, lease, result)
        return fresh

    async def release_lease(self, lease: Lease) -> None:
        await self._run("release", _RELEASE, lease.run_id, str(lease.token))
