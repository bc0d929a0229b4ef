"""WorkflowBuilder: assemble executors and edges, validate, and build a Workflow."""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ._edges import (
    Case,
    Default,
    DirectEdge,
    EdgeGroup,
    FanInEdge,
    FanOutEdge,
    Predicate,
    Selection,
    SwitchEdge,
    describe_callable,
)
from ._errors import WorkflowValidationError
from ._executor import Executor, RetryPolicy
from ._typing import could_flow, type_name

if TYPE_CHECKING:
    from ._workflow import Workflow

ExecutorRef = Executor | str | Any


class WorkflowBuilderWarning(UserWarning):
    """A graph that builds but is probably not what you meant (e.g. a switch without default)."""


def coerce_executor(obj: Any) -> Executor:
    """Turn what the builder was given into an Executor (agents and workflows included)."""
    if isinstance(obj, Executor):
        return obj
    from ._workflow import Workflow

    if isinstance(obj, Workflow):
        from ._subworkflow import WorkflowExecutor

        return WorkflowExecutor(obj, id=obj.name)
    as_executor = getattr(obj, "as_executor", None)
    if callable(as_executor):
        ex = as_executor()
        if isinstance(ex, Executor):
            return ex
    if callable(obj):
        name = getattr(obj, "__name__", repr(obj))
        raise TypeError(
            f"{name} is a plain function, not an executor: decorate it with @executor "
            f"(from agentic_nb import executor)"
        )
    raise TypeError(
        f"cannot use {obj!r} as an executor: pass an Executor, an @executor function, "
        f"an agent, a Workflow or an executor id string"
    )


