"""Token, model-call and cost totals of a run, and the price table that turns tokens into cost.

Agents report what each invocation used as one ``AgentUsage`` event (from
``agentic_nb.agents``); this module reads those events by their fields, so the
workflow layer needs nothing from the agent layer.

Example::

    >>> prices = Prices({"example-model": (0.5, 1.5)})    # per 1,000 tokens, made-up figures
    >>> prices.cost("example-model", 2000, 1000)
    2.5
    >>> RunUsage(input_tokens=3, output_tokens=4, model_calls=1).total_tokens
    7
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

USAGE_EVENT = "AgentUsage"


class Prices:
    """A price table: model name → ``(input_per_1k, output_per_1k)`` in your currency.

    The default table is **empty**: agentic_nb ships no vendor prices (they change,
    and cannot be checked offline). Fill it from your provider's price page.
    ``cost()`` of a model missing from the table raises ``KeyError`` naming it;
    ``default=(i, o)`` prices every unlisted model instead.

    Example::

        >>> p = Prices({"model-a": (1.0, 2.0)})          # illustrative figures only
        >>> p.cost("model-a", input_tokens=500, output_tokens=250)
        1.0
        >>> "model-b" in p, Prices(default=(0.0, 0.0)).cost("anything", 10, 10)
        (False, 0.0)
    """

    def __init__(
        self,
        table: Mapping[str, tuple[float, float]] | None = None,
        *,
        default: tuple[float, float] | None = None,
    ) -> None:
        self.table: dict[str, tuple[float, float]] = {}
        for model, pair in (table or {}).items():
            self.table[model] = _pair(pair, f"Prices: the price of model {model!r}")
        self.default = None if default is None else _pair(default, "Prices: default")

    def __contains__(self, model: object) -> bool:
        return model in self.table

    def price(self, model: str | None) -> tuple[float, float]:
        """``(input_per_1k, output_per_1k)`` of ``model``."""
        pair = self.table.get(model) if model is not None else None
        if pair is not None:
            return pair
        if self.default is not None:
            return self.default
        known = ", ".join(sorted(self.table)) or "none"
        raise KeyError(
            f"no price for model {model!r} (priced: {known}); add it: "
            f"Prices({{{model!r}: (input_per_1k, output_per_1k)}}) or give default=(i, o)"
        )

    def cost(self, model: str | None, input_tokens: int, output_tokens: int) -> float:
        """The cost of ``input_tokens`` + ``output_tokens`` of ``model``."""
        per_in, per_out = self.price(model)
        return (input_tokens * per_in + output_tokens * per_out) / 1000.0

    def __repr__(self) -> str:
        return f"Prices({self.table!r}, default={self.default!r})"


def _pair(value: Any, where: str) -> tuple[float, float]:
    try:
        a, b = value
        pair = (float(a), float(b))
    except (TypeError, ValueError):
        raise TypeError(
            f"{where} must be a pair (input_per_1k, output_per_1k) of numbers, got {value!r}"
        ) from None
    if pair[0] < 0 or pair[1] < 0:
        raise ValueError(f"{where} must not be negative, got {value!r}")
    return pair


@dataclass
class RunUsage:
    """What a run's agents used: tokens, model calls, and per-model token counts.

    ``by_model`` maps a model name (``None`` when unknown) to ``[input, output, calls]``.
    ``cost(prices)`` prices it.

    Example::

        >>> u = RunUsage.of([])
        >>> u.total_tokens, u.model_calls
        (0, 0)
    """

    input_tokens: int = 0
    output_tokens: int = 0
    model_calls: int = 0
    agent_invocations: int = 0
    by_model: dict[str | None, list[int]] = field(default_factory=dict)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add_event(self, ev: Any) -> None:
        """Count one ``AgentUsage`` event (other events are ignored)."""
        if getattr(ev, "type", None) != USAGE_EVENT:
            return
        i = int(getattr(ev, "input_tokens", 0) or 0)
        o = int(getattr(ev, "output_tokens", 0) or 0)
        calls = int(getattr(ev, "model_calls", 0) or 0) or 1
        self.input_tokens += i
        self.output_tokens += o
        self.model_calls += calls
        self.agent_invocations += 1
        row = self.by_model.setdefault(getattr(ev, "model", None), [0, 0, 0])
        row[0] += i
        row[1] += o
        row[2] += calls

    def add(self, other: RunUsage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.model_calls += other.model_calls
        self.agent_invocations += other.agent_invocations
        for model, (i, o, c) in other.by_model.items():
            row = self.by_model.setdefault(model, [0, 0, 0])
            row[0] += i
            row[1] += o
            row[2] += c

    @classmethod
    def of(cls, events: Iterable[Any], base: RunUsage | None = None) -> RunUsage:
        """Totals of the ``AgentUsage`` events in ``events`` (plus ``base``)."""
        u = cls()
        if base is not None:
            u.add(base)
        for ev in events:
            u.add_event(ev)
        return u

    def cost(self, prices: Prices) -> float:
        """The cost of these tokens under ``prices`` (``KeyError`` for an unpriced model)."""
        return sum(prices.cost(m, i, o) for m, (i, o, _c) in self.by_model.items())
