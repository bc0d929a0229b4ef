"""Executors: the nodes of a workflow graph, with typed handlers."""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar, get_args, get_origin, overload

from ._typing import Matcher, is_any, is_plain_class, matcher_for, type_name

F = TypeVar("F", bound=Callable[..., Any])

_HANDLER_MARK = "__agentic_handler__"


class ExecutorKind(StrEnum):
    """What an executor is for: it changes how it is drawn, never how it runs.

    Example::

        >>> ExecutorKind.VALIDATOR.value
        'validator'
    """

    WORKER = "worker"
    VALIDATOR = "validator"
    ORCHESTRATOR = "orchestrator"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to re-run a failing handler.

    ``max_attempts`` counts the first try; the n-th retry waits
    ``min(backoff * multiplier**(n-1), max_backoff)`` seconds. Only exceptions
    that are instances of ``retry_on`` are retried.

    Example::

        >>> RetryPolicy(max_attempts=3, backoff=0.1).delay(2)
        0.2
    """

    max_attempts: int = 1
    backoff: float = 0.0
    multiplier: float = 2.0
    max_backoff: float = 30.0
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"RetryPolicy.max_attempts must be >= 1, got {self.max_attempts}")
        if self.backoff < 0:
            raise ValueError(f"RetryPolicy.backoff must be >= 0, got {self.backoff}")

    def delay(self, retry_number: int) -> float:
        """Seconds to wait before retry number ``retry_number`` (1-based)."""
        return min(self.backoff * self.multiplier ** (retry_number - 1), self.max_backoff)

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        return attempt < self.max_attempts and isinstance(error, self.retry_on)


NO_RETRY = RetryPolicy()


@dataclass(frozen=True)
class HandlerSpec:
    """One message handler of an executor, resolved from its annotations."""

    name: str
    func: Callable[..., Any]
    input_type: Any
    message_types: tuple[Any, ...]
    output_types: tuple[Any, ...]
    is_async: bool
    takes_ctx: bool
    matcher: Matcher = field(repr=False, compare=False)
    plain: bool = True
    bound: bool = True

    @property
    def input_name(self) -> str:
        return type_name(self.input_type)


def handler(func: F | None = None, *, input: Any = None, output: Any = None) -> Any:
    """Mark a method of an :class:`Executor` subclass as a message handler.

    The message type comes from the first parameter's annotation (or ``input=``);
    the types it sends come from ``WorkflowContext[M, O]`` on the second
    parameter (or ``output=``). Handlers may be ``async`` or plain functions.

    Example::

        >>> from agentic_nb import Executor, WorkflowContext, handler
        >>> class Upper(Executor):
        ...     @handler
        ...     async def run(self, text: str, ctx: WorkflowContext[str]) -> None:
        ...         await ctx.send_message(text.upper())
        >>> [h.input_name for h in Upper(id="u").handlers]
        ['str']
    """

    def mark(fn: F) -> F:
        setattr(fn, _HANDLER_MARK, {"input": input, "output": output})
        return fn

    if func is not None:
        return mark(func)
    return mark


_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


class Executor:
    """Base class of every workflow node.

    Subclass it and decorate methods with :func:`handler`. ``id`` must be unique
    in a workflow; it defaults to the snake-cased class name.

    Example::

        >>> from agentic_nb import Executor, ExecutorKind, WorkflowContext, handler
        >>> class Check(Executor):
        ...     kind = ExecutorKind.VALIDATOR
        ...     @handler
        ...     async def run(self, n: int, ctx: WorkflowContext[int]) -> None:
        ...         await ctx.send_message(n)
        >>> Check().id, Check().kind.value
        ('check', 'validator')
    """

    kind: ExecutorKind = ExecutorKind.WORKER
    _class_handlers: tuple[HandlerSpec, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        specs: dict[str, HandlerSpec] = {}
        for klass in reversed(cls.__mro__):
            for name, member in vars(klass).items():
                meta = getattr(member, _HANDLER_MARK, None)
                if meta is not None:
                    specs[name] = build_handler_spec(member, meta, bound=True, owner=cls)
                elif name in specs:
                    del specs[name]
        cls._class_handlers = tuple(specs.values())

    def __init__(
        self,
        id: str | None = None,
        *,
        kind: ExecutorKind | str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> None:
        self.id: str = id if id is not None else _SNAKE.sub("_", type(self).__name__).lower()
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"executor id must be a non-empty string, got {self.id!r}")
        if kind is not None:
            self.kind = ExecutorKind(kind)
        self.retry: RetryPolicy = retry or NO_RETRY
        #: False when no policy was given: the workflow's default ``retry`` then applies.
        self.retry_explicit = retry is not None
        if timeout is not None and timeout <= 0:
            raise ValueError(f"executor {self.id!r}: timeout must be > 0 seconds, got {timeout}")
        self.timeout: float | None = timeout
        self._dispatch: dict[type, HandlerSpec | None] = {}

    @property
    def handlers(self) -> tuple[HandlerSpec, ...]:
        """The handlers of this executor, in definition order."""
        return self._class_handlers

    @property
    def input_types(self) -> tuple[Any, ...]:
        return tuple(h.input_type for h in self.handlers)

    @property
    def message_types(self) -> tuple[Any, ...]:
        """Types this executor declares it sends (empty tuple: not declared)."""
        out: list[Any] = []
        for h in self.handlers:
            out.extend(h.message_types)
        return tuple(out)

    @property
    def output_types(self) -> tuple[Any, ...]:
        out: list[Any] = []
        for h in self.handlers:
            out.extend(h.output_types)
        return tuple(out)

    def find_handler(self, message: object) -> HandlerSpec | None:
        """The first handler whose input type accepts ``message`` (``None`` if none)."""
        cls = type(message)
        try:
            return self._dispatch[cls]
        except KeyError:
            pass
        found: HandlerSpec | None = None
        for spec in self.handlers:
            if spec.matcher(message):
                found = spec
                break
        if found is None or found.plain:
            # Safe to cache: the answer depends only on type(message) when every
            # handler tried before the match is a plain class.
            if all(h.plain for h in self.handlers):
                self._dispatch[cls] = found
        return found

    def can_handle(self, message: object) -> bool:
        return self.find_handler(message) is not None

    # Checkpoint hooks (used by durable runs); override to save executor-local state.
    def on_checkpoint_save(self) -> dict[str, Any] | None:
        """Return JSON-friendly executor state to store in each checkpoint.

        An executor that overrides this keeps per-run state: every run works on a copy
        of it (``run.executor(id)``) that starts from this instance's state.
        """
        return None

    def on_checkpoint_restore(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`on_checkpoint_save` returned."""

    def describe(self) -> str:
        ins = ", ".join(h.input_name for h in self.handlers) or "nothing"
        return f"{type(self).__name__}(id={self.id!r}, kind={self.kind.value}, accepts {ins})"

    def __repr__(self) -> str:
        return self.describe()