class WorkflowBuilder:
    """Fluent builder of a :class:`Workflow`.

    Executors may be given as objects or by id (an id must belong to an executor
    given somewhere else in the builder). ``build()`` validates the whole graph
    and raises one :class:`WorkflowValidationError` listing every problem.
    ``retry`` is the default :class:`RetryPolicy` of every executor given none of its
    own (an executor's own policy always wins).

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def double(n: int, ctx: WorkflowContext[int]) -> None:
        ...     ctx.send_message(n * 2)
        >>> @executor
        ... def show(n: int, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output(f"got {n}")
        >>> wf = WorkflowBuilder(name="demo", start=double).add_edge(double, show).build()
        >>> wf.run_sync(21).outputs
        ['got 42']
    """

    def __init__(
        self,
        name: str = "workflow",
        start: ExecutorRef | None = None,
        *,
        max_supersteps: int = 1000,
        checkpoint_storage: Any = None,
        checkpoint_every: int | None = 1,
        event_sinks: Iterable[Any] = (),
        description: str = "",
        retry: RetryPolicy | None = None,
    ) -> None:
        if max_supersteps < 1:
            raise ValueError(f"max_supersteps must be >= 1, got {max_supersteps}")
        self.name = name
        self.description = description
        self.max_supersteps = max_supersteps
        self.checkpoint_storage = checkpoint_storage
        self.checkpoint_every = checkpoint_every
        self.event_sinks = list(event_sinks)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError(f"WorkflowBuilder retry= needs a RetryPolicy, got {retry!r}")
        self.retry = retry
        self._executors: dict[str, Executor] = {}
        self._problems: list[str] = []
        self._edges: list[EdgeGroup] = []
        self._edge_ids: set[str] = set()
        self._start: str | None = None
        if start is not None:
            self.set_start(start)

    # ------------------------------------------------------------ executors
    def add_executor(self, executor: ExecutorRef) -> WorkflowBuilder:
        """Register an executor (edges register theirs automatically)."""
        self._ref(executor)
        return self

    def set_start(self, executor: ExecutorRef) -> WorkflowBuilder:
        """Choose the executor that receives the run's input (superstep 0)."""
        self._start = self._ref(executor)
        return self

    def _ref(self, obj: ExecutorRef) -> str:
        if isinstance(obj, str):
            return obj
        ex = coerce_executor(obj)
        known = self._executors.get(ex.id)
        if known is None:
            self._executors[ex.id] = ex
        elif known is not ex:
            problem = (
                f"duplicate executor id {ex.id!r}: {known.describe()} and {ex.describe()}; "
                f"give each executor a unique id"
            )
            if problem not in self._problems:
                self._problems.append(problem)
        return ex.id

    # ---------------------------------------------------------------- edges
    def _edge_id(self, base: str) -> str:
        eid, n = base, 2
        while eid in self._edge_ids:
            eid = f"{base}#{n}"
            n += 1
        self._edge_ids.add(eid)
        return eid

    def add_edge(
        self,
        source: ExecutorRef,
        target: ExecutorRef,
        condition: Predicate | None = None,
        label: str | None = None,
    ) -> WorkflowBuilder:
        """A direct edge ``source -> target``; with ``condition`` it only carries
        messages for which ``condition(msg)`` is true (drawn dashed with ``label``)."""
        a, b = self._ref(source), self._ref(target)
        kind = "direct" if condition is None else "conditional"
        if label is None and condition is not None:
            label = describe_callable(condition)
        for e in self._edges:
            if (
                type(e) is DirectEdge
                and e.sources == (a,)
                and e.targets == (b,)
                and e.condition is condition
            ):
                what = "edge" if condition is None else f"conditional edge ({label})"
                problem = (
                    f"duplicate {what} {a!r} -> {b!r} (edge {e.id!r} already connects them): "
                    f"every message would be delivered twice; add the edge once"
                )
                if problem not in self._problems:
                    self._problems.append(problem)
                return self
        self._edges.append(
            DirectEdge(self._edge_id(f"{a}->{b}"), kind, (a,), (b,), label, condition=condition)
        )
        return self

    def add_switch(self, source: ExecutorRef, cases: Sequence[Case | Default]) -> WorkflowBuilder:
        """Route each message to the first :class:`Case` whose predicate matches, else
        to the :class:`Default` (a switch without default warns at build time)."""
        a = self._ref(source)
        real: list[Case] = []
        default: str | None = None
        labels: list[str] = []
        for i, c in enumerate(cases):
            if isinstance(c, Default):
                if default is not None:
                    self._problems.append(f"switch from {a!r} has more than one Default")
                if i != len(cases) - 1:
                    self._problems.append(
                        f"switch from {a!r}: Default must be the last case (it is case {i})"
                    )
                default = self._ref(c.target)
                labels.append(c.label or "default")
            elif isinstance(c, Case):
                tid = self._ref(c.target)
                real.append(Case(c.predicate, tid, c.label))
                labels.append(c.label or describe_callable(c.predicate) or f"case {i}")
            else:
                self._problems.append(
                    f"switch from {a!r}: case {i} is {type(c).__name__}, expected Case or Default"
                )
        targets = tuple(dict.fromkeys([c.target for c in real] + ([default] if default else [])))
        if not targets:
            self._problems.append(f"switch from {a!r} has no cases")
        self._edges.append(
            SwitchEdge(
                self._edge_id(f"{a}->switch[{'|'.join(targets)}]"),
                "switch",
                (a,),
                targets,
                None,
                cases=tuple(real),
                default=default,
                case_labels=tuple(labels),
            )
        )
        return self

    def add_fan_out(
        self,
        source: ExecutorRef,
        targets: Sequence[ExecutorRef],
        selection: Selection | None = None,
    ) -> WorkflowBuilder:
        """Send each message to every target, or to those ``selection(msg, target_ids)`` picks."""
        a = self._ref(source)
        ts = tuple(self._ref(t) for t in targets)
        if len(ts) < 1:
            self._problems.append(f"fan-out from {a!r} has no targets")
        if len(set(ts)) != len(ts):
            self._problems.append(f"fan-out from {a!r} lists a target twice: {list(ts)}")
        self._edges.append(
            FanOutEdge(
                self._edge_id(f"{a}->fan_out[{'|'.join(ts)}]"),
                "fan_out",
                (a,),
                ts,
                describe_callable(selection) if selection else None,
                selection=selection,
            )
        )
        return self

    def add_fan_in(self, sources: Sequence[ExecutorRef], target: ExecutorRef) -> WorkflowBuilder:
        """Wait for one message from every source, then deliver them to ``target`` as a
        ``list`` in source order (buffers are FIFO per source)."""
        ss = tuple(self._ref(s) for s in sources)
        b = self._ref(target)
        if len(ss) < 2:
            self._problems.append(
                f"fan-in into {b!r} has {len(ss)} source(s) {list(ss)}; a fan-in needs at "
                f"least two sources (use add_edge for one)"
            )
        if len(set(ss)) != len(ss):
            self._problems.append(f"fan-in into {b!r} lists a source twice: {list(ss)}")
        self._edges.append(
            FanInEdge(self._edge_id(f"fan_in[{'|'.join(ss)}]->{b}"), "fan_in", ss, (b,), None)
        )
        return self

    def add_chain(self, executors: Sequence[ExecutorRef]) -> WorkflowBuilder:
        """Direct edges between consecutive executors: ``[a, b, c]`` is a->b->c."""
        ids = [self._ref(e) for e in executors]
        for a, b in zip(ids, ids[1:]):
            self.add_edge(a, b)
        return self

    # ---------------------------------------------------------------- build
    def build(self) -> Workflow:
        """Validate and freeze the graph into an immutable, reusable :class:`Workflow`."""
        from ._workflow import Workflow

        problems, warns = self.validate()
        if problems:
            raise WorkflowValidationError(problems, self.name)
        for w in warns:
            warnings.warn(w, WorkflowBuilderWarning, stacklevel=2)
        assert self._start is not None
        return Workflow(
            name=self.name,
            executors=list(self._executors.values()),
            edges=list(self._edges),
            start=self._start,
            max_supersteps=self.max_supersteps,
            checkpoint_storage=self.checkpoint_storage,
            checkpoint_every=self.checkpoint_every,
            event_sinks=self.event_sinks,
            description=self.description,
            warnings=warns,
            retry=self.retry,
        )

    def validate(self) -> tuple[list[str], list[str]]:
        """``(problems, warnings)`` for the graph as it stands (``build`` raises on problems)."""
        problems = list(self._problems)
        warns: list[str] = []
        known = self._executors
        if self._start is None:
            problems.append(
                "no start executor: pass start= to WorkflowBuilder or call set_start(...)"
            )
        elif self._start not in known:
            problems.append(f"start executor {self._start!r} is not a known executor")
        for e in self._edges:
            for x in (*e.sources, *e.targets):
                if x not in known:
                    problems.append(
                        f"{e.describe()}: unknown executor {x!r} (known: {sorted(known)}); "
                        f"pass the executor object once, or fix the id"
                    )
        for ex in known.values():
            if not ex.handlers:
                problems.append(
                    f"executor {ex.id!r} ({type(ex).__name__}) has no handlers: decorate a "
                    f"method with @handler"
                )
        if self._start in known:
            reach = self._reachable(self._start)
            lost = [x for x in known if x not in reach]
            if lost:
                problems.append(
                    f"executors unreachable from start {self._start!r}: {lost}; connect them "
                    f"with an edge or remove them"
                )
        for e in self._edges:
            if any(x not in known for x in (*e.sources, *e.targets)):
                continue
            problems.extend(self._type_problems(e))
            if isinstance(e, SwitchEdge) and e.default is None:
                warns.append(
                    f"switch from {e.sources[0]!r} has no Default: messages matching no case "
                    f"are reported as undelivered; add Default(target) to route them"
                )
        return problems, warns

    def _reachable(self, start: str) -> set[str]:
        nxt: dict[str, set[str]] = {}
        for e in self._edges:
            for s in e.sources:
                nxt.setdefault(s, set()).update(e.targets)
        seen = {start}
        todo = deque([start])
        while todo:
            for t in nxt.get(todo.popleft(), ()):
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        return seen

    def _type_problems(self, e: EdgeGroup) -> list[str]:
        out: list[str] = []
        for s in e.sources:
            sent = self._executors[s].message_types
            if not sent:
                continue
            for t in e.targets:
                target = self._executors[t]
                accepted = target.input_types
                if not accepted:
                    continue
                if isinstance(e, FanInEdge):
                    ok = any(could_flow(list[m], a) for m in sent for a in accepted)  # type: ignore[valid-type]
                    shown = ", ".join(f"list[{type_name(m)}]" for m in sent)
                else:
                    ok = any(could_flow(m, a) for m in sent for a in accepted)
                    shown = ", ".join(type_name(m) for m in sent)
                if not ok:
                    out.append(
                        f"{e.describe()}: {s!r} sends {shown} but {t!r} accepts "
                        f"{', '.join(type_name(a) for a in accepted)}; add a handler for the "
                        f"sent type or convert in between"
                    )
        return out

    # ---------------------------------------------------------------- display
    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from ._display import builder_mimebundle

        return builder_mimebundle(self)
