"""Run leases: one driver per run, fencing tokens, and answers recorded exactly once.

Every checkpoint storage hands out a :class:`Lease` per run::

    lease = await storage.acquire_lease(run_id, owner, ttl=30.0)   # or RunLockedError
    await storage.append(run_id, record, lease=lease)               # fenced write
    await storage.save(checkpoint, lease=lease)                     # fenced write
    lease = await storage.renew_lease(lease)                        # every ttl / 3
    await storage.release_lease(lease)                              # when done or idle

Each acquisition gets a **fencing token** one higher than the previous one of the
run. A write that carries a lease is accepted only while its token is still the
newest handed out for the run; once another owner took the run over, the old
holder's writes raise :class:`LeaseLostError` instead of interleaving with the new
driver's. Writes without ``lease=`` are not fenced (single-process use).

A lease is **stale** when its holder stopped renewing it for ``ttl`` seconds, or
when its holder process ran on this host and is gone. A stale lease is taken
without asking; a live one raises :class:`RunLockedError`, which names the holder
(owner, pid, host, since) and says how to take over: ``take_over=True`` takes it
anyway (the old holder's next write is then refused). The file storage backs its
lease with an OS lock (``fcntl.flock``), which the kernel releases when the holder
process dies, so a live holder process on the same machine can never be taken over.

Example::

    >>> import asyncio
    >>> from agentic_nb.workflow import InMemoryCheckpointStorage, RunLockedError
    >>> async def main():
    ...     store = InMemoryCheckpointStorage()
    ...     first = await store.acquire_lease("r1", "kernel-a")
    ...     try:
    ...         await store.acquire_lease("r1", "kernel-b")
    ...     except RunLockedError as exc:
    ...         print("locked by", exc.holder["owner"])
    ...     second = await store.acquire_lease("r1", "kernel-b", take_over=True)
    ...     return first.token, second.token
    >>> asyncio.run(main())
    locked by kernel-a
    (1, 2)
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import asdict, dataclass
from typing import Any

from ._checkpoint_errors import CheckpointError
from ._errors import RequestError

DEFAULT_LEASE_TTL = 30.0
HOST = socket.gethostname()


@dataclass(frozen=True)
class Lease:
    """The right to drive run ``run_id`` (and write its journal) until ``expires_at``.

    ``token`` is the fencing token: writes carrying this lease are refused once a
    newer token was handed out for the run.
    """

    run_id: str
    owner: str
    token: int
    ttl: float
    expires_at: float
    pid: int
    host: str
    since: float

    def holder(self) -> dict[str, Any]:
        """The owner record as a dict (what :class:`RunLockedError` shows)."""
        return asdict(self)


class RunLockedError(CheckpointError):
    """Another owner holds the lease of the run; ``holder`` says who (owner, pid, host, since)."""

    def __init__(self, message: str, *, run_id: str, holder: dict[str, Any]) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.holder = holder


class LeaseLostError(CheckpointError):
    """A write carried a lease that is no longer the newest of its run (taken over)."""


class AnswerConflictError(RequestError, CheckpointError):
    """The request was already answered (by another process or an earlier call)."""


def validate_ttl(ttl: float) -> float:
    if not ttl > 0:
        raise ValueError(f"a lease ttl must be > 0 seconds, got {ttl!r}")
    return float(ttl)


def new_lease(run_id: str, owner: str, token: int, ttl: float, since: float | None = None) -> Lease:
    now = time.time()
    return Lease(
        run_id=run_id,
        owner=owner,
        token=token,
        ttl=ttl,
        expires_at=now + ttl,
        pid=os.getpid(),
        host=HOST,
        since=now if since is None else since,
    )


def renewed(lease: Lease) -> Lease:
    return Lease(**{**asdict(lease), "expires_at": time.time() + lease.ttl})


def holder_gone(holder: dict[str, Any]) -> bool:
    """True when the holder ran on this host and its process no longer exists (or is a zombie)."""
    if holder.get("host") != HOST:
        return False
    try:
        pid = int(holder.get("pid", 0))
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] in ("Z", "X")
    except OSError:
        return False


def is_stale(holder: dict[str, Any], now: float | None = None) -> bool:
    """A lease record nobody drives any more: released, expired, or its process is gone."""
    if holder.get("released"):
        return True
    expires = holder.get("expires_at")
    if isinstance(expires, (int, float)) and expires < (time.time() if now is None else now):
        return True
    return holder_gone(holder)


def _when(ts: Any) -> str:
    if not isinstance(ts, (int, float)):
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def locked_error(
    storage: Any, run_id: str, holder: dict[str, Any], *, os_lock: bool = False
) -> RunLockedError:
    who = (
        f"owner {holder.get('owner')!r} (pid {holder.get('pid')} on host {holder.get('host')!r}, "
        f"since {_when(holder.get('since'))}, lease valid until {_when(holder.get('expires_at'))})"
    )
    if os_lock:
        how = (
            f"that process is alive and holds the OS lock; stop it (kill {holder.get('pid')}) or "
            f"release the run there — the lock is freed when the process exits"
        )
    else:
        how = (
            "if that process is gone, wait for the lease to expire or pass take_over=True "
            "(the old holder's next write is then refused)"
        )
    return RunLockedError(
        f"run {run_id!r} in {storage!r} is driven by {who}; {how}", run_id=run_id, holder=holder
    )


def lost_error(storage: Any, lease: Lease, current: Any) -> LeaseLostError:
    return LeaseLostError(
        f"the lease of run {lease.run_id!r} held by {lease.owner!r} (token {lease.token}) was "
        f"taken over in {storage!r} (newest token: {current}); this process must stop driving "
        f"the run — resume it again to continue from what the new driver wrote"
    )


def answer_conflict(
    storage: Any, run_id: str, request_id: str, existing: Any
) -> AnswerConflictError:
    shown = repr(existing)
    if len(shown) > 200:
        shown = shown[:200] + "…"
    return AnswerConflictError(
        f"request {request_id!r} of run {run_id!r} in {storage!r} was already answered "
        f"(recorded answer: {shown}); your answer was NOT recorded"
    )
