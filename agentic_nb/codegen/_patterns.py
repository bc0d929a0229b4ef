"""Pattern memory: fixes that made a failing fingerprint pass, kept per executor role.

The specification keeps ``patterns.{executor_type}.success`` and
``patterns.{executor_type}.failure``. Here a :class:`FixPattern` records, for one role
(``types``, ``impl``, ``tests``), the error it was about (fingerprint, tool, code and
masked message) and the change that was tried (a short unified diff) — ``success``
when the fingerprint was gone at the next validation, ``failure`` when it came back.
Generators receive the relevant ones in their prompt (same fingerprint first, then
same tool and error code).

:class:`PatternMemory` keeps them in memory, and in a JSON file when given a path;
:class:`NatsPatternMemory` keeps them in a NATS KV bucket under exactly those keys,
so every process of a deployment learns from every other.

Example::

    >>> import asyncio
    >>> mem = PatternMemory()
    >>> p = FixPattern("impl", "ab12", "tsc", "TS2322", "Type <q> is not assignable", "-x\\n+y")
    >>> asyncio.run(mem.record(p))
    >>> [q.fingerprint for q in asyncio.run(mem.relevant("impl", ["ab12"]))]
    ['ab12']
"""

from __future__ import annotations

import asyncio
import difflib
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agentic_nb.workflow.codec import register_checkpoint_type

from ._fingerprint import mask_message
from ._types import ValidationResult

__all__ = ["FixPattern", "NatsPatternMemory", "PatternMemory", "learn_from", "pattern_key"]

OUTCOMES = ("success", "failure")


def pattern_key(role: str, outcome: str) -> str:
    """The storage key of one role's patterns: ``patterns.{role}.{outcome}``.

    Example::

        >>> pattern_key("impl", "success")
        'patterns.impl.success'
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"pattern outcome must be one of {OUTCOMES}, got {outcome!r}")
    if not role or any(c in role for c in ".*> \t"):
        raise ValueError(f"pattern role {role!r} must be a plain name (no '.', '*', '>', spaces)")
    return f"patterns.{role}.{outcome}"


@register_checkpoint_type
@dataclass
class FixPattern:
    """One remembered fix (or failed fix) of one error, for one generator role."""

    role: str
    fingerprint: str
    tool: str
    code: str
    error: str
    fix: str
    outcome: str = "success"
    task: str = ""
    count: int = 1

    def describe(self, limit: int = 600) -> str:
        """A few lines for a prompt."""
        head = f"[fp:{self.fingerprint}] {self.tool} {self.code}".rstrip() + f": {self.error}"
        fix = self.fix if len(self.fix) <= limit else self.fix[:limit] + "\n... (cut)"
        return f"{head}\n{fix}"


class PatternMemory:
    """Fix patterns in memory, persisted to a JSON file when ``path`` is given.

    ``max_per_key`` bounds each ``patterns.{role}.{outcome}`` list (oldest dropped).
    Safe to share between concurrent runs of one process.

    Example::

        >>> import asyncio, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "patterns.json")
        >>> p = FixPattern("tests", "cd34", "jest", "", "Expected: <n>", "-1\\n+2")
        >>> asyncio.run(PatternMemory(path).record(p))
        >>> len(asyncio.run(PatternMemory(path).patterns("tests")))
        1
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, max_per_key: int = 200):
        self.path = Path(path) if path is not None else None
        self.max_per_key = max_per_key
        self._data: dict[str, list[FixPattern]] = {}
        self._lock = asyncio.Lock()
        if self.path is not None and self.path.exists():
            try:
                raw = json.loads(self.path.read_text())
                self._data = {k: [FixPattern(**p) for p in v] for k, v in raw.items()}
            except (OSError, ValueError, TypeError) as exc:
                raise ValueError(
                    f"pattern memory file {self.path} is unreadable ({exc}); fix or delete it"
                ) from None

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "memory"
        return f"{type(self).__name__}({where})"

    async def _load(self, key: str) -> list[FixPattern]:
        return list(self._data.get(key, []))

    async def _save(self, key: str, patterns: list[FixPattern]) -> None:
        self._data[key] = patterns
        if self.path is not None:
            raw = {k: [asdict(p) for p in v] for k, v in self._data.items()}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".patterns-")
            with os.fdopen(fd, "w") as fh:
                json.dump(raw, fh, indent=1)
            os.replace(tmp, self.path)

    async def record(self, pattern: FixPattern) -> None:
        """Add a pattern (the same fingerprint and fix again only increments ``count``)."""
        key = pattern_key(pattern.role, pattern.outcome)
        async with self._lock:
            items = await self._load(key)
            for i, old in enumerate(items):
                if old.fingerprint == pattern.fingerprint and old.fix == pattern.fix:
                    old.count += pattern.count
                    items.append(items.pop(i))
                    break
            else:
                items.append(pattern)
            await self._save(key, items[-self.max_per_key :])

    async def patterns(self, role: str, outcome: str = "success") -> list[FixPattern]:
        """All patterns of one role and outcome, oldest first."""
        return await self._load(pattern_key(role, outcome))

    async def relevant(
        self,
        role: str,
        fingerprints: Sequence[str],
        codes: Iterable[tuple[str, str]] = (),
        *,
        limit: int = 3,
        outcome: str = "success",
    ) -> list[FixPattern]:
        """Patterns for these fingerprints first, then for the same ``(tool, code)`` pairs."""
        items = list(reversed(await self.patterns(role, outcome)))
        wanted = set(fingerprints)
        pairs = {(t, c) for t, c in codes if c}
        exact = [p for p in items if p.fingerprint in wanted]
        similar = [p for p in items if p not in exact and (p.tool, p.code) in pairs]
        return (exact + similar)[:limit]


