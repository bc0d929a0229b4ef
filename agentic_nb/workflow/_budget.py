"""Spending caps on a run: tokens, cost and model calls, checked between supersteps.

Example::

    >>> from agentic_nb import Budget
    >>> Budget(max_tokens=1000)
    Budget(max_tokens=1000)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._usage import Prices, RunUsage

if TYPE_CHECKING:
    from ._runner import Run


@dataclass(frozen=True)
class Budget:
    """Caps on what one run may spend; the run stops cleanly when one is passed.

    Given per run (``wf.run(input, budget=Budget(...))``, ``wf.start(...)``,
    ``wf.resume(run_id, budget=...)``). Usage comes from the ``AgentUsage`` events
    agents emit. Before each superstep opens, the run's totals so far are compared
    with the caps: past one, the run ends with status ``"failed"`` and a
    ``result.error`` that names the limit and the figures (``budget exceeded: ...``).
    Nothing of a superstep is cut in half, so a run may overshoot by what one
    superstep uses. A stopped run with checkpoint storage resumes from its last
    checkpoint with a larger budget; a resumed run counts what it used before.

    ``max_cost`` needs ``prices`` covering every model the run uses (a model
    without a price stops the run with an error naming it).

    Example::

        >>> Budget(max_tokens=1000, max_model_calls=5)
        Budget(max_tokens=1000, max_model_calls=5)
        >>> Budget(max_cost=0.1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Budget(max_cost=0.1) needs prices=Prices(...) to turn tokens into cost
    """

    max_tokens: int | None = None
    max_cost: float | None = None
    max_model_calls: int | None = None
    prices: Prices | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name in ("max_tokens", "max_cost", "max_model_calls"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int | float) or value < 0):
                raise ValueError(f"Budget({name}={value!r}) must be a number >= 0 or None")
        if self.max_cost is not None and self.prices is None:
            raise ValueError(
                f"Budget(max_cost={self.max_cost!r}) needs prices=Prices({{model: "
                f"(input_per_1k, output_per_1k)}}) to turn tokens into cost"
            )

    def __repr__(self) -> str:
        parts = [
            f"{n}={getattr(self, n)!r}"
            for n in ("max_tokens", "max_cost", "max_model_calls")
            if getattr(self, n) is not None
        ]
        return f"Budget({', '.join(parts)})"

    def exceeded(self, usage: RunUsage) -> str | None:
        """Why ``usage`` is past this budget (``None`` when it is not)."""
        if self.max_tokens is not None and usage.total_tokens > self.max_tokens:
            return (
                f"max_tokens={self.max_tokens} passed: {usage.total_tokens} tokens used "
                f"({usage.input_tokens} in, {usage.output_tokens} out)"
            )
        if self.max_model_calls is not None and usage.model_calls > self.max_model_calls:
            return (
                f"max_model_calls={self.max_model_calls} passed: {usage.model_calls} model "
                f"calls made"
            )
        if self.max_cost is not None:
            assert self.prices is not None
            try:
                cost = usage.cost(self.prices)
            except KeyError as exc:
                return f"max_cost={self.max_cost} cannot be checked: {exc.args[0]}"
            if cost > self.max_cost:
                return f"max_cost={self.max_cost} passed: cost {cost:.6g} so far"
        return None


class BudgetMeter:
    """One run's budget and running totals (read incrementally from its events)."""

    __slots__ = ("budget", "primed", "seen", "usage")

    def __init__(self, budget: Budget) -> None:
        if not isinstance(budget, Budget):
            raise TypeError(
                f"budget= takes an agentic_nb.Budget(max_tokens=..., max_cost=..., "
                f"max_model_calls=...), got {type(budget).__name__}"
            )
        self.budget = budget
        self.usage = RunUsage()
        self.seen = 0
        self.primed = False

    async def prime(self, run: Run) -> None:
        """A resumed run: count what it used before, from its stored journal."""
        self.primed = True
        journal = run._journal
        if run.storage is None or not journal.started or run.parent is not None:
            return
        from .codec import decode

        records: list[dict[str, Any]] = await run.storage.journal(run.run_id)
        for r in records:
            if r.get("k") != "write" or r.get("s", 1 << 30) >= run.superstep:
                continue
            for raw in r.get("ev", ()):
                try:
                    ev = decode(raw)
                except Exception:
                    continue  # an event type this process does not know: not a usage event
                self.usage.add_event(ev)
        run._usage_before = RunUsage.of((), base=self.usage)

    def check(self, run: Run) -> str | None:
        """The reason to stop before the next superstep, or ``None``."""
        events = run._event_list
        add = self.usage.add_event
        for ev in events[self.seen :]:
            if type(ev) is not tuple:
                add(ev)
        self.seen = len(events)
        reason = self.budget.exceeded(self.usage)
        if reason is None:
            return None
        return (
            f"budget exceeded before superstep {run.superstep}: {reason}; resume with a larger "
            f"budget (wf.resume(run_id, budget=Budget(...))) to continue"
        )
