"""JetStream streams and KV buckets used by agentic_nb, created idempotently.

Streams (history):

======================  ==========================================  ==========  =========
stream                  subjects                                    max age     max bytes
======================  ==========================================  ==========  =========
``AGENTIC_EVENTS``      every workflow event (``agentic.workflow``,   7 days      1 GiB
                        ``.executor``, ``.edge``, ``.agent``)
``AGENTIC_AUDIT``       ``agentic.audit.>``: routing decisions,       90 days     256 MiB
                        validator verdicts, requests and answers
``AGENTIC_METRICS``     ``agentic.metrics.>``: durations, tokens      3 days      256 MiB
======================  ==========================================  ==========  =========

All three discard the oldest messages when a limit is reached and keep a
2-minute duplicate window (publishes carry ``Nats-Msg-Id = <run>:<seq>`` so a
retried publish is stored once). Pass your own :class:`StreamLimits` to change them.

The request-serving subject ``agentic.workflow.<run>.request.<id>`` is left out
on purpose: request/reply on it must reach the run's bridge, not a stream.

KV buckets (current state): ``agentic_runs`` (one record per run, for
:func:`runs`), ``agentic_state`` (shared state), ``agentic_outputs`` (executor
outputs), ``agentic_executors`` (executor state, attempts, errors),
``agentic_edges`` (edge data with hash and timestamp), ``agentic_ids`` (long ids
behind hashed tokens), ``agentic_threads`` (agent threads), ``agentic_checkpoints``
(checkpoints). ``docs/nats.md`` gives every key and payload.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from agentic_nb._optional import require

EVENTS_STREAM = "AGENTIC_EVENTS"
AUDIT_STREAM = "AGENTIC_AUDIT"
METRICS_STREAM = "AGENTIC_METRICS"

EVENT_SUBJECTS = [
    "agentic.workflow.*.*",
    "agentic.workflow.*.superstep.*",
    "agentic.workflow.*.event.*",
    "agentic.workflow.*.request.*.*",
    "agentic.executor.>",
    "agentic.edge.>",
    "agentic.agent.>",
]
AUDIT_SUBJECTS = ["agentic.audit.>"]
METRICS_SUBJECTS = ["agentic.metrics.>"]

RUNS_BUCKET = "agentic_runs"
STATE_BUCKET = "agentic_state"
OUTPUTS_BUCKET = "agentic_outputs"
EXECUTORS_BUCKET = "agentic_executors"
EDGES_BUCKET = "agentic_edges"
THREADS_BUCKET = "agentic_threads"
CHECKPOINTS_BUCKET = "agentic_checkpoints"

DAY = 24 * 3600.0
MiB = 1024 * 1024


@dataclass(frozen=True)
class StreamLimits:
    """Retention limits of one stream (seconds and bytes; ``-1`` = unlimited)."""

    max_age: float
    max_bytes: int
    max_msg_size: int = 8 * MiB
    duplicate_window: float = 120.0


DEFAULT_LIMITS: dict[str, StreamLimits] = {
    EVENTS_STREAM: StreamLimits(max_age=7 * DAY, max_bytes=1024 * MiB),
    AUDIT_STREAM: StreamLimits(max_age=90 * DAY, max_bytes=256 * MiB),
    METRICS_STREAM: StreamLimits(max_age=3 * DAY, max_bytes=256 * MiB),
}

_SUBJECTS = {
    EVENTS_STREAM: EVENT_SUBJECTS,
    AUDIT_STREAM: AUDIT_SUBJECTS,
    METRICS_STREAM: METRICS_SUBJECTS,
}

BUCKET_HISTORY = {
    RUNS_BUCKET: 1,
    STATE_BUCKET: 5,
    OUTPUTS_BUCKET: 5,
    EXECUTORS_BUCKET: 1,
    EDGES_BUCKET: 5,
    THREADS_BUCKET: 5,
    CHECKPOINTS_BUCKET: 1,
}


async def ensure_streams(js: Any, limits: dict[str, StreamLimits] | None = None) -> dict[str, Any]:
    """Create (or update to the given limits) the three streams; safe to call often.

    Example::

        >>> import asyncio
        >>> from agentic_nb.nats import LocalNatsServer, connect
        >>> async def main(url):
        ...     nc = await connect(url)
        ...     infos = await ensure_streams(nc.jetstream())
        ...     await ensure_streams(nc.jetstream())  # idempotent
        ...     await nc.close()
        ...     return sorted(infos)
        >>> with LocalNatsServer() as server:
        ...     asyncio.run(main(server.url))
        ['AGENTIC_AUDIT', 'AGENTIC_EVENTS', 'AGENTIC_METRICS']
    """
    api = require("nats.js.api", "nats")
    errors = require("nats.js.errors", "nats")
    merged = {**DEFAULT_LIMITS, **(limits or {})}
    infos: dict[str, Any] = {}
    for name, subjects in _SUBJECTS.items():
        lim = merged[name]
        config = api.StreamConfig(
            name=name,
            subjects=list(subjects),
            retention=api.RetentionPolicy.LIMITS,
            discard=api.DiscardPolicy.OLD,
            storage=api.StorageType.FILE,
            max_age=lim.max_age,
            max_bytes=lim.max_bytes,
            max_msg_size=lim.max_msg_size,
            duplicate_window=lim.duplicate_window,
        )
        try:
            infos[name] = await js.add_stream(config)
        except errors.BadRequestError as exc:
            # Exists with another config (e.g. limits changed): bring it in line.
            if getattr(exc, "err_code", None) not in (10058, 10065):
                raise
            infos[name] = await js.update_stream(config)
    return infos


async def ensure_bucket(js: Any, bucket: str, *, history: int | None = None) -> Any:
    """The KV bucket ``bucket`` (created on first use)."""
    errors = require("nats.js.errors", "nats")
    try:
        return await js.key_value(bucket)
    except errors.BucketNotFoundError:
        pass
    try:
        return await js.create_key_value(
            bucket=bucket, history=history or BUCKET_HISTORY.get(bucket, 1)
        )
    except errors.BadRequestError:  # created concurrently by another process
        return await js.key_value(bucket)


async def kv_keys(kv: Any, pattern: str = ">", *, timeout: float = 30.0) -> list[str]:
    """Keys of ``kv`` matching the NATS wildcard ``pattern`` (server-side filter).

    nats-py's ``KeyValue.keys(filters=...)`` matches substrings client-side, and its
    watcher may say "no more entries" while delivered entries still wait in its queue
    (seen under load: an empty list for a bucket of 35 keys). So the stream is asked
    how many subjects match first, and the watch is read until every one was seen;
    keys whose latest entry is a delete or purge marker are left out.
    """
    subject = f"{kv._pre}{pattern}"
    info = await kv._js.stream_info(kv._stream, subjects_filter=subject)
    expected = len(info.state.subjects or {})
    if not expected:
        return []
    watcher = await kv.watch(pattern, ignore_deletes=False, meta_only=True)
    latest: dict[str, Any] = {}
    try:
        async with asyncio.timeout(timeout):
            while len(latest) < expected:
                entry = await watcher.updates(timeout)
                if entry is not None:  # None is the early "initial values done" marker
                    latest[entry.key] = entry.operation
    except TimeoutError as exc:
        raise TimeoutError(
            f"listing keys {pattern!r} of bucket {kv._name!r}: saw {len(latest)} of "
            f"{expected} keys within {timeout}s"
        ) from exc
    finally:
        await watcher.stop()
    return [key for key, op in latest.items() if op not in ("DEL", "PURGE")]


async def kv_get(kv: Any, key: str) -> Any:
    """The latest entry of ``key`` in bucket ``kv``, or ``None`` when absent or deleted."""
    errors = require("nats.js.errors", "nats")
    try:
        return await kv.get(key)
    except (errors.KeyNotFoundError, errors.KeyDeletedError):
        return None
