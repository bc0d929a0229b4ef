"""Building blocks for checkpoint storages (public: the Redis and NATS storages use them,
and so can a storage you write yourself).

- :func:`seal` / :func:`unseal` / :func:`dump_record` / :func:`read_journal`: the
  checksummed record format and its checks (damage raises
  :class:`~agentic_nb.workflow.CheckpointCorruptError`).
- :func:`latest_readable`: the newest checkpoint that loads, with the fallback noted.
- :func:`summarize_run` / :func:`run_summaries`: ``storage.runs()`` from the latest
  checkpoint and the journal.
- Leases: :class:`~agentic_nb.workflow.Lease`, :func:`new_lease`, :func:`renewed`,
  :func:`is_stale`, and the errors :func:`locked_error`, :func:`lost_error`,
  :func:`answer_conflict`.

Example::

    >>> from agentic_nb.workflow.storage import dump_record, read_journal
    >>> lines = [dump_record({"k": "answer", "id": "r1", "v": True})]
    >>> read_journal(lines, storage="demo", run_id="run-1")
    [{'k': 'answer', 'id': 'r1', 'v': True}]
"""

from ._checkpoint import (
    DEFAULT_KEEP_LAST,
    SCHEMA_VERSION,
    TERMINAL_STATUSES,
    answer_id,
    check_n,
    check_retention,
    corrupt_summary,
    dump_record,
    latest_readable,
    read_journal,
    run_summaries,
    seal,
    summarize_run,
    unseal,
)
from ._lease import (
    DEFAULT_LEASE_TTL,
    answer_conflict,
    holder_gone,
    is_stale,
    locked_error,
    lost_error,
    new_lease,
    renewed,
    validate_ttl,
)

__all__ = [
    "DEFAULT_KEEP_LAST",
    "DEFAULT_LEASE_TTL",
    "SCHEMA_VERSION",
    "TERMINAL_STATUSES",
    "answer_conflict",
    "answer_id",
    "check_n",
    "check_retention",
    "corrupt_summary",
    "dump_record",
    "holder_gone",
    "is_stale",
    "latest_readable",
    "locked_error",
    "lost_error",
    "new_lease",
    "read_journal",
    "renewed",
    "run_summaries",
    "seal",
    "summarize_run",
    "unseal",
    "validate_ttl",
]
