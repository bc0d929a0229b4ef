"""Best-of-N: N implementation candidates generated in parallel, validated concurrently,
the best one chosen by a deterministic rule.

The rule ranks candidates by tests passed (more is better), then compile errors
(fewer), then size (smaller), then candidate index — so the same candidates always
give the same winner, whatever finished first.

Example::

    >>> from agentic_nb.codegen import CodeArtifact, ValidationResult
    >>> def cand(i, size, passed):
    ...     v = ValidationResult("test_val", False, tests_passed=passed)
    ...     return Candidate(i, CodeArtifact("impl", {"a.ts": "x" * size}), v)
    >>> a, b = cand(0, 50, 3), cand(1, 10, 3)
    >>> pick_best([a, b]).index
    1
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agentic_nb.llm import Usage
from agentic_nb.workflow import (
    ExecutorKind,
    WorkflowContext,
    handler,
    register_checkpoint_type,
)

from ._fingerprint import ErrorFingerprinter
from ._generators import (
    ARTIFACT_KEY,
    TASK_KEY,
    USAGE_KEY,
    CodeGenerator,
    Feedback,
    record_usage,
)
from ._types import CodeArtifact, CodeBundle, CodeTask, ValidationResult

__all__ = ["Arbiter", "Candidate", "pick_best", "score"]

Check = Callable[[CodeBundle], Awaitable[ValidationResult]]


@register_checkpoint_type
@dataclass
class Candidate:
    """One implementation candidate and what its validation found."""

    index: int
    artifact: CodeArtifact
    validation: ValidationResult
    runs: int = 0


def score(c: Candidate) -> tuple[int, int, int, int]:
    """The sort key of a candidate: smaller is better.

    ``(-tests passed, compile errors, size in characters, index)``; a candidate whose
    answer had no code ranks below every candidate with code.
    """
    v = c.validation
    errors = sum(1 for d in v.diagnostics if d.severity == "error")
    size = sum(len(t) for t in c.artifact.files.values())
    if not c.artifact.files:
        errors += 1_000_000
    bonus = 1 if v.passed else 0
    return (-(v.tests_passed + bonus), errors, size, c.index)


def pick_best(candidates: Sequence[Candidate]) -> Candidate:
    """The winner by :func:`score` (ties broken by candidate index)."""
    if not candidates:
        raise ValueError("pick_best: no candidates")
    return min(candidates, key=score)


async def validate(bundle: CodeBundle, checks: Sequence[Check]) -> tuple[ValidationResult, int]:
    """Run the checks in order, stopping at the first that fails.

    Returns the last result and how many checks ran.
    """
    result = ValidationResult("none", True, bundle=bundle)
    runs = 0
    for check in checks:
        result = await check(bundle)
        runs += 1
        if not result.passed:
            break
    return result, runs


class Arbiter(CodeGenerator):
    """Best-of-N implementation step: a drop-in replacement for the ``impl`` generator.

    Each time it is asked (from the types, or from feedback) it makes ``n`` model
    calls in parallel (the prompt header says ``CANDIDATE: i/n``), builds one bundle
    per candidate with the current types and tests, validates the candidates
    concurrently with ``checks`` (e.g. ``[compile_validator.check, test_validator.check]``)
    and sends the winner on as the implementation artifact. ``parallel`` bounds how
    many validations run at once (``None``: all). Every candidate is reported in a
    ``Custom`` event named ``"arbiter"``. With ``n=1`` it is a plain generator until
    a :class:`Feedback` asks for ``candidates > 1`` (the flow's escalation when an
    error comes back after a fix).

    Example::

        >>> from agentic_nb.llm import ScriptedChatClient
        >>> Arbiter(ScriptedChatClient(), n=3, checks=[]).id
        'impl_gen'
    """

    kind = ExecutorKind.ORCHESTRATOR

    def __init__(
        self,
        agent_or_client: Any,
        *,
        n: int = 3,
        checks: Sequence[Check] = (),
        id: str = "impl_gen",
        role: str = "impl",
        language: str = "typescript",
        parallel: int | None = None,
        **kwargs: Any,
    ) -> None:
        if n < 1:
            raise ValueError(f"Arbiter {id!r}: n must be >= 1 candidates, got {n}")
        super().__init__(role, agent_or_client, id, language=language, **kwargs)
        self.n = n
        # With n == 1 it is a plain generator until feedback asks for candidates.
        self.kind = ExecutorKind.ORCHESTRATOR if n > 1 else ExecutorKind.WORKER
        self.checks = list(checks)
        self.parallel = parallel
        self.fingerprinter = ErrorFingerprinter()

    async def candidates(
        self,
        task: CodeTask,
        others: dict[str, CodeArtifact],
        *,
        feedback: Feedback | None = None,
        previous: CodeArtifact | None = None,
        previous_errors: Sequence[str] = (),
        attempt: int = 1,
        n: int | None = None,
    ) -> tuple[list[Candidate], Usage]:
        """Generate ``n`` candidates (default ``self.n``) at once and validate them concurrently."""
        n = n or self.n
        upstream = {r: a for r, a in others.items() if r != self.role}
        gens = await asyncio.gather(
            *(
                self.produce(
                    task,
                    upstream=upstream,
                    previous=previous,
                    feedback=feedback,
                    previous_errors=previous_errors,
                    attempt=attempt,
                    candidate=(i + 1, n),
                )
                for i in range(n)
            )
        )
        usage = Usage(0, 0)
        for g in gens:
            usage = usage + g.usage
        limit = asyncio.Semaphore(self.parallel or n)

        async def check(i: int, art: CodeArtifact) -> Candidate:
            art.producer = f"{self.id}#{i}"
            order = [r for r in ("types", "impl", "tests", "all") if r in others or r == self.role]
            arts = [art if r == self.role else others[r] for r in order]
            bundle = CodeBundle(task, arts, attempt=attempt)
            runs = 0
            if not art.files:
                problems = [p for p in art.problems if p.severity == "error"]
                v = ValidationResult(self.id, False, diagnostics=problems, bundle=bundle)
            else:
                async with limit:
                    v, runs = await validate(bundle, self.checks)
            self.fingerprinter.fill(v)
            return Candidate(i, art, v, runs)

        found = await asyncio.gather(*(check(i, g.artifact) for i, g in enumerate(gens)))
        return list(found), usage

    async def _run(
        self,
        task: CodeTask,
        ctx: WorkflowContext[CodeArtifact, Any],
        *,
        upstream: dict[str, CodeArtifact],
        feedback: Feedback | None = None,
    ) -> None:
        n = max(self.n, feedback.candidates if feedback is not None else 1)
        if n == 1:  # a plain generator this time
            await super()._run(task, ctx, upstream=upstream, feedback=feedback)
            return
        key = f"codegen.attempts.{self.id}"
        attempt = int(ctx.get_state(key, 0)) + 1
        others = dict(upstream)
        for role in ("types", "tests"):
            art = ctx.get_state(ARTIFACT_KEY.format(role=role))
            if role not in others and isinstance(art, CodeArtifact):
                others[role] = art
        previous = None
        if feedback is not None and feedback.validation.bundle is not None:
            previous = feedback.validation.bundle.artifact(self.role)
        found, usage = await self.candidates(
            task,
            others,
            feedback=feedback,
            previous=previous,
            previous_errors=[str(e) for e in ctx.previous_errors],
            attempt=attempt,
            n=n,
        )
        best = pick_best(found)
        await record_usage(ctx, self.id, usage, calls=n)
        runs_key = USAGE_KEY.format(executor=self.id)
        cur = dict(ctx.get_state(runs_key, {}) or {})
        cur["validator_runs"] = int(cur.get("validator_runs", 0)) + sum(c.runs for c in found)
        cur["candidates"] = int(cur.get("candidates", 0)) + len(found)
        await ctx.set_state(runs_key, cur)
        await ctx.add_event(
            {
                "arbiter": self.id,
                "attempt": attempt,
                "winner": best.index,
                "candidates": [
                    {
                        "index": c.index,
                        "passed": c.validation.passed,
                        "tests_passed": c.validation.tests_passed,
                        "tests_failed": c.validation.tests_failed,
                        "errors": len(c.validation.diagnostics),
                        "size": sum(len(t) for t in c.artifact.files.values()),
                    }
                    for c in found
                ],
            }
        )
        winner = best.artifact
        winner.attempt = attempt
        await ctx.set_state(key, attempt)
        await ctx.set_state(ARTIFACT_KEY.format(role=self.role), winner)
        await ctx.send_message(winner)

    @handler
    async def on_upstream(self, art: CodeArtifact, ctx: WorkflowContext[CodeArtifact]) -> None:
        """Candidates from the types (first round)."""
        task = ctx.get_state(TASK_KEY)
        if not isinstance(task, CodeTask):
            raise RuntimeError(f"{self.id}: no task in shared state {TASK_KEY!r}")
        await self._run(task, ctx, upstream={art.role: art})
