"""Edges: how messages travel between executors.

Each ``add_*`` call of the builder makes one edge group. At every barrier the
runner asks the source's groups, in the order they were added, where a message
goes. The routing functions are pure: conditions and selections are the only
user code they run.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Predicate = Callable[[Any], bool]
Selection = Callable[[Any, list[str]], Sequence[str]]


@dataclass(frozen=True)
class Case:
    """One branch of a switch: messages for which ``predicate(msg)`` is true go to ``target``.

    Example::

        >>> from agentic_nb import Case, Default
        >>> cases = [Case(lambda n: n < 0, "negative", label="n<0"), Default("other")]
        >>> cases[0].label
        'n<0'
    """

    predicate: Predicate
    target: Any
    label: str | None = None


@dataclass(frozen=True)
class Default:
    """The branch a switch takes when no :class:`Case` matches.

    Example::

        >>> Default("fallback").target
        'fallback'
    """

    target: Any
    label: str | None = "default"


def describe_callable(fn: Callable[..., Any] | None) -> str:
    if fn is None:
        return ""
    name = getattr(fn, "__name__", type(fn).__name__)
    if name == "<lambda>":
        try:
            src = inspect.getsource(fn).strip()
        except (OSError, TypeError):
            return "lambda"
        start = src.find("lambda")
        body = src[start:] if start >= 0 else src
        depth = 0
        for i, ch in enumerate(body):
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                if depth == 0:
                    return body[:i].strip()
                depth -= 1
            elif ch == "," and depth == 0:
                return body[:i].strip()
        return body.strip()
    return name


@dataclass(eq=False)
class EdgeGroup:
    """Base class of the five edge kinds (direct, conditional, switch, fan-out, fan-in)."""

    id: str
    kind: str
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    label: str | None = None

    def describe(self) -> str:
        lab = f" [{self.label}]" if self.label else ""
        return f"{self.kind} edge {self.id}{lab}"


@dataclass(eq=False)
class DirectEdge(EdgeGroup):
    """``a -> b``, optionally guarded by ``condition(msg)`` (then kind is 'conditional')."""

    condition: Predicate | None = None

    def choose(self, message: Any) -> tuple[str, ...]:
        cond = self.condition
        if cond is None or cond(message):
            return self.targets
        return ()


@dataclass(eq=False)
class SwitchEdge(EdgeGroup):
    """First matching case wins; ``default`` (if any) takes the rest."""

    cases: tuple[Case, ...] = ()
    default: str | None = None
    case_labels: tuple[str, ...] = ()

    def choose(self, message: Any) -> tuple[str, ...]:
        for case in self.cases:
            if case.predicate(message):
                return (case.target,)
        if self.default is not None:
            return (self.default,)
        return ()


@dataclass(eq=False)
class FanOutEdge(EdgeGroup):
    """One message to several targets; ``selection(msg, target_ids)`` may narrow them."""

    selection: Selection | None = None

    def choose(self, message: Any) -> tuple[str, ...]:
        if self.selection is None:
            return self.targets
        chosen = self.selection(message, list(self.targets))
        if isinstance(chosen, str):
            chosen = [chosen]
        unknown = [t for t in chosen if t not in self.targets]
        if unknown:
            raise ValueError(
                f"selection of fan-out edge {self.id!r} returned {unknown!r}, which are not "
                f"among its targets {list(self.targets)!r}"
            )
        # Keep the declared target order so delivery order never depends on the selector.
        picked = set(chosen)
        return tuple(t for t in self.targets if t in picked)


@dataclass(eq=False)
class FanInEdge(EdgeGroup):
    """Several sources to one target, which receives a ``list`` (one per source, in order).

    ``accepts`` caches, per message type, whether the target takes ``[message]``;
    ``cacheable`` (set when the workflow is built) says whether the answer depends
    only on the type.
    """

    accepts: dict[type, bool] = field(default_factory=dict, repr=False)
    cacheable: bool = False

    def new_buffers(self) -> dict[str, deque[Any]]:
        return {s: deque() for s in self.sources}


@dataclass
class FanInState:
    """Live FIFO buffers of one fan-in edge inside a run."""

    edge: FanInEdge
    buffers: dict[str, deque[Any]] = field(default_factory=dict)

    def ready(self) -> bool:
        return all(self.buffers[s] for s in self.edge.sources)

    def pop(self) -> list[Any]:
        return [self.buffers[s].popleft() for s in self.edge.sources]

    def waiting_on(self) -> list[str]:
        return [s for s in self.edge.sources if not self.buffers[s]]

    def partial(self) -> bool:
        return any(self.buffers.values()) and not self.ready()
