"""Runtime type matching for handler dispatch and edge compatibility checks.

A handler's first parameter annotation decides which messages it accepts. Plain
classes are checked with ``isinstance``; ``Any``/``object`` accept everything;
``Union``/``X | Y`` accept any member; ``list[T]``/``tuple[T, ...]``/``dict[K, V]``
check the container and then each element; ``Literal[...]`` checks the value.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union, get_args, get_origin

Matcher = Callable[[object], bool]

_ANY_TYPES: tuple[object, ...] = (Any, object)


def _accept_all(_value: object) -> bool:
    return True


def is_any(tp: object) -> bool:
    """True when ``tp`` accepts every value (``Any``, ``object`` or a bare ``TypeVar``)."""
    return tp in _ANY_TYPES or isinstance(tp, typing.TypeVar)


def type_name(tp: object) -> str:
    """A short readable name for a type or annotation (``list[str]``, ``Order | None``).

    Example::

        >>> type_name(dict[str, list[int]] | None)
        'dict[str, list[int]] | None'
    """
    if tp is None or tp is type(None):
        return "None"
    if tp is Any:
        return "Any"
    if tp is Ellipsis:
        return "..."
    origin = get_origin(tp)
    if origin is None:
        if isinstance(tp, type):
            return tp.__qualname__
        return repr(tp).replace("typing.", "")
    args = get_args(tp)
    if origin is Union or origin is types.UnionType:
        return " | ".join(type_name(a) for a in args)
    if origin is Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin is typing.Annotated:
        return type_name(args[0])
    base = getattr(origin, "__qualname__", None) or repr(origin).replace("typing.", "")
    return f"{base}[{', '.join(type_name(a) for a in args)}]" if args else base


def matcher_for(tp: object) -> Matcher:
    """Build a predicate ``value -> bool`` telling whether ``value`` is of type ``tp``."""
    if is_any(tp):
        return _accept_all
    if tp is None or tp is type(None):
        return lambda v: v is None
    origin = get_origin(tp)
    if origin is None:
        if isinstance(tp, type):
            cls = tp
            return lambda v: isinstance(v, cls)
        if isinstance(tp, typing.NewType):
            return matcher_for(tp.__supertype__)
        raise TypeError(f"cannot dispatch on annotation {tp!r}: use a class, a union or list[...]")
    args = get_args(tp)
    if origin is Union or origin is types.UnionType:
        members = [matcher_for(a) for a in args]
        return lambda v: any(m(v) for m in members)
    if origin is Literal:
        allowed = args
        return lambda v: any(v == a and type(v) is type(a) for a in allowed)
    if origin is typing.Annotated:
        return matcher_for(args[0])
    if origin in (list, set, frozenset) or origin is typing.Sequence:
        container: Any = origin if isinstance(origin, type) else list
        item = matcher_for(args[0]) if args else _accept_all
        return lambda v: isinstance(v, container) and all(item(x) for x in v)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = matcher_for(args[0])
            return lambda v: isinstance(v, tuple) and all(item(x) for x in v)
        items = [matcher_for(a) for a in args]
        return lambda v: (
            isinstance(v, tuple) and len(v) == len(items) and all(m(x) for m, x in zip(items, v))
        )
    if origin is dict:
        key = matcher_for(args[0]) if args else _accept_all
        val = matcher_for(args[1]) if args else _accept_all
        return lambda v: isinstance(v, dict) and all(key(k) and val(x) for k, x in v.items())
    if isinstance(origin, type):
        return lambda v: isinstance(v, origin)
    raise TypeError(f"cannot dispatch on annotation {tp!r}: use a class, a union or list[...]")


def is_plain_class(tp: object) -> bool:
    """True when dispatch on ``tp`` depends only on ``type(value)`` (cacheable)."""
    if is_any(tp):
        return True
    return isinstance(tp, type) and get_origin(tp) is None


def is_plain_container(tp: object) -> bool:
    """True for ``list[C]``-like annotations whose check depends only on the items' types."""
    if is_plain_class(tp):
        return True
    origin = get_origin(tp)
    if origin in (list, set, frozenset) or origin is typing.Sequence:
        args = get_args(tp)
        return not args or is_plain_class(args[0])
    return False


def union_members(tp: object) -> tuple[object, ...]:
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        out: list[object] = []
        for a in get_args(tp):
            out.extend(union_members(a))
        return tuple(out)
    if origin is typing.Annotated:
        return union_members(get_args(tp)[0])
    return (tp,)


def could_flow(sent: object, accepted: object) -> bool:
    """Could a value statically typed ``sent`` be accepted by a handler typed ``accepted``?

    Conservative: answers ``True`` whenever it cannot prove incompatibility, so the
    builder only rejects edges that can never carry anything.
    """
    if is_any(sent) or is_any(accepted):
        return True
    for s in union_members(sent):
        for a in union_members(accepted):
            if _member_could_flow(s, a):
                return True
    return False


def _member_could_flow(s: object, a: object) -> bool:
    if is_any(s) or is_any(a):
        return True
    if s is None or s is type(None):
        return a is None or a is type(None)
    s_origin, a_origin = get_origin(s) or s, get_origin(a) or a
    if get_origin(s) is Literal:
        return any(matcher_for(a)(v) for v in get_args(s))
    if get_origin(a) is Literal:
        return _member_could_flow(s, type(get_args(a)[0]))
    if not isinstance(s_origin, type) or not isinstance(a_origin, type):
        return True
    # A value of class S can pass isinstance(A) when S <= A, or when a subclass
    # of S could also subclass A (S >= A).
    if not (issubclass(s_origin, a_origin) or issubclass(a_origin, s_origin)):
        return False
    s_args, a_args = get_args(s), get_args(a)
    if s_args and a_args and len(s_args) == len(a_args):
        return all(could_flow(x, y) for x, y in zip(s_args, a_args) if x is not Ellipsis)
    return True
