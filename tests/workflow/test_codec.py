"""The type-tagged JSON codec (agentic_nb.workflow.codec): round trips, allow-list of
classes, errors naming the path at save time, unregistered classes refused at load
time, and never pickle."""

from __future__ import annotations

import ast
import datetime as dt
import enum
import json
import math
import pickle
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

import pydantic
import pytest

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.workflow import CodecError, MessageSent, register_checkpoint_type
from agentic_nb.workflow.codec import decode, dumps, encode, loads

ENGINE_DIR = Path(__file__).resolve().parents[2] / "agentic_nb" / "workflow"


@register_checkpoint_type
@dataclass
class Point:
    x: int
    y: int


@register_checkpoint_type
@dataclass
class Shape:
    name: str
    points: list[Point] = field(default_factory=list)
    tags: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)


@register_checkpoint_type
class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@register_checkpoint_type
class Order(pydantic.BaseModel):
    id: int
    items: list[str]
    when: dt.datetime


@dataclass
class NotRegistered:
    value: int


class PlainClass:
    pass


class Mood(enum.Enum):
    HAPPY = 1


def roundtrip(value: Any) -> Any:
    text = dumps(value)
    assert isinstance(text, str)
    json.loads(text)  # strictly JSON (no NaN/Infinity literals)
    assert "NaN" not in text and "Infinity" not in text
    back = loads(text)
    assert decode(encode(value)) == back or _nan_equal(back, value)
    return back


def _nan_equal(a: Any, b: Any) -> bool:
    return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(2**70),
        1.5,
        "text ✓",
        [1, "a", None, [2.5]],
        {"a": {"b": [1, 2]}},
        (1, "two", (3,)),
        {1, 2, 3},
        frozenset({"a", "b"}),
        {1: "int key", (2, 3): "tuple key"},
        {"__t": "looks like a tag", "v": 1},
        b"\x00\xffbytes",
        dt.datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=dt.UTC),
        dt.date(2026, 1, 2),
        dt.time(12, 30, 1),
        dt.timedelta(days=1, seconds=3.5),
        Decimal("1.10"),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        PurePosixPath("/tmp/a/b.txt"),
        float("inf"),
        float("-inf"),
    ],
    ids=repr,
)
def test_builtin_values_round_trip_with_their_types(value: Any) -> None:
    back = roundtrip(value)
    assert back == value
    assert type(back) is type(value)


def test_nan_round_trips() -> None:
    back = loads(dumps(float("nan")))
    assert isinstance(back, float) and math.isnan(back)


