"""Type-tagged JSON codec for checkpoints, events and anything stored or sent.

This module is public: the agent, LLM and NATS layers (and user code that stores
its own data) import ``agentic_nb.workflow.codec`` rather than engine internals.

Never pickle: only JSON comes in and out. Values that JSON cannot express are
written as ``{"__t": tag, ...}`` objects. Dataclasses and pydantic models must be
registered (``register_checkpoint_type``) so that loading data can only ever build
classes this process chose to allow; ``WorkflowEvent`` subclasses are allowed
automatically. Unknown types fail at save time with the path to the value.

Example::

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Point:
    ...     x: int
    ...     y: int
    >>> _ = register_checkpoint_type(Point)
    >>> decode(encode({"p": Point(1, 2), "t": (1, 2)}))
    {'p': Point(x=1, y=2), 't': (1, 2)}
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import json
import math
import uuid
from decimal import Decimal
from pathlib import PurePath, PurePosixPath
from typing import Any, TypeVar

from ._events import WorkflowEvent

T = TypeVar("T", bound=type)

TAG = "__t"
_REGISTRY: dict[str, type] = {}


class CodecError(TypeError):
    """A value cannot be encoded to, or decoded from, agentic_nb's JSON format."""


def type_key(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def register_checkpoint_type(cls: T, *, name: str | None = None) -> T:
    """Allow a dataclass, pydantic model, Enum, or subclass of ``str``/``int``/``float``
    to be saved and loaded (usable as decorator).

    An unregistered subclass of ``str``, ``int`` or ``float`` is stored as its base type
    (and comes back as one); a registered one comes back as itself.

    Example::

        >>> import enum
        >>> @register_checkpoint_type
        ... class Color(enum.Enum):
        ...     RED = "red"
        >>> decode(encode(Color.RED))
        <Color.RED: 'red'>
    """
    if not isinstance(cls, type):
        raise CodecError(f"register_checkpoint_type expects a class, got {cls!r}")
    ok = (
        dataclasses.is_dataclass(cls)
        or hasattr(cls, "model_validate")
        or issubclass(cls, enum.Enum)
        or (issubclass(cls, (str, int, float)) and not issubclass(cls, bool))
    )
    if not ok:
        raise CodecError(
            f"{cls.__qualname__} is not a dataclass, pydantic model, Enum or subclass of "
            f"str/int/float; convert it to one of those (or to plain JSON data) before storing it"
        )
    _REGISTRY[name or type_key(cls)] = cls
    return cls


def is_registered(cls: type) -> bool:
    return _REGISTRY.get(type_key(cls)) is cls or (
        isinstance(cls, type) and issubclass(cls, WorkflowEvent)
    )


def narrowed(value: Any) -> type | None:
    """The builtin type ``value`` would come back as, when that is not its own type.

    Only for unregistered subclasses of ``str``, ``int`` and ``float`` (the codec stores
    them as their base type); ``None`` when ``value`` round-trips with its type.

    Example::

        >>> class Name(str): ...
        >>> narrowed(Name("ada")), narrowed("ada")
        (<class 'str'>, None)
        >>> _ = register_checkpoint_type(Name)
        >>> narrowed(Name("ada")), type(decode(encode(Name("ada")))).__name__
        (None, 'Name')
    """
    t = type(value)
    if t is str or t is int or t is float or isinstance(value, (enum.Enum, bool)):
        return None
    if isinstance(value, (str, int, float)) and not is_registered(t):
        base: type = t.__mro__[-2]
        return base
    return None


def encode(value: Any) -> Any:
    """Turn ``value`` into JSON-compatible data (raises :class:`CodecError` naming the path)."""
    return _enc(value, "$")


def dumps(value: Any) -> str:
    """``json.dumps(encode(value))`` with compact separators."""
    return json.dumps(_enc(value, "$"), separators=(",", ":"), allow_nan=False)


def loads(text: str | bytes) -> Any:
    """Inverse of :func:`dumps`."""
    return decode(json.loads(text))


def _enc(v: Any, path: str) -> Any:
    if v is None or v is True or v is False:
        return v
    t = type(v)
    if t is str or t is int:
        return v
    if t is float:
        if math.isfinite(v):
            return v
        return {TAG: "float", "v": repr(v)}
    if t is list:
        return [_enc(x, f"{path}[{i}]") for i, x in enumerate(v)]
    if t is dict:
        if all(type(k) is str for k in v) and TAG not in v:
            return {k: _enc(x, f"{path}.{k}") for k, x in v.items()}
        return {
            TAG: "dict",
            "v": [[_enc(k, f"{path}<key>"), _enc(x, f"{path}[{k!r}]")] for k, x in v.items()],
        }
    if t is tuple:
        return {TAG: "tuple", "v": [_enc(x, f"{path}[{i}]") for i, x in enumerate(v)]}
    if t is set or t is frozenset:
        items = sorted((_enc(x, f"{path}{{}}") for x in v), key=lambda e: json.dumps(e))
        return {TAG: t.__name__, "v": items}
    if t is bytes:
        return {TAG: "bytes", "v": base64.b64encode(v).decode()}
    if t is dt.datetime:
        return {TAG: "datetime", "v": v.isoformat()}
    if t is dt.date:
        return {TAG: "date", "v": v.isoformat()}
    if t is dt.time:
        return {TAG: "time", "v": v.isoformat()}
    if t is dt.timedelta:
        return {TAG: "timedelta", "v": v.total_seconds()}
    if t is Decimal:
        return {TAG: "decimal", "v": str(v)}
    if t is uuid.UUID:
        return {TAG: "uuid", "v": str(v)}
    if isinstance(v, PurePath):
        return {TAG: "path", "v": v.as_posix()}
    if isinstance(v, enum.Enum):
        key = _allowed_key(t, path)
        return {TAG: "enum", "cls": key, "v": _enc(v.value, f"{path}.value")}
    if isinstance(v, WorkflowEvent):
        data = {f.name: _enc(getattr(v, f.name), f"{path}.{f.name}") for f in dataclasses.fields(v)}
        _REGISTRY.setdefault(type_key(t), t)
        return {TAG: "event", "cls": type_key(t), "v": data}
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        key = _allowed_key(t, path)
        data = {
            f.name: _enc(getattr(v, f.name), f"{path}.{f.name}")
            for f in dataclasses.fields(v)
            if f.init
        }
        return {TAG: "dc", "cls": key, "v": data}
    dump = getattr(v, "model_dump", None)
    if callable(dump):
        key = _allowed_key(t, path)
        return {TAG: "pyd", "cls": key, "v": dump(mode="json")}
    if isinstance(v, (str, int, float)):  # subclasses of builtins (not enums)
        base = t.__mro__[-2]
        plain = _enc(base(v) if base is not object else v, path)
        if _REGISTRY.get(type_key(t)) is t:
            return {TAG: "sub", "cls": type_key(t), "v": plain}
        return plain
    raise CodecError(
        f"cannot store a {t.__module__}.{t.__qualname__} at {path}: use JSON data, a "
        f"dataclass or pydantic model registered with register_checkpoint_type, or an Enum"
    )


def _allowed_key(t: type, path: str) -> str:
    key = type_key(t)
    if _REGISTRY.get(key) is not t:
        # Look for an alias registration of the same class.
        for k, c in _REGISTRY.items():
            if c is t:
                return k
        raise CodecError(
            f"type {t.__qualname__} at {path} is not registered: call "
            f"agentic_nb.workflow.register_checkpoint_type({t.__qualname__}) once at import time"
        )
    return key


def decode(data: Any) -> Any:
    """Inverse of :func:`encode`; only registered classes are ever instantiated."""
    if type(data) is list:
        return [decode(x) for x in data]
    if type(data) is not dict:
        return data
    tag = data.get(TAG)
    if tag is None:
        return {k: decode(x) for k, x in data.items()}
    v: Any = data.get("v")
    if tag == "tuple":
        return tuple(decode(x) for x in v)
    if tag == "dict":
        return {_hashable(decode(k)): decode(x) for k, x in v}
    if tag == "set":
        return {_hashable(decode(x)) for x in v}
    if tag == "frozenset":
        return frozenset(_hashable(decode(x)) for x in v)
    if tag == "float":
        return float(v)
    if tag == "bytes":
        return base64.b64decode(v)
    if tag == "datetime":
        return dt.datetime.fromisoformat(v)
    if tag == "date":
        return dt.date.fromisoformat(v)
    if tag == "time":
        return dt.time.fromisoformat(v)
    if tag == "timedelta":
        return dt.timedelta(seconds=v)
    if tag == "decimal":
        return Decimal(v)
    if tag == "uuid":
        return uuid.UUID(v)
    if tag == "path":
        return PurePosixPath(v)
    if tag not in ("enum", "dc", "event", "pyd", "sub"):
        raise CodecError(f"unknown codec tag {tag!r}; was this data written by a newer agentic_nb?")
    cls = _lookup(data.get("cls", ""), tag)
    if tag == "enum" or tag == "sub":
        return cls(decode(v))
    if tag in ("dc", "event"):
        fields = {k: decode(x) for k, x in v.items()}
        try:
            if tag == "event":
                init = {f.name for f in dataclasses.fields(cls) if f.init}
                obj = cls(**{k: x for k, x in fields.items() if k in init})
                for k, x in fields.items():
                    if k not in init:
                        setattr(obj, k, x)
                return obj
            return cls(**fields)
        except TypeError as exc:
            raise CodecError(
                f"stored {cls.__qualname__} has fields {sorted(fields)} that do not fit the class "
                f"defined now ({exc}); the class changed since the data was written"
            ) from exc
    if tag == "pyd":
        try:
            return cls.model_validate(v)  # type: ignore[attr-defined]
        except Exception as exc:
            raise CodecError(
                f"stored {cls.__qualname__} no longer validates against the model defined now: "
                f"{exc}"
            ) from exc
    raise AssertionError("unreachable")  # pragma: no cover


def _hashable(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    return v


def _lookup(key: str, tag: str) -> type:
    cls = _REGISTRY.get(key)
    if cls is None and tag == "event":
        cls = _event_class(key)
    if cls is None:
        raise CodecError(
            f"stored data contains type {key!r}, which is not registered in this process: "
            f"import the module that defines it and call register_checkpoint_type on it "
            f"before loading"
        )
    return cls


def _event_class(key: str) -> type | None:
    """Find a WorkflowEvent subclass by key among classes already defined (never imports)."""
    todo: list[type] = [WorkflowEvent]
    while todo:
        c = todo.pop()
        if type_key(c) == key:
            _REGISTRY[key] = c
            return c
        todo.extend(c.__subclasses__())
    return None