class FunctionExecutor(Executor):
    """An executor made from one function by :func:`executor`."""

    def __init__(
        self,
        func: Callable[..., Any],
        id: str | None = None,
        *,
        kind: ExecutorKind | str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        input: Any = None,
        output: Any = None,
    ) -> None:
        super().__init__(
            id if id is not None else func.__name__, kind=kind, retry=retry, timeout=timeout
        )
        self.func = func
        self._handlers = (
            build_handler_spec(func, {"input": input, "output": output}, bound=False, owner=None),
        )

    @property
    def handlers(self) -> tuple[HandlerSpec, ...]:
        return self._handlers


@overload
def executor(func: Callable[..., Any], /) -> FunctionExecutor: ...
@overload
def executor(
    *,
    id: str | None = None,
    kind: ExecutorKind | str | None = None,
    retry: RetryPolicy | None = None,
    timeout: float | None = None,
    input: Any = None,
    output: Any = None,
) -> Callable[[Callable[..., Any]], FunctionExecutor]: ...
def executor(
    func: Callable[..., Any] | None = None,
    /,
    *,
    id: str | None = None,
    kind: ExecutorKind | str | None = None,
    retry: RetryPolicy | None = None,
    timeout: float | None = None,
    input: Any = None,
    output: Any = None,
) -> FunctionExecutor | Callable[[Callable[..., Any]], FunctionExecutor]:
    """Turn a function ``(message, ctx) -> None`` into an executor (sync or async).

    Example::

        >>> from agentic_nb import WorkflowContext, executor
        >>> @executor(id="reverse")
        ... def reverse(text: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output(text[::-1])
        >>> reverse.id
        'reverse'
    """

    def wrap(fn: Callable[..., Any]) -> FunctionExecutor:
        return FunctionExecutor(
            fn, id, kind=kind, retry=retry, timeout=timeout, input=input, output=output
        )

    if func is not None:
        return wrap(func)
    return wrap


def build_handler_spec(
    func: Callable[..., Any], meta: dict[str, Any], *, bound: bool, owner: type | None
) -> HandlerSpec:
    from ._context import WorkflowContext

    where = f"{owner.__qualname__}.{func.__name__}" if owner else getattr(func, "__qualname__", "?")
    target = func
    while isinstance(target, (staticmethod, classmethod)):
        target = target.__func__
    sig = inspect.signature(target)
    params = list(sig.parameters.values())
    if bound:
        params = params[1:]
    if not params:
        raise TypeError(
            f"handler {where} takes no message parameter: define it as "
            f"(self, message: T, ctx: WorkflowContext[...])"
        )
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception as exc:  # unresolvable forward references
        if meta.get("input") is None:
            raise TypeError(
                f"cannot resolve the annotations of handler {where} ({exc}); "
                f"pass the type explicitly: @handler(input=T)"
            ) from exc
        hints = {}
    input_type = meta.get("input")
    if input_type is None:
        input_type = hints.get(params[0].name, Any)
    takes_ctx = len(params) >= 2
    message_types: tuple[Any, ...] = ()
    output_types: tuple[Any, ...] = ()
    if takes_ctx:
        ctx_hint = hints.get(params[1].name)
        origin = get_origin(ctx_hint) or ctx_hint
        if isinstance(origin, type) and issubclass(origin, WorkflowContext):
            args = get_args(ctx_hint)
            if args:
                message_types = _flatten(args[0])
            if len(args) > 1:
                output_types = _flatten(args[1])
    if meta.get("output") is not None:
        message_types = _flatten(meta["output"])
    matcher = matcher_for(input_type)
    return HandlerSpec(
        name=getattr(func, "__name__", "handler"),
        func=func,
        input_type=input_type,
        message_types=message_types,
        output_types=output_types,
        is_async=inspect.iscoroutinefunction(target),
        takes_ctx=takes_ctx,
        matcher=matcher,
        plain=is_plain_class(input_type),
        bound=bound,
    )


def _flatten(tp: Any) -> tuple[Any, ...]:
    """``WorkflowContext[A | B]`` -> (A, B); ``None``/``Never`` -> () (sends nothing)."""
    if tp is None or tp is type(None) or tp is typing.Never or tp is typing.NoReturn:
        return ()
    if is_any(tp):
        return (Any,)
    from ._typing import union_members

    return tuple(m for m in union_members(tp) if m is not None and m is not type(None))