def test_registered_dataclasses_enums_and_pydantic_models_round_trip() -> None:
    shape = Shape("tri", [Point(0, 0), Point(1, 2)], ("a", "b"), {"color": Color.RED})
    assert roundtrip(shape) == shape
    back = loads(dumps(shape))
    assert isinstance(back.points[1], Point) and isinstance(back.tags, tuple)
    assert back.meta["color"] is Color.RED
    order = Order(id=3, items=["x"], when=dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    back_order = loads(dumps({"order": order}))["order"]
    assert isinstance(back_order, Order) and back_order == order


def test_alias_registration() -> None:
    @dataclass
    class Versioned:
        n: int

    register_checkpoint_type(Versioned, name="stable.name:Versioned")
    text = dumps(Versioned(1))
    assert "stable.name:Versioned" in text
    assert loads(text) == Versioned(1)


def test_events_round_trip_with_their_envelope() -> None:
    ev = MessageSent(source_id="a", target_id="b", edge="a->b", payload_type="int", payload=3)
    ev.run_id, ev.seq, ev.ts, ev.superstep, ev.executor_id = "r1", 7, 123.5, 2, "a"
    back = loads(dumps(ev))
    assert isinstance(back, MessageSent)
    assert back.to_record() == ev.to_record()


async def test_every_event_of_a_real_run_round_trips() -> None:
    @executor(id="a")
    async def a(n: int, ctx: WorkflowContext[Point, str]) -> None:
        await ctx.log("info", "hi")
        await ctx.yield_output("out")
        await ctx.send_message(Point(n, n))

    @executor(id="b")
    async def b(p: Point, ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(p.x + p.y)

    result = await WorkflowBuilder(start=a).add_edge(a, b).build().run(2)
    for ev in result.events:
        back = loads(dumps(ev))
        assert type(back) is type(ev)
        assert back.to_record() == ev.to_record()


def test_unknown_type_is_rejected_at_save_time_with_its_path() -> None:
    with pytest.raises(CodecError) as err:
        dumps({"a": [1, {"b": PlainClass()}]})
    assert "$.a[1].b" in str(err.value) and "PlainClass" in str(err.value)


def test_unregistered_dataclass_is_rejected_at_save_time_with_its_path() -> None:
    with pytest.raises(CodecError) as err:
        encode({"state": {"k": [NotRegistered(1)]}})
    text = str(err.value)
    assert "NotRegistered" in text and "$.state.k[0]" in text
    assert "register_checkpoint_type" in text


def test_unregistered_enum_is_rejected_at_save_time() -> None:
    with pytest.raises(CodecError, match="Mood"):
        dumps([Mood.HAPPY])


def test_functions_and_objects_are_rejected_not_stringified() -> None:
    for bad in (lambda: 1, object(), print, {"f": open}):
        with pytest.raises(CodecError):
            dumps(bad)


def test_register_refuses_classes_it_cannot_store() -> None:
    with pytest.raises(CodecError, match="PlainClass"):
        register_checkpoint_type(PlainClass)
    with pytest.raises(CodecError):
        register_checkpoint_type(Point(1, 2))  # type: ignore[type-var]


@pytest.mark.parametrize("tag", ["dc", "enum", "pyd", "event"])
def test_unregistered_class_on_load_is_refused(tag: str) -> None:
    data = json.dumps({"__t": tag, "cls": "tests.nowhere:Ghost", "v": {}})
    with pytest.raises(CodecError) as err:
        loads(data)
    assert "tests.nowhere:Ghost" in str(err.value)


@pytest.mark.parametrize("key", ["subprocess:Popen", "os:system", "builtins:eval", "pathlib:Path"])
def test_importable_but_unregistered_classes_are_never_built(key: str) -> None:
    for tag in ("dc", "event", "pyd"):
        data = json.dumps({"__t": tag, "cls": key, "v": {"args": ["echo", "pwned"]}})
        with pytest.raises(CodecError):
            loads(data)


def test_unknown_tag_is_refused() -> None:
    with pytest.raises(CodecError, match="weird"):
        loads(json.dumps({"__t": "weird", "v": 1}))


def test_stored_dataclass_with_an_unexpected_field_is_a_codec_error() -> None:
    """Data written by another version of a class fails as a CodecError naming the class."""
    text = dumps(Point(1, 2))
    assert loads(text) == Point(1, 2)
    data = json.loads(text)
    data["v"]["z"] = 3
    with pytest.raises(CodecError) as err:
        loads(json.dumps(data))
    assert "Point" in str(err.value)


def test_loads_never_unpickles() -> None:
    payload = pickle.dumps(Point(1, 2))
    with pytest.raises((ValueError, UnicodeDecodeError)):
        loads(payload)


def test_engine_modules_never_import_pickle_or_friends() -> None:
    forbidden = {"pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve", "jsonpickle"}
    offenders = []
    for path in sorted(ENGINE_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id == "__import__":
                    names = [
                        a.value
                        for a in node.args
                        if isinstance(a, ast.Constant) and isinstance(a.value, str)
                    ]
            line = getattr(node, "lineno", 0)
            offenders += [f"{path.name}:{line} {n}" for n in names if n in forbidden]
    assert offenders == []
