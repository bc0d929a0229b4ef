"""Errors of checkpoint storages (kept apart so the storages and leases share them)."""

from __future__ import annotations


class CheckpointError(RuntimeError):
    """A checkpoint could not be written, read, or applied to this workflow."""


class GraphMismatchError(CheckpointError):
    """The checkpoint was taken by a workflow whose graph differs from this one."""


class CheckpointCorruptError(CheckpointError):
    """Stored data is damaged (bad checksum, cut short, not JSON).

    The message and the attributes name the storage, the run, and the checkpoint or
    the file and line (or journal record) that is damaged.
    """

    def __init__(
        self,
        message: str,
        *,
        storage: str = "",
        run_id: str | None = None,
        checkpoint_id: str | None = None,
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.storage = storage
        self.run_id = run_id
        self.checkpoint_id = checkpoint_id
        self.file = file
        self.line = line