class NatsPatternMemory(PatternMemory):
    """Fix patterns in a NATS KV bucket (default ``agentic_patterns``), one JSON list per
    ``patterns.{role}.{outcome}`` key; updates use the entry's revision so concurrent
    writers from several processes never lose each other's patterns.

    ``connection`` is a connected nats-py client (``await agentic_nb.nats.connect(url)``).
    """

    def __init__(
        self, connection: Any, *, bucket: str = "agentic_patterns", max_per_key: int = 200
    ) -> None:
        super().__init__(None, max_per_key=max_per_key)
        self.connection = connection
        self.bucket = bucket
        self._kv: Any = None
        self._revisions: dict[str, int | None] = {}

    def __repr__(self) -> str:
        return f"NatsPatternMemory(bucket={self.bucket!r})"

    async def _store(self) -> Any:
        if self._kv is None:
            js = self.connection.jetstream()
            try:
                self._kv = await js.key_value(self.bucket)
            except Exception:
                self._kv = await js.create_key_value(bucket=self.bucket, history=1)
        return self._kv

    async def _load(self, key: str) -> list[FixPattern]:
        from nats.js.errors import KeyNotFoundError

        kv = await self._store()
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:
            self._revisions[key] = None
            return []
        self._revisions[key] = entry.revision
        if not entry.value:
            return []
        return [FixPattern(**p) for p in json.loads(entry.value)]

    async def _save(self, key: str, patterns: list[FixPattern]) -> None:
        from nats.js.errors import KeyWrongLastSequenceError

        kv = await self._store()
        data = json.dumps([asdict(p) for p in patterns]).encode()
        revision = self._revisions.get(key)
        try:
            if revision is None:
                await kv.create(key, data)
            else:
                await kv.update(key, data, last=revision)
        except KeyWrongLastSequenceError as exc:
            raise _Conflict from exc

    async def record(self, pattern: FixPattern) -> None:
        for _ in range(10):
            try:
                await super().record(pattern)
                return
            except _Conflict:
                await asyncio.sleep(0.01)
        raise RuntimeError(
            f"NatsPatternMemory: could not update {pattern_key(pattern.role, pattern.outcome)} "
            f"in bucket {self.bucket!r} after 10 tries (too many concurrent writers)"
        )


class _Conflict(Exception):
    pass


def _diff(before: dict[str, str], after: dict[str, str], limit: int = 1500) -> str:
    lines: list[str] = []
    for path in sorted(set(before) | set(after)):
        a, b = before.get(path, ""), after.get(path, "")
        if a == b:
            continue
        lines.extend(
            difflib.unified_diff(
                a.splitlines(), b.splitlines(), f"a/{path}", f"b/{path}", n=1, lineterm=""
            )
        )
    text = "\n".join(lines)
    return text if len(text) <= limit else text[:limit] + "\n... (diff cut)"


async def learn_from(
    memory: PatternMemory,
    before: ValidationResult,
    after: ValidationResult,
    role: str,
    *,
    task: str = "",
) -> list[FixPattern]:
    """Record what the change of ``role``'s files between two validations did.

    Each fingerprint of ``before`` that is gone in ``after`` becomes a ``success``
    pattern, each that is still there a ``failure`` pattern — only when ``role``'s
    files really changed. Returns the recorded patterns.
    """
    if before.bundle is None or after.bundle is None:
        return []
    old = before.bundle.artifact(role)
    new = after.bundle.artifact(role)
    if old is None or new is None:
        return []
    fix = _diff(old.files, new.files)
    if not fix:
        return []
    still = set(after.fingerprints)
    out: list[FixPattern] = []
    for d in before.diagnostics:
        if d.fingerprint and d.tool != "extract":
            outcome = "failure" if d.fingerprint in still else "success"
            out.append(
                FixPattern(
                    role,
                    d.fingerprint,
                    d.tool,
                    d.code or "",
                    mask_message(d.message),
                    fix,
                    outcome,
                    task,
                )
            )
    for f in before.failures:
        if f.fingerprint:
            outcome = "failure" if f.fingerprint in still else "success"
            error = f"test {f.name!r}: {mask_message(f.message, 200)}"
            out.append(FixPattern(role, f.fingerprint, "test", "", error, fix, outcome, task))
    for p in out:
        await memory.record(p)
    return out
