"""@tool: JSON schema from annotations and docstrings, validation, sync/async calls."""

from __future__ import annotations

import asyncio
import threading
from typing import Literal

import pytest
from pydantic import BaseModel

from agentic_nb.agents import FunctionTool, ToolArgumentsError, ToolDefinitionError, tool


class Point(BaseModel):
    x: float
    y: float


@tool
def place(
    name: str, at: Point, tags: list[str] | None = None, mode: Literal["a", "b"] = "a"
) -> str:
    """Place a named marker on the map.

    It can span lines.

    Args:
        name: label of the marker
        at: where to put it,
            in map units
        tags: optional tags
    """
    return f"{name}@{at.x},{at.y}:{mode}:{tags}"


def test_schema_from_annotations_and_google_docstring() -> None:
    s = place.parameters
    assert place.description == "Place a named marker on the map."
    assert s["type"] == "object" and s["required"] == ["name", "at"]
    assert s["properties"]["name"] == {"type": "string", "description": "label of the marker"}
    assert s["properties"]["at"]["description"] == "where to put it, in map units"
    assert s["properties"]["mode"]["enum"] == ["a", "b"]
    assert s["additionalProperties"] is False
    # The nested model's schema is referenced, with no generated titles left over.
    assert "title" not in str(s)
    assert "$defs" in s and s["$defs"]["Point"]["required"] == ["x", "y"]


def test_sphinx_docstring_and_overrides() -> None:
    @tool(name="get-weather", description="Weather now.")
    async def weather(city: str, days: int = 1) -> str:
        """Ignored summary.

        :param city: the city name
        :param int days: how many days
        """
        return city

    assert weather.name == "get-weather" and weather.description == "Weather now."
    props = weather.parameters["properties"]
    assert props["city"]["description"] == "the city name"
    assert props["days"] == {"type": "integer", "default": 1, "description": "how many days"}


async def test_invoke_validates_and_converts_arguments() -> None:
    out = await place.invoke({"name": "home", "at": {"x": 1, "y": 2.5}, "mode": "b"})
    assert out == "home@1.0,2.5:b:None"


@pytest.mark.parametrize(
    "args, needle",
    [
        ({"name": "x"}, "at: Field required"),
        ({"name": "x", "at": {"x": "north", "y": 1}}, "at.x"),
        ({"name": "x", "at": {"x": 1, "y": 1}, "mode": "z"}, "mode"),
        (
            {"name": "x", "at": {"x": 1, "y": 1}, "extra": 1},
            "extra: Extra inputs are not permitted",
        ),
    ],
)
async def test_invalid_arguments_name_the_problem(args: dict, needle: str) -> None:
    with pytest.raises(ToolArgumentsError) as info:
        await place.invoke(args)
    assert needle in str(info.value) and "'place'" in str(info.value)


async def test_sync_tools_run_off_the_event_loop() -> None:
    seen: list[str] = []

    @tool
    def where() -> str:
        """Which thread runs me."""
        seen.append(threading.current_thread().name)
        return "ok"

    assert await where.invoke({}) == "ok"
    assert seen and seen[0] != threading.main_thread().name
    assert asyncio.get_running_loop()


def test_bad_definitions_are_rejected_clearly() -> None:
    def star(*items: int) -> int:
        return 0

    with pytest.raises(ToolDefinitionError, match=r"\*items"):
        tool(star)
    with pytest.raises(ToolDefinitionError, match="not valid for model APIs"):
        FunctionTool(lambda: 1, name="has space")
    with pytest.raises(ToolDefinitionError):
        FunctionTool(lambda: 1)  # '<lambda>' is no valid tool name


def test_tool_remains_callable_directly() -> None:
    assert place("a", Point(x=0, y=0)) == "a@0.0,0.0:a:None"
